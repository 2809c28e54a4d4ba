import { pino } from 'pino';
import { ManualClock } from '../../../../src/runtime/clock.js';
import { PopEngine, type ReceiveRequest, type ReceivedMessage } from '../../../../src/server/grpc/pop/pop_engine.js';
import type { PopLimits } from '../../../../src/server/grpc/pop/pop_limits.js';
import { FakePopBroker, test_holder } from './fake_pop_broker.js';

export const silent_log = pino({ level: 'silent' });

export interface PopSetup {
  broker: FakePopBroker;
  clock: ManualClock;
  engine: PopEngine;
  receive(extra?: Partial<ReceiveRequest>): Promise<ReceivedMessage[]>;
}

/** An engine over a fake broker with topic `T` of `queues` queues, a manual clock (starting
 *  at a multiple of the wheel's tick) and a fixed handle key. */
export function popSetup(options: { queues?: number; limits?: Partial<PopLimits> } = {}): PopSetup {
  const broker = new FakePopBroker();
  broker.createTopic('T', options.queues ?? 4);
  const clock = new ManualClock(1_000_000);
  const engine = new PopEngine(broker, { clock, receipt_key: Buffer.alloc(32, 7), log: silent_log, ...(options.limits === undefined ? {} : { limits: options.limits }) });
  return {
    broker,
    clock,
    engine,
    receive: (extra = {}) => engine.receive({ group: 'G', topic: 'T', filter: '*', batch_size: 32, invisible_ms: 10_000, long_poll_ms: 0, holder: test_holder, ...extra }),
  };
}

/** Lets promise callbacks run (dead-letter appends, commit flushes). */
export async function settle(turns = 5): Promise<void> {
  for (let turn = 0; turn < turns; turn++) await new Promise((resolve) => setImmediate(resolve));
}

export function offsetsOf(messages: readonly ReceivedMessage[]): string[] {
  return messages.map((received) => `${received.message.queueId}:${received.message.queueOffset}`);
}
