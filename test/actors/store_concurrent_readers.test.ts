import { Worker } from 'node:worker_threads';
import t from 'tap';
import { patternBody, tempDir } from '../storage/commit_log_helpers.js';
import { openStore, record, small_store } from './store_helpers.js';
import { lean_worker_exec_argv } from '../helpers/tap_hooks.js';

/** Sizes vary so records straddle pages and segments roll under the readers. */
const size_expression = '17 + ((index * 7919) % 3000)';
const sizeOf = new Function('index', `return ${size_expression};`) as (index: number) => number;

t.test('readers on other threads read while the writer appends: never a half-written record', async (t) => {
  const dir = tempDir(t);
  const { store } = await openStore(t, { data_dir: dir, ...small_store });
  const count = 20_000;
  const progress = new Int32Array(new SharedArrayBuffer(8));
  const readers = [0, 1].map((queue_id) => {
    const worker = new Worker(new URL('./fixtures/concurrent_reader_worker.js', import.meta.url), {
      workerData: { reader: store.args, topic: 'C', queue_id, count, deadline_ms: 60_000, sizeOf: size_expression, progress: progress.buffer, slot: queue_id },
      execArgv: [...lean_worker_exec_argv],
    });
    t.teardown(() => worker.terminate());
    return new Promise<{ read: number; mismatches: number; empty_polls: number; problem: string | null }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  });
  // Both queues get the same sequence of bodies, interleaved in the CommitLog. Every 100
  // batches the writer waits (bounded) until both readers have caught up, so reading at the
  // moving end of the log is what the readers do, however the machine schedules them.
  let catch_ups = 0;
  for (let start = 0; start < count; start += 40) {
    const batch = [];
    for (let index = start; index < start + 40; index++) {
      const body = patternBody(index, sizeOf(index));
      batch.push(record('C', 0, body), record('C', 1, body));
    }
    await store.append(batch);
    if ((start / 40) % 100 === 99) {
      const deadline = performance.now() + 20_000;
      const caughtUp = (): boolean => Math.min(Atomics.load(progress, 0), Atomics.load(progress, 1)) >= start + 40;
      while (!caughtUp() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2));
      if (caughtUp()) catch_ups++;
    }
  }
  t.equal(catch_ups, count / 4_000, 'the readers caught up with the writer at every pause, then it went on');
  const results = await Promise.all(readers);
  for (const [queue_id, result] of results.entries()) {
    t.equal(result.problem, null, `queue ${queue_id}: no read failed its checks`);
    t.equal(result.read, count, `queue ${queue_id}: every record read`);
    t.equal(result.mismatches, 0, `queue ${queue_id}: every record byte-equal, in order`);
  }
  t.ok(results.every((result) => result.empty_polls > 0), 'each reader reached the end of the log while the writer was still appending');
});
