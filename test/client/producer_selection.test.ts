import t from 'tap';
import { BrokerFaultTracker, fault_avoidance_limits } from '../../src/client/producer_fault_tracker.js';
import { RoundRobinQueueSelector, selectOrdered, selectQueueByKey } from '../../src/client/producer_queue_selector.js';
import { backoffDelayMs } from '../../src/client/retry_backoff.js';
import { topicRouteOf } from '../../src/client/topic_route.js';
import { ManualClock } from '../../src/runtime/clock.js';
import { prng } from '../helpers/prng.js';
import { routeData } from './client_helpers.js';

/**
 * Queue selection and fault avoidance on a manual clock: which queue each send gets, which
 * broker groups are avoided and for how long, and the backoff's bounds.
 */

const route = topicRouteOf(routeData('T', new Map([['broker-a', 'a:1'], ['broker-b', 'b:1'], ['broker-c', 'c:1']]), 2));
const name = (queue: { brokerName: string; queueId: number }): string => `${queue.brokerName}/${queue.queueId}`;

t.test('round-robin alternates broker groups and skips avoided ones', async (t) => {
  const clock = new ManualClock(0);
  const faults = new BrokerFaultTracker(clock);
  const selector = new RoundRobinQueueSelector(faults, () => 0);
  t.same(Array.from({ length: 6 }, () => name(selector.select(route, undefined))), ['broker-a/0', 'broker-b/0', 'broker-c/0', 'broker-a/1', 'broker-b/1', 'broker-c/1'], 'a b c a b c');

  faults.recordFailure('broker-b');
  t.same(faults.avoided(), ['broker-b'], 'a failure marks the group');
  t.same(Array.from({ length: 4 }, () => selector.select(route, undefined).brokerName), ['broker-a', 'broker-c', 'broker-a', 'broker-c'], 'broker-b is skipped');
  t.equal(selector.select(route, 'broker-a').brokerName, 'broker-c', 'the group that just failed is skipped too');
  faults.recordFailure('broker-a');
  faults.recordFailure('broker-c');
  t.not(selector.select(route, 'broker-a').brokerName, 'broker-a', 'all avoided: still not the one that just failed');
  clock.advance(fault_avoidance_limits.failure_avoid_ms);
  t.same(faults.avoided(), [], 'marks expire');
});

t.test('slow sends avoid a group for a while; a fast one clears the mark', async (t) => {
  const clock = new ManualClock(0);
  const faults = new BrokerFaultTracker(clock);
  faults.recordSuccess('broker-a', 100);
  t.ok(faults.isAvailable('broker-a'), '100 ms: not slow');
  faults.recordSuccess('broker-a', 1_500);
  t.notOk(faults.isAvailable('broker-a'), '1.5 s: avoided');
  clock.advance(fault_avoidance_limits.slow_avoid_ms[1] - 1);
  t.notOk(faults.isAvailable('broker-a'), 'still avoided just before its step ends');
  clock.advance(1);
  t.ok(faults.isAvailable('broker-a'), 'available when it ends');
  faults.recordSuccess('broker-a', 5_000);
  faults.recordSuccess('broker-a', 10);
  t.ok(faults.isAvailable('broker-a'), 'a fast send clears the mark at once');
});

t.test('a group whose master changed is no longer avoided', async (t) => {
  const clock = new ManualClock(0);
  const faults = new BrokerFaultTracker(clock);
  faults.observeMasters(new Map([['broker-a', 'a:1'], ['broker-b', 'b:1']]));
  faults.recordFailure('broker-a');
  faults.recordFailure('broker-b');
  faults.observeMasters(new Map([['broker-a', 'a:1'], ['broker-b', 'b:1']]));
  t.same(faults.avoided(), ['broker-a', 'broker-b'], 'the same masters: both still avoided');
  faults.observeMasters(new Map([['broker-a', 'a2:1'], ['broker-b', 'b:1']]));
  t.same(faults.avoided(), ['broker-b'], 'broker-a has a new master (a failover): no longer avoided');
  faults.recordFailure('broker-c');
  faults.observeMasters(new Map([['broker-c', 'c:1']]));
  t.same(faults.avoided(), ['broker-b', 'broker-c'], 'a master seen for the first time clears nothing');
  clock.advance(fault_avoidance_limits.failure_avoid_ms);
  t.same(faults.avoided(), [], 'and the marks end as before');

  // A send that was in flight to the former master times out after the route changed.
  faults.recordFailure('broker-a', 'a:1');
  t.same(faults.avoided(), [], "the former master's failure does not mark its group");
  faults.recordSuccess('broker-a', 5_000, 'a:1');
  t.same(faults.avoided(), [], 'nor does its slow answer');
  faults.recordFailure('broker-a', 'a2:1');
  t.same(faults.avoided(), ['broker-a'], "the current master's failure does");
});

t.test('ordered sends: the key decides the queue, stable across selectors', async (t) => {
  const message = { topic: 'T', body: 'x' };
  const keys = Array.from({ length: 200 }, (_, index) => `key-${index}`);
  const first = keys.map((key) => name(selectOrdered(selectQueueByKey, route, message, key)));
  const again = keys.map((key) => name(selectOrdered(selectQueueByKey, topicRouteOf(routeData('T', new Map([['broker-a', 'a:1'], ['broker-b', 'b:1'], ['broker-c', 'c:1']]), 2)), message, key)));
  t.same(again, first, 'the same keys give the same queues with an equal route');
  t.equal(new Set(first).size, route.writeQueues.length, '200 keys use every queue');
  t.throws(() => selectOrdered(selectQueueByKey, topicRouteOf(routeData('T', new Map(), 2)), message, 'k'), { code: 'NO_ROUTE' }, 'no writable queue: NO_ROUTE');
});

t.test('backoff: within [base/2, min(max, base * 2^attempt)]', async (t) => {
  const random = prng(7);
  const policy = { base_ms: 100, max_ms: 5_000 };
  let outside = 0;
  for (let attempt = 0; attempt < 12; attempt++) {
    const ceiling = Math.min(policy.max_ms, policy.base_ms * 2 ** attempt);
    for (let draw = 0; draw < 200; draw++) {
      const delay = backoffDelayMs(policy, attempt, random);
      if (delay < policy.base_ms / 2 || delay > ceiling) outside += 1;
    }
  }
  t.equal(outside, 0, '2,400 delays (seed 7) within their bounds');
  t.equal(backoffDelayMs(policy, 3, () => 0), 50, 'the floor');
  t.equal(backoffDelayMs(policy, 30, () => 1), 5_000, 'the cap');
});
