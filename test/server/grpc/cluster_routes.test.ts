import t from 'tap';
import pino from 'pino';
import * as p from '../../../src/protocol/index.js';
import { ConnectionPool } from '../../../src/client/connection_pool.js';
import { NamesrvClient } from '../../../src/client/namesrv_client.js';
import { MqError } from '../../../src/runtime/errors.js';
import { ManualClock } from '../../../src/runtime/clock.js';
import { ClusterRoutes, cluster_routes_limits } from '../../../src/server/grpc/cluster_routes.js';
import { parseHostPort } from '../../../src/server/config_values.js';
import { routeData, startFakeServer } from '../../client/client_helpers.js';

/**
 * ClusterRoutes against a fake nameserver and fake masters on real sockets: which masters a
 * RocketMQ 5 route lists, and which it leaves out (no gRPC endpoint, an older broker, an
 * address now held by another group, a silent master), how long answers are cached, and
 * that a nameserver that cannot be asked leaves only this broker.
 */

const topic = 'RoutedTopic';
const quiet = pino({ level: 'silent' });

type Asked = Record<'b' | 'c' | 'd', number>;

function endpointsAnswer(brokerName: string, brokerId: number, grpcAddress: string | null, asked: Asked, who: keyof Asked): (body: Uint8Array) => Uint8Array {
  return () => {
    asked[who]++;
    return p.encodeBrokerEndpoints({ brokerName, brokerId, grpcAddress });
  };
}

t.test('the masters a route lists, and the ones it leaves out', async (t) => {
  const asked: Asked = { b: 0, c: 0, d: 0 };
  const b = await startFakeServer(t, new Map([[p.request_codes.GET_BROKER_ENDPOINTS, endpointsAnswer('broker-b', 0, '127.0.0.1:18081', asked, 'b')]]));
  const c = await startFakeServer(t, new Map([[p.request_codes.GET_BROKER_ENDPOINTS, endpointsAnswer('broker-c', 0, null, asked, 'c')]]));
  // An address that a failover gave to another group's broker.
  const d = await startFakeServer(t, new Map([[p.request_codes.GET_BROKER_ENDPOINTS, endpointsAnswer('broker-x', 0, '127.0.0.1:18083', asked, 'd')]]));
  // An older broker: GET_BROKER_ENDPOINTS is an unknown request there.
  const e = await startFakeServer(t, new Map([[p.request_codes.SEND, () => new Uint8Array(0)]]));
  const brokers = new Map([['broker-a', '127.0.0.1:1'], ['broker-b', b.address], ['broker-c', c.address], ['broker-d', d.address], ['broker-e', e.address]]);
  const route = routeData(topic, brokers, 4);
  const read_only = route.queues.find((queue) => queue.brokerName === 'broker-b');
  if (read_only !== undefined) read_only.perm = p.perm_read;
  // A group without a master (its master gone, no slave promoted yet) is not routed to.
  route.brokers.push({ cluster: 'TestCluster', brokerName: 'broker-f', addresses: { '1': b.address } });
  route.queues.push({ brokerName: 'broker-f', readQueues: 4, writeQueues: 4, perm: p.perm_read | p.perm_write });
  const namesrv = await startFakeServer(t, new Map([[p.request_codes.GET_ROUTE, (body: Uint8Array) => {
    const request = p.decodeGetRouteRequest(body);
    if (!request.ok || request.value.topic !== topic) throw new MqError('TOPIC_NOT_FOUND', 'no such topic');
    return p.encodeTopicRouteData(route);
  }]]));

  const clock = new ManualClock();
  const lease = ConnectionPool.lease({ instance_name: 'cluster-routes-test', owner: 'test' });
  const routes = new ClusterRoutes({ self_name: 'broker-a', namesrv: new NamesrvClient(lease, [namesrv.address], 2_000), lease, clock, log: quiet });
  t.teardown(() => routes.close());

  t.same(await routes.peersOf(topic), { peers: [{ broker_name: 'broker-b', perm: p.perm_read, grpc: { host: '127.0.0.1', port: 18081 } }], others_hold: true }, 'broker-b alone: this broker, no endpoint, another group, an older broker and a group without master are left out');
  t.same(await routes.peersOf('Elsewhere'), { peers: [], others_hold: false }, 'a topic the nameserver does not know routes nowhere else, and no other group holds it');
  t.same(asked, { b: 1, c: 1, d: 1 }, 'each master asked once');

  await Promise.all([routes.peersOf(topic), routes.peersOf(topic)]);
  t.same(asked, { b: 1, c: 1, d: 1 }, 'answers are cached');
  clock.advance(cluster_routes_limits.endpoints_unknown_ttl_ms + 1);
  await routes.peersOf(topic);
  t.same(asked, { b: 1, c: 2, d: 2 }, 'masters without a known endpoint are asked again after 5 s, known ones not');
  clock.advance(cluster_routes_limits.endpoints_ttl_ms);
  await Promise.all([routes.peersOf(topic), routes.peersOf(topic), routes.peersOf(topic)]);
  t.same(asked, { b: 2, c: 3, d: 3 }, 'known endpoints after 30 s, and once however many routes wait');

  await namesrv.close();
  t.same(await routes.peersOf(topic), { peers: [], others_hold: undefined }, 'a nameserver that cannot be asked leaves this broker only, and says it does not know');
});

t.test('on a slave, the route lists its own group\'s master', async (t) => {
  const asked: Asked = { b: 0, c: 0, d: 0 };
  const master_b = await startFakeServer(t, new Map([[p.request_codes.GET_BROKER_ENDPOINTS, endpointsAnswer('broker-b', 0, '127.0.0.1:18082', asked, 'b')]]));
  const namesrv = await startFakeServer(t, new Map([[p.request_codes.GET_ROUTE, () => p.encodeTopicRouteData(routeData(topic, new Map([['broker-b', master_b.address]]), 2))]]));
  const lease = ConnectionPool.lease({ instance_name: 'cluster-routes-slave', owner: 'test' });
  const routes = new ClusterRoutes({ self_name: 'broker-b', namesrv: new NamesrvClient(lease, [namesrv.address], 2_000), lease, clock: new ManualClock(), log: quiet });
  t.teardown(() => routes.close());
  t.same(await routes.peersOf(topic), { peers: [], others_hold: false }, 'a master leaves its own group out');
  t.same(await routes.peersOf(topic, { own_group: true }), { peers: [{ broker_name: 'broker-b', perm: p.perm_read | p.perm_write, grpc: { host: '127.0.0.1', port: 18082 } }], others_hold: false }, 'a slave lists its master');
});

t.test('a master that does not answer is left out within the request timeout', async (t) => {
  const silent = await startFakeServer(t, new Map([[p.request_codes.GET_BROKER_ENDPOINTS, () => new Promise<Uint8Array>(() => undefined)]]));
  const namesrv = await startFakeServer(t, new Map([[p.request_codes.GET_ROUTE, () => p.encodeTopicRouteData(routeData(topic, new Map([['broker-s', silent.address]]), 2))]]));
  const lease = ConnectionPool.lease({ instance_name: 'cluster-routes-silent', owner: 'test' });
  const routes = new ClusterRoutes({ self_name: 'broker-a', namesrv: new NamesrvClient(lease, [namesrv.address], 2_000), lease, clock: new ManualClock(), log: quiet });
  t.teardown(() => routes.close());
  const started = performance.now();
  t.same(await routes.peersOf(topic), { peers: [], others_hold: true }, 'the silent master is left out; the route did list it');
  const elapsed = performance.now() - started;
  t.ok(elapsed >= cluster_routes_limits.request_timeout_ms - 50, `left out once the ${cluster_routes_limits.request_timeout_ms} ms request timeout passed (${Math.round(elapsed)} ms)`);
});

t.test('a master\'s gRPC address is read as the config reads host:port', async (t) => {
  t.same(parseHostPort('10.0.0.5:8081'), { host: '10.0.0.5', port: 8081 });
  t.same(parseHostPort('[::1]:8081'), { host: '::1', port: 8081 });
  t.same(parseHostPort('broker.example:1'), { host: 'broker.example', port: 1 });
  for (const bad of ['8081', ':8081', 'host:0', 'host:65536', 'host:x']) t.throws(() => parseHostPort(bad), `${bad} is refused`);
});
