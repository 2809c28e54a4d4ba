import fc from 'fast-check';
import t from 'tap';
import { ConsistentHashRing, ringHash } from '../../src/client/consumer/consistent_hash_ring.js';
import { messageQueueKey, type MessageQueue } from '../../src/client/consumer/message_queue.js';
import {
  allocateQueues,
  allocation_strategy_names,
  allocationStrategy,
} from '../../src/client/consumer/queue_allocation.js';

/** Queue allocation: each strategy's documented shape, and for all three that every queue gets exactly one member. */

function queues(per_broker: number, brokers: string[] = ['broker-a', 'broker-b'], topic = 'T'): MessageQueue[] {
  return brokers.flatMap((brokerName) => Array.from({ length: per_broker }, (_, queueId) => ({ topic, brokerName, queueId })));
}

function names(assigned: MessageQueue[]): string[] {
  return assigned.map((queue) => `${queue.brokerName.slice(-1)}${queue.queueId}`);
}

t.test('averagely: contiguous blocks in member order, the first members take the larger ones', async (t) => {
  const averagely = allocationStrategy('averagely');
  const members = ['c1', 'c2', 'c3'];
  const all = queues(4); // a0..a3 b0..b3
  t.same(names(allocateQueues(averagely, 'c1', members, all)), ['a0', 'a1', 'a2']);
  t.same(names(allocateQueues(averagely, 'c2', members, all)), ['a3', 'b0', 'b1']);
  t.same(names(allocateQueues(averagely, 'c3', members, all)), ['b2', 'b3']);
  t.same(names(allocateQueues(averagely, 'c4', [...members, 'c4', 'c5', 'c6', 'c7', 'c8', 'c9'], all)), ['a3'], 'c4 of 9 members: one queue');
  t.same(names(allocateQueues(averagely, 'c9', [...members, 'c4', 'c5', 'c6', 'c7', 'c8', 'c9'], all)), [], 'more members than queues: the last gets none');
});

t.test('circle: queue i to member i mod members', async (t) => {
  const circle = allocationStrategy('circle');
  const members = ['c1', 'c2', 'c3'];
  const all = queues(4);
  t.same(names(allocateQueues(circle, 'c1', members, all)), ['a0', 'a3', 'b2']);
  t.same(names(allocateQueues(circle, 'c2', members, all)), ['a1', 'b0', 'b3']);
  t.same(names(allocateQueues(circle, 'c3', members, all)), ['a2', 'b1']);
});

t.test('inputs in any order and with duplicates give the same answer; a member not in the list gets nothing', async (t) => {
  for (const name of allocation_strategy_names) {
    const strategy = allocationStrategy(name);
    const all = queues(4);
    const shuffled = [...all].reverse().concat(all.slice(0, 2));
    t.same(allocateQueues(strategy, 'c2', ['c3', 'c1', 'c2', 'c1'], shuffled), allocateQueues(strategy, 'c2', ['c1', 'c2', 'c3'], all), name);
    t.same(allocateQueues(strategy, 'stranger', ['c1', 'c2'], all), [], `${name}: not (yet) a member`);
    t.same(allocateQueues(strategy, 'c1', ['c1'], []), [], `${name}: no queues`);
  }
});

t.test('every strategy: the members together own every queue exactly once', async (t) => {
  const member_ids = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 12 });
  const queue_list = fc.uniqueArray(
    fc.record({ topic: fc.constantFrom('T', 'U'), brokerName: fc.constantFrom('broker-a', 'broker-b', 'broker-c'), queueId: fc.integer({ min: 0, max: 15 }) }),
    { maxLength: 48, selector: messageQueueKey },
  );
  for (const name of allocation_strategy_names) {
    const strategy = allocationStrategy(name);
    fc.assert(
      fc.property(member_ids, queue_list, (members, all) => {
        const owned = members.flatMap((member) => allocateQueues(strategy, member, members, all).map(messageQueueKey));
        t.equal(owned.length, all.length, `${name}: as many assignments as queues`);
        t.same([...new Set(owned)].sort(), all.map(messageQueueKey).sort(), `${name}: each queue once`);
        if (name !== 'consistent-hash') {
          const counts = members.map((member) => allocateQueues(strategy, member, members, all).length);
          t.ok(Math.max(...counts) - Math.min(...counts) <= 1, `${name}: counts differ by at most one`);
        }
      }),
      { numRuns: 150 },
    );
  }
});

t.test('consistent-hash: a joining member takes queues only for itself; the others keep theirs', async (t) => {
  const strategy = allocationStrategy('consistent-hash');
  const all = queues(32, ['broker-a', 'broker-b', 'broker-c']);
  const before = ['c1', 'c2', 'c3'];
  const after = [...before, 'c4'];
  let moved = 0;
  for (const member of before) {
    const old_set = new Set(allocateQueues(strategy, member, before, all).map(messageQueueKey));
    const new_set = allocateQueues(strategy, member, after, all).map(messageQueueKey);
    for (const key of new_set) t.ok(old_set.has(key), `${member} gains nothing when c4 joins (${key})`);
    moved += old_set.size - new_set.length;
  }
  t.equal(moved, allocateQueues(strategy, 'c4', after, all).length, 'what the old members lost is exactly what c4 got');
  t.ok(moved < all.length / 2, `only part of the queues moved (${moved} of ${all.length})`);
});

t.test('consistent-hash ring: fixed hash, wrap-around, order of members does not matter', async (t) => {
  t.equal(ringHash(''), 0xd41d8cd9, 'MD5("") starts d41d8cd9');
  const ring = new ConsistentHashRing(['b', 'a']);
  const same = new ConsistentHashRing(['a', 'b']);
  for (let index = 0; index < 200; index++) t.equal(ring.owner(`k${index}`), same.owner(`k${index}`));
  t.equal(new ConsistentHashRing([]).owner('x'), undefined, 'empty ring');
  t.throws(() => new ConsistentHashRing(['a'], 0), /virtual nodes/);
});

t.test('an unknown strategy is a BAD_REQUEST naming the known ones', async (t) => {
  t.throws(() => allocationStrategy('random'), { code: 'BAD_REQUEST', message: /averagely, circle, consistent-hash/ });
});
