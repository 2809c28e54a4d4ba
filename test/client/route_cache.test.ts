import t, { type Test } from 'tap';
import * as p from '../../src/protocol/index.js';
import { ConnectionPool, type PoolLease } from '../../src/client/connection_pool.js';
import { NamesrvClient } from '../../src/client/namesrv_client.js';
import { RouteCache, type RouteCacheOptions } from '../../src/client/route_cache.js';
import { topicRouteOf } from '../../src/client/topic_route.js';
import { ManualClock, system_clock } from '../../src/runtime/clock.js';
import { MqError } from '../../src/runtime/errors.js';
import type { RequestHandler } from '../../src/server/remoting/request_router.js';
import { routeData, startFakeServer, until, type FakeServer } from './client_helpers.js';

/**
 * The route cache against fake nameservers whose routes the test changes: caching, shared
 * fetches, refresh on demand (rate-limited), on ROUTE_CHANGED and on a timer, failover
 * between nameservers, provisional routes for unknown topics, and dropped routes.
 */

interface FakeNamesrv extends FakeServer {
  routes: Map<string, p.TopicRouteData | MqError>;
  push(topic: string, version: number): void;
  count(code: number): number;
}

async function fakeNamesrv(t: Test): Promise<FakeNamesrv> {
  const routes = new Map<string, p.TopicRouteData | MqError>();
  const server = await startFakeServer(t, new Map<number, RequestHandler>([
    [p.request_codes.GET_ROUTE, (body) => {
      const request = p.decodeGetRouteRequest(body);
      const route = request.ok ? routes.get(request.value.topic) : undefined;
      if (route === undefined) throw new MqError('TOPIC_NOT_FOUND', 'not known to this nameserver');
      if (route instanceof MqError) throw route;
      return p.encodeTopicRouteData(route);
    }],
    [p.request_codes.SUBSCRIBE_ROUTE, (body) => {
      const request = p.decodeSubscribeRouteRequest(body);
      return p.encodeSubscribeRouteResponse({ subscribedTopics: request.ok ? request.value.topics.length : 0 });
    }],
    [p.request_codes.GET_CLUSTER_INFO, (_body, { connection }) => p.encodeClusterInfo({
      dataVersion: 1,
      groups: ['broker-a', 'broker-b'].map((brokerName, index) => ({
        cluster: 'TestCluster',
        brokerName,
        members: [{ brokerId: 0, address: `127.0.0.1:${1000 + index}`, haAddress: '', epoch: 0, dataVersion: 1, lastHeartbeatMs: 0, maxOffset: 0, inSync: false }],
      })),
    }, connection.protocol_version)],
  ]));
  return {
    ...server,
    routes,
    push(topic, version) {
      const notice = p.encodeRouteChangedNotification({ topic, routeVersion: version, brokerNames: [] });
      for (const connection of server.connections) connection.push(p.request_codes.ROUTE_CHANGED, notice);
    },
    count: (code) => server.codes.filter((seen) => seen === code).length,
  };
}

function cacheOn(t: Test, addresses: string[], instance: string, options: Partial<RouteCacheOptions> = {}): { cache: RouteCache; lease: PoolLease } {
  const lease = ConnectionPool.lease({ instance_name: instance, owner: 'test' });
  const cache = new RouteCache(new NamesrvClient(lease, addresses, 2_000), lease, { clock: system_clock, provisional_routes: false, ...options });
  t.teardown(() => {
    cache.close();
    lease.close();
  });
  return { cache, lease };
}

const two_brokers = new Map([['broker-a', '127.0.0.1:1000'], ['broker-b', '127.0.0.1:1001']]);

t.test('a route is fetched once and then served from the cache; concurrent fetches share one request', async (t) => {
  const namesrv = await fakeNamesrv(t);
  namesrv.routes.set('T', routeData('T', two_brokers, 2));
  const { cache } = cacheOn(t, [namesrv.address], 'routes-cached');
  const routes = await Promise.all(Array.from({ length: 20 }, () => cache.route('T')));
  t.ok(routes.every((route) => route === routes[0]), 'every caller got the same route');
  await cache.route('T');
  t.equal(namesrv.count(p.request_codes.GET_ROUTE), 1, 'one GET_ROUTE for 21 lookups');
  const route = routes[0] as Awaited<ReturnType<RouteCache['route']>>;
  t.same(route.writeQueues.map((queue) => `${queue.brokerName}/${queue.queueId}`), ['broker-a/0', 'broker-b/0', 'broker-a/1', 'broker-b/1'], 'writable queues alternate broker groups');
  t.same(route.readQueues.map((queue) => `${queue.brokerName}/${queue.queueId}`), ['broker-a/0', 'broker-a/1', 'broker-b/0', 'broker-b/1'], 'readable queues sorted by broker, then queue');
  t.equal(route.masters.get('broker-b'), '127.0.0.1:1001', "a group's master address");
  await until('the topic is subscribed for ROUTE_CHANGED', () => (namesrv.count(p.request_codes.SUBSCRIBE_ROUTE) === 1 ? true : undefined));
  t.pass('subscribed once');
});

t.test('refresh on demand is rate-limited; ROUTE_CHANGED and the timer refresh too', async (t) => {
  const namesrv = await fakeNamesrv(t);
  namesrv.routes.set('T', routeData('T', two_brokers, 2, 1));
  const { cache } = cacheOn(t, [namesrv.address], 'routes-refresh', { refresh_interval_ms: 100_000 });
  const changes: Array<number | undefined> = [];
  cache.onChange((_topic, route) => changes.push(route?.routeVersion));
  await cache.route('T');
  namesrv.routes.set('T', routeData('T', new Map([['broker-a', '127.0.0.1:1000']]), 2, 2));
  await Promise.all([cache.refresh('T'), cache.refresh('T'), cache.refresh('T')]);
  t.equal(namesrv.count(p.request_codes.GET_ROUTE), 1, 'refreshes within the minimum interval of a fetch ask nobody');
  await until('a refresh after the minimum interval fetches', async () => ((await cache.refresh('T')).routeVersion === 2 ? true : undefined));
  t.same(cache.cached('T')?.writeQueues.map((queue) => queue.brokerName), ['broker-a', 'broker-a'], 'the new route has broker-a only');

  namesrv.routes.set('T', routeData('T', two_brokers, 2, 3));
  await until('subscribed', () => (namesrv.count(p.request_codes.SUBSCRIBE_ROUTE) >= 1 ? true : undefined));
  namesrv.push('T', 3);
  await until('ROUTE_CHANGED made the cache fetch version 3', () => (cache.cached('T')?.routeVersion === 3 ? true : undefined));
  t.same(changes, [1, 2, 3], 'listeners heard each new version once');

  const timed = cacheOn(t, [namesrv.address], 'routes-timer', { refresh_interval_ms: 30 });
  timed.cache.start();
  await timed.cache.route('T');
  const before = namesrv.count(p.request_codes.GET_ROUTE);
  await until('the timer refreshed the route twice', () => (namesrv.count(p.request_codes.GET_ROUTE) >= before + 2 ? true : undefined));
  t.pass('periodic refresh');
});

t.test('any nameserver that answers: a dead one is skipped', async (t) => {
  const namesrv = await fakeNamesrv(t);
  namesrv.routes.set('T', routeData('T', two_brokers, 2));
  const dead = await fakeNamesrv(t);
  await dead.close();
  const { cache } = cacheOn(t, [dead.address, namesrv.address], 'routes-failover');
  t.equal((await cache.route('T')).topic, 'T', 'the route came from the live nameserver');

  const { cache: none } = cacheOn(t, [dead.address], 'routes-none');
  await t.rejects(none.route('T'), { code: 'BROKER_UNAVAILABLE', message: /no nameserver answered/ }, 'no nameserver at all: BROKER_UNAVAILABLE saying so');
});

t.test('unknown topics: an error for consumers, a provisional route for producers', async (t) => {
  const namesrv = await fakeNamesrv(t);
  const { cache: consumer } = cacheOn(t, [namesrv.address], 'routes-unknown-consumer');
  await t.rejects(consumer.route('New'), { code: 'TOPIC_NOT_FOUND' }, 'TOPIC_NOT_FOUND without provisional routes');

  const clock = new ManualClock(1_000);
  const { cache: producer } = cacheOn(t, [namesrv.address], 'routes-unknown-producer', { provisional_routes: true, clock });
  const provisional = await producer.route('New');
  t.ok(provisional.provisional, 'a provisional route');
  t.same(provisional.writeQueues.map((queue) => `${queue.brokerName}/${queue.queueId}`), ['broker-a/-1', 'broker-b/-1'], 'every master, queue -1 (the broker picks)');
  await producer.route('New');
  t.equal(namesrv.count(p.request_codes.GET_ROUTE), 2, 'cached for a moment (one GET_ROUTE per cache so far)');
  namesrv.routes.set('New', routeData('New', two_brokers, 4, 7));
  clock.advance(500);
  const real = await producer.route('New');
  t.notOk(real.provisional, 'after its short life the provisional route is replaced by the real one');
  t.equal(real.writeQueues.length, 8, 'with the real queues');

  namesrv.routes.set('New', new MqError('NO_ROUTE', 'no broker serves it now'));
  const dropped: string[] = [];
  producer.onChange((topic, route) => dropped.push(`${topic} ${route === undefined ? 'gone' : 'here'}`));
  await t.rejects(producer.refresh('New', { bypass_interval: true }), { code: 'NO_ROUTE' }, 'NO_ROUTE reaches the caller');
  t.equal(producer.cached('New'), undefined, 'and the route is dropped');
  t.same(dropped, ['New gone'], 'listeners heard that it is gone');
});

t.test('topicRouteOf: groups without a master or without write permission get no writable queues', async (t) => {
  const route = topicRouteOf({
    topic: 'T',
    routeVersion: 1,
    brokers: [
      { cluster: 'c', brokerName: 'broker-a', addresses: { '0': 'a:1' } },
      { cluster: 'c', brokerName: 'broker-b', addresses: { '1': 'b:2' } },
      { cluster: 'c', brokerName: 'broker-c', addresses: { '0': 'c:1' } },
    ],
    queues: [
      { brokerName: 'broker-c', readQueues: 1, writeQueues: 1, perm: p.perm_read },
      { brokerName: 'broker-b', readQueues: 2, writeQueues: 2, perm: p.perm_read | p.perm_write },
      { brokerName: 'broker-a', readQueues: 3, writeQueues: 1, perm: p.perm_read | p.perm_write },
    ],
  });
  t.same(route.writeQueues.map((queue) => `${queue.brokerName}/${queue.queueId}`), ['broker-a/0'], 'only broker-a: b has no master, c is read-only');
  t.same(route.readQueues.map((queue) => `${queue.brokerName}/${queue.queueId}`), ['broker-a/0', 'broker-a/1', 'broker-a/2', 'broker-b/0', 'broker-b/1', 'broker-c/0'], 'reads from every readable group');
});
