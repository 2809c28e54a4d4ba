import { Piscina } from 'piscina';
import { scanForConsumeQueues, type RebuildResult, type RebuildTask } from './consume_queue_rebuild.js';

/**
 * The ConsumeQueue rebuild scan as a Piscina task module, run with
 * `CpuPool.run(rebuild_task_module, task)`: the pool thread maps the CommitLog segment itself
 * (a mapping cannot cross threads) and sends back the result with its packed entries
 * transferred, not copied.
 */
export default function runConsumeQueueRebuildTask(task: RebuildTask): RebuildResult {
  const result = scanForConsumeQueues(task);
  // Piscina.move marks the result so that the pool moves `entries` (the one large buffer)
  // in the reply's transfer list; the pool hands the caller the plain result.
  // (Piscina's types name its symbols as unique symbols that its getters do not expose.)
  const movable = { [Piscina.transferableSymbol]: result.entries, [Piscina.valueSymbol]: result } as unknown as Parameters<typeof Piscina.move>[0];
  return Piscina.move(movable) as unknown as RebuildResult;
}
