import t from 'tap';
import type { RegistryEvent } from '../../src/actors/registry/registry_events.js';
import { EventBus } from '../../src/server/namesrv/event_bus.js';
import type { NamesrvPlugin } from '../../src/server/namesrv/namesrv_plugin.js';
import { quiet_log, waitFor } from './namesrv_peers.js';

/**
 * The event bus alone: per-plugin order and isolation, bounded waits on asynchronous
 * handlers, bounded queues, and event numbering across gaps and registry restarts.
 */

function events(from_seq: number, count: number): RegistryEvent[] {
  return Array.from({ length: count }, (_, index) => ({ kind: 'topic_changed', seq: from_seq + index, at_ms: 0, topic: `T${from_seq + index}`, change: 'created' }));
}

function recorder(name: string): NamesrvPlugin & { seen: number[] } {
  const seen: number[] = [];
  return { name, seen, onEvent: (event) => void seen.push(event.seq) };
}

t.test('a handler that never settles times out and counts as failed; its later events still come, and other plugins never wait', async (t) => {
  const bus = new EventBus(quiet_log, { plugin_event_timeout_ms: 50 });
  const fast = recorder('fast');
  const stuck_seen: number[] = [];
  bus.add({ name: 'stuck', onEvent: (event) => (stuck_seen.push(event.seq), event.seq === 1 ? new Promise<void>(() => undefined) : Promise.resolve()) });
  bus.add(fast);
  bus.publish(events(1, 3));
  t.same(fast.seen, [1, 2, 3], 'the synchronous plugin got all three inside publish');
  await waitFor('the stuck plugin to move on', () => stuck_seen.length === 3);
  t.same(stuck_seen, [1, 2, 3], 'in order, after the timeout');
  await waitFor('stats to settle', () => bus.stats().plugins[0]?.delivered === 2);
  t.same(bus.stats().plugins.map((plugin) => [plugin.name, plugin.delivered, plugin.failed]), [['stuck', 2, 1], ['fast', 3, 0]]);
});

t.test("a plugin that falls behind loses its own events beyond its queue bound, and nobody else's", async (t) => {
  const bus = new EventBus(quiet_log, { plugin_events_queued_max: 2, plugin_event_timeout_ms: 10_000 });
  let release = (): void => undefined;
  const slow_seen: number[] = [];
  bus.add({
    name: 'slow',
    onEvent: (event) => {
      slow_seen.push(event.seq);
      return event.seq === 1 ? new Promise<void>((resolve) => (release = resolve)) : undefined;
    },
  });
  const fast = recorder('fast');
  bus.add(fast);
  bus.publish(events(1, 6)); // slow holds 1, queues 2 and 3, drops 4..6
  t.same(fast.seen, [1, 2, 3, 4, 5, 6]);
  release();
  await waitFor('the slow plugin to drain', () => slow_seen.length === 3);
  t.same(slow_seen, [1, 2, 3]);
  t.match(bus.stats().plugins[0], { name: 'slow', dropped: 3, queued: 0 });
});

t.test('a gap in the numbering is counted as missed; numbers starting over (a restarted registry) are delivered', async (t) => {
  const bus = new EventBus(quiet_log);
  const plugin = recorder('r');
  bus.add(plugin);
  bus.publish(events(1, 2));
  bus.publish(events(5, 1));
  t.equal(bus.stats().missed, 2, 'events 3 and 4 never came');
  bus.publish(events(1, 2));
  t.same(plugin.seen, [1, 2, 5, 1, 2], 'a new registry counts from 1, and its events are not taken for repeats');
});

t.test('close waits for queued events (bounded) and closes every plugin, also after one fails to close', async (t) => {
  const bus = new EventBus(quiet_log, { plugin_drain_timeout_ms: 100 });
  const closed: string[] = [];
  bus.add({ name: 'bad', onEvent: () => undefined, close: () => Promise.reject(new Error('cannot close')) });
  bus.add({ name: 'good', onEvent: () => Promise.resolve(), close: () => void closed.push('good') });
  bus.publish(events(1, 3));
  await bus.close();
  t.same(closed, ['good']);
  t.equal(bus.stats().plugins[1]?.delivered, 3, 'the queued events were delivered before closing');
});
