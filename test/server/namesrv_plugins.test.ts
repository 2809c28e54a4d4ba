import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { RegistryEvent } from '../../src/actors/registry/registry_events.js';
import {
  decodeRouteChangedNotification,
  decodeSubscribeRouteResponse,
  decodeUnsubscribeRouteResponse,
  encodeDeleteTopicRequest,
  encodeSubscribeRouteRequest,
  encodeUnsubscribeRouteRequest,
  request_codes,
  type Envelope,
  type RouteChangedNotification,
} from '../../src/protocol/index.js';
import { MqError } from '../../src/runtime/errors.js';
import { recorders } from '../cluster/fixtures/namesrv_recording_plugin.js';
import { connect, FakeBroker, getRoute, startActorSystem, startNamesrv, value, waitFor } from './namesrv_peers.js';

/**
 * The nameserver's event bus and its plugins: plugins named in the configuration are loaded
 * as modules and see every registry event in order; one that fails on every event harms no
 * other; the shipped plugins push route changes to subscribed clients and append the audit log.
 */

const dir = mkdtempSync(join(tmpdir(), 'mq-namesrv-plugins-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const recording_plugin_path = fileURLToPath(new URL('../cluster/fixtures/namesrv_recording_plugin.js', import.meta.url));
const throwing_plugin_url = new URL('../cluster/fixtures/namesrv_throwing_plugin.js', import.meta.url).href;

function describe(event: RegistryEvent): string {
  switch (event.kind) {
    case 'broker_registered':
      return `registered ${event.broker_name}`;
    case 'broker_removed':
      return `removed ${event.broker_name} ${event.reason}`;
    case 'topic_changed':
      return `topic ${event.topic} ${event.change}`;
    case 'route_changed':
      return `route ${event.topic} [${event.broker_names.join(',')}]`;
  }
}

t.test('plugins from the configuration see every event in order; a plugin failing on each event stops none of the others', async (t) => {
  const audit_log_path = join(dir, 'audit', 'namesrv.jsonl');
  const system = await startActorSystem(t);
  const { listener, address } = await startNamesrv(t, system, {
    broker_expiry_ms: 1_000,
    // The failing plugin comes first, so every other plugin gets each event after it failed.
    plugins: [throwing_plugin_url, recording_plugin_path, 'audit-log'],
    audit_log_path,
  });
  const recorder = recorders.at(-1);
  if (recorder === undefined) throw new Error('the recording plugin was not created');

  const a = await FakeBroker.connect(t, address, 'broker-a', 10911, ['Orders']);
  const b = await FakeBroker.connect(t, address, 'broker-b', 20911, ['Orders', 'Solo']);
  await a.register();
  await b.register();
  const admin = await connect(t, address, 'admin');
  // broker-a heartbeats (well within the expiry) until broker-b's disconnect is seen, then falls silent and expires.
  const beat = setInterval(() => void a.heartbeat().catch(() => undefined), 100);
  t.teardown(() => clearInterval(beat));
  await admin.request(request_codes.DELETE_TOPIC_IN_NAMESRV, encodeDeleteTopicRequest({ topic: 'Solo' }));
  b.connection.close(); // evicted at once
  await waitFor('the disconnect', () => recorder.events.length >= 12);
  clearInterval(beat);
  await waitFor('the expiry', () => recorder.events.length >= 14);

  const expected = [
    'registered broker-a', 'topic Orders created', 'route Orders [broker-a]',
    'registered broker-b', 'topic Orders updated', 'topic Solo created', 'route Orders [broker-a,broker-b]', 'route Solo [broker-b]',
    'topic Solo deleted', 'route Solo []',
    'removed broker-b disconnected', 'route Orders [broker-a]',
    'removed broker-a expired', 'route Orders []',
  ];
  t.same(recorder.events.map(describe), expected, 'the recording plugin saw every change, in order');
  t.same(recorder.events.map((event) => event.seq), expected.map((_, index) => index + 1), 'numbered without gaps');

  const stats = listener.pluginStats();
  t.same(stats.plugins.map((plugin) => [plugin.name, plugin.delivered, plugin.failed, plugin.dropped]), [
    ['thrower', 0, 14, 0],
    ['recorder', 14, 0, 0],
    ['audit-log', 14, 0, 0],
  ], 'failures are counted against the failing plugin only');
  t.equal(stats.missed, 0);

  const lines = readFileSync(audit_log_path, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as RegistryEvent & { time: string });
  t.same(lines.map(describe), expected, 'the audit log has the same events, one JSON line each');
  t.ok(lines.every((line) => line.time === new Date(line.at_ms).toISOString()), 'each line says when');

  await listener.stop();
  t.ok(recorder.closed, 'plugins are closed at stop');
});

t.test('a plugin that cannot be loaded fails the start, naming it; the nameserver can then start with a good list', async (t) => {
  const system = await startActorSystem(t);
  const failure = (plugins: string[]): Promise<string> =>
    startNamesrv(t, system, { plugins }).then(
      () => 'started',
      (error: unknown) => (error instanceof MqError ? `${error.code}: ${error.message}` : String(error)),
    );
  t.match(await failure(['./no_such_plugin.js']), /^BAD_REQUEST: plugin '\.\/no_such_plugin\.js' could not be loaded from file:/);
  const not_a_plugin = new URL('../../src/actors/registry/registry_limits.js', import.meta.url).href;
  t.match(await failure([not_a_plugin]), /^BAD_REQUEST: plugin module '.*registry_limits\.js' exports no factory/);
  t.match(await failure(['route-notifications', 'route-notifications']), /a handler for request code 1001 exists already/, 'two plugins may not serve one request code');
  t.equal(await failure(['route-notifications']), 'started', 'a failed start left nothing behind (the registry address is free)');
});

t.test('a client subscribed to a topic is pushed its route changes; others and unsubscribed ones are not', async (t) => {
  const system = await startActorSystem(t);
  const { address } = await startNamesrv(t, system);
  const subscriber = await connect(t, address, 'subscriber');
  const bystander = await connect(t, address, 'bystander');
  const pushed: RouteChangedNotification[] = [];
  const bystander_pushes: Envelope[] = [];
  subscriber.onPush((push) => {
    if (push.code === request_codes.ROUTE_CHANGED) pushed.push(value(decodeRouteChangedNotification(push.body)));
  });
  bystander.onPush((push) => bystander_pushes.push(push));

  const subscribed = value(decodeSubscribeRouteResponse(await subscriber.request(request_codes.SUBSCRIBE_ROUTE, encodeSubscribeRouteRequest({ topics: ['Orders', 'Later'] }))));
  t.equal(subscribed.subscribedTopics, 2, 'topics need not exist yet');
  await bystander.request(request_codes.SUBSCRIBE_ROUTE, encodeSubscribeRouteRequest({ topics: ['Elsewhere'] }));

  const broker = await FakeBroker.connect(t, address, 'broker-a', 10911, ['Orders']);
  await broker.register();
  await waitFor('the first notification', () => pushed.length >= 1);
  const route = await getRoute(subscriber, 'Orders');
  t.same(pushed[0], { topic: 'Orders', routeVersion: route.routeVersion, brokerNames: ['broker-a'] }, 'the new version and who serves it now');

  broker.connection.close();
  await waitFor('the withdrawal notification', () => pushed.length >= 2);
  t.equal(pushed[1]?.topic, 'Orders');
  t.same(pushed[1]?.brokerNames, [], 'withdrawn: nobody serves it');
  t.ok((pushed[1]?.routeVersion ?? 0) > route.routeVersion);

  const left = value(decodeUnsubscribeRouteResponse(await subscriber.request(request_codes.UNSUBSCRIBE_ROUTE, encodeUnsubscribeRouteRequest({ topics: ['Orders'] }))));
  t.equal(left.subscribedTopics, 1);
  const again = await FakeBroker.connect(t, address, 'broker-a', 10911, ['Orders']);
  await again.register();
  // A notification is written before the registration is answered; a round trip on the
  // subscriber's connection after that would come behind any notification sent to it.
  await getRoute(subscriber, 'Orders');
  await getRoute(bystander, 'Orders');
  t.equal(pushed.length, 2, 'no notification after unsubscribing');
  t.equal(bystander_pushes.length, 0, 'a client subscribed to other topics got nothing');
  t.equal(
    await subscriber.request(request_codes.SUBSCRIBE_ROUTE, encodeSubscribeRouteRequest({ topics: ['bad topic!'] })).then(() => 'ok', (error: MqError) => error.code),
    'BAD_REQUEST',
  );
});
