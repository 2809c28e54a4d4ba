import t from 'tap';
import { AssignedQueue } from '../../src/client/consumer/assigned_queue.js';
import { ConsumerEvents } from '../../src/client/consumer/consumer_events.js';
import { resolveConsumerOptions } from '../../src/client/consumer/consumer_options.js';
import { ListenerDispatcher } from '../../src/client/consumer/listener_dispatcher.js';
import type { OffsetStore } from '../../src/client/consumer/offset_store.js';
import { tagCheckOf } from '../../src/client/consumer/tag_check.js';
import type { ReceivedMessage } from '../../src/client/message.js';

/** The dispatcher without a network: the concurrency bound, round-robin between queues, orderly one-at-a-time. */

const unused_offsets: OffsetStore = {
  open: async () => undefined, read: async () => -1, update: () => undefined, persist: async () => [], forget: () => undefined, close: async () => undefined,
};

function queuesWith(count: number, per_queue: number, orderly: boolean, dispatcher: () => ListenerDispatcher): AssignedQueue[] {
  const options = resolveConsumerOptions({ namesrv: '127.0.0.1:1', group: 'G', subscriptions: [{ topic: 'T' }], orderly, logger: { warn: () => undefined } });
  const context = {
    options,
    link: { request: () => Promise.reject(new Error('no network in this test')) },
    offsets: unused_offsets,
    events: new ConsumerEvents(),
    ready: (queue: AssignedQueue) => dispatcher().notify(queue),
    brokerFailed: () => undefined,
  };
  return Array.from({ length: count }, (_, queueId) => {
    const queue = new AssignedQueue({ topic: 'T', brokerName: 'b', queueId }, tagCheckOf('*'), context);
    for (let offset = 0; offset < per_queue; offset++) {
      queue.buffer.push({ message: { queueId, queueOffset: offset, reconsumeTimes: 0 } as ReceivedMessage, bytes: 1, failures: 0 }, 1);
    }
    return queue;
  });
}

async function drain(calls: () => number, expected: number): Promise<void> {
  for (let spins = 0; calls() < expected && spins < 10_000; spins++) await new Promise((resolve) => setImmediate(resolve));
}

t.test('at most `concurrency` calls at once, queues served round-robin, each queue in offset order', async (t) => {
  const order: string[] = [];
  let running = 0;
  let most = 0;
  const dispatcher = new ListenerDispatcher(2, async (message) => {
    order.push(`${message.queueId}:${message.queueOffset}`);
    most = Math.max(most, ++running);
    await new Promise((resolve) => setImmediate(resolve));
    running--;
  });
  const queues = queuesWith(3, 4, false, () => dispatcher);
  for (const queue of queues) dispatcher.notify(queue);
  await drain(() => order.length + (dispatcher.runningCount === 0 ? 1 : 0), 13);
  t.equal(order.length, 12);
  t.equal(most, 2, 'never more than 2 at once');
  for (let queue = 0; queue < 3; queue++) t.same(order.filter((entry) => entry.startsWith(`${queue}:`)), [0, 1, 2, 3].map((offset) => `${queue}:${offset}`), `queue ${queue} in order`);
  t.same(queues.map((queue) => queue.buffer.heldCount), [0, 0, 0], 'every message released from its buffer');
});

t.test('round-robin: a queue with more work goes to the back of the line', async (t) => {
  const order: string[] = [];
  const dispatcher = new ListenerDispatcher(1, async (message) => {
    order.push(`${message.queueId}:${message.queueOffset}`);
    await new Promise((resolve) => setImmediate(resolve));
  });
  for (const queue of queuesWith(3, 4, false, () => dispatcher)) dispatcher.notify(queue);
  await drain(() => order.length, 12);
  // Queue 0 was alone when it was notified and took the only slot; it was first in line again
  // when the slot freed. From then on the three take turns.
  t.same(order, ['0:0', '0:1', '1:0', '2:0', '0:2', '1:1', '2:1', '0:3', '1:2', '2:2', '1:3', '2:3']);
});

t.test('orderly: one call per queue at a time, even with room for more', async (t) => {
  const active = new Map<number, number>();
  let overlap = 0;
  let calls = 0;
  let most = 0;
  let running = 0;
  const dispatcher = new ListenerDispatcher(8, async (message) => {
    calls++;
    most = Math.max(most, ++running);
    active.set(message.queueId, (active.get(message.queueId) ?? 0) + 1);
    if ((active.get(message.queueId) ?? 0) > 1) overlap++;
    await new Promise((resolve) => setImmediate(resolve));
    active.set(message.queueId, (active.get(message.queueId) ?? 1) - 1);
    running--;
  });
  for (const queue of queuesWith(2, 5, true, () => dispatcher)) dispatcher.notify(queue);
  await drain(() => calls, 10);
  t.equal(calls, 10);
  t.equal(overlap, 0, 'never two of one queue');
  t.equal(most, 2, 'two queues: two at once at most');
});

t.test('a stopped dispatcher starts nothing new', async (t) => {
  let calls = 0;
  const dispatcher = new ListenerDispatcher(1, () => {
    calls++;
  });
  const [queue] = queuesWith(1, 3, false, () => dispatcher);
  dispatcher.stop();
  dispatcher.notify(queue as AssignedQueue);
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(calls, 0);
  t.throws(() => new ListenerDispatcher(0, () => undefined), /positive integer/);
});
