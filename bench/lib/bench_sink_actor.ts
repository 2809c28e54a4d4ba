import { defineActor } from '../../src/runtime/actor.js';
import { bench_progress_block } from './runtime_bench_protocol.js';
import { bench_sink_protocol, type BenchSinkArgs, type BenchSinkMessage } from './bench_sink_messages.js';

/**
 * Counts what it receives into the bench's progress block. A wake-up is counted once per
 * event-loop turn that delivered messages (the first message after a setImmediate boundary),
 * which is what a batch of envelopes from another thread costs.
 */
export const actor = defineActor<BenchSinkMessage, number, BenchSinkArgs>({
  name: 'bench_sink',
  protocol: bench_sink_protocol,
  create(_context, args) {
    const progress = bench_progress_block.attach(args.progress);
    let received = 0;
    let in_turn = false;
    const endTurn = (): void => {
      in_turn = false;
      progress.store('messages_received', received);
    };
    return {
      receive(message) {
        if (!in_turn) {
          in_turn = true;
          progress.add('wakeups', 1);
          setImmediate(endTurn);
        }
        if (message.kind === 'data') received++;
        return received;
      },
    };
  },
});
