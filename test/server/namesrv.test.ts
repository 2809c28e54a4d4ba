import t from 'tap';
import {
  decodeClusterInfo,
  decodeTopicList,
  encodeDeleteTopicRequest,
  encodeGetClusterInfoRequest,
  encodeGetTopicListRequest,
  request_codes,
} from '../../src/protocol/index.js';
import { registry_address } from '../../src/actors/registry/registry_messages.js';
import {
  connect,
  errorCode,
  FakeBroker,
  getRoute,
  routeBrokers,
  startActorSystem,
  startNamesrv,
  value,
  waitFor,
} from './namesrv_peers.js';

/**
 * The nameserver over TCP, with raw connections playing brokers and clients: registration
 * and routes, eviction when a broker's connection closes and when it falls silent,
 * re-registration after a nameserver restart, and the admin requests.
 */

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

t.test('two registered brokers are both in the route of a topic they serve; cluster info and topic list show them', async (t) => {
  const system = await startActorSystem(t);
  const { address } = await startNamesrv(t, system);
  const a = await FakeBroker.connect(t, address, 'broker-a', 10911, ['Orders', 'OnlyA']);
  const b = await FakeBroker.connect(t, address, 'broker-b', 20911, ['Orders']);
  t.same(await a.register(), { masterAddress: null, masterHaAddress: null, epoch: 0, master: true });
  await b.register();
  const client = await connect(t, address, 'client');

  const route = await getRoute(client, 'Orders');
  t.same(route.brokers.map((group) => [group.brokerName, group.addresses['0']]), [['broker-a', '127.0.0.1:10911'], ['broker-b', '127.0.0.1:20911']]);
  t.same(route.queues.map((queue) => [queue.brokerName, queue.readQueues, queue.writeQueues]), [['broker-a', 4, 4], ['broker-b', 4, 4]]);
  t.same(await routeBrokers(client, 'OnlyA'), ['broker-a']);

  const answer = await client.requestVersioned(request_codes.GET_CLUSTER_INFO, encodeGetClusterInfoRequest({}));
  const info = value(decodeClusterInfo(answer.body, answer.protocol_version));
  t.same(info.groups.map((group) => [group.cluster, group.brokerName, group.members.map((member) => member.address)]), [
    ['TestCluster', 'broker-a', ['127.0.0.1:10911']],
    ['TestCluster', 'broker-b', ['127.0.0.1:20911']],
  ]);
  const list = value(decodeTopicList(await client.request(request_codes.GET_TOPIC_LIST, encodeGetTopicListRequest({ cluster: null }))));
  t.same(list.topics, ['OnlyA', 'Orders']);
  t.equal(list.dataVersion, info.dataVersion, 'both answers carry the same registry version');

  // A route version a client cached stays valid while nothing changes, and moves when something does.
  t.equal((await getRoute(client, 'Orders')).routeVersion, route.routeVersion);
  await b.unregister();
  const after = await getRoute(client, 'Orders');
  t.same(after.brokers.map((group) => group.brokerName), ['broker-a'], 'an unregistered broker leaves the route');
  t.ok(after.routeVersion > route.routeVersion, 'with a newer route version');
});

t.test('a broker whose connection closes is evicted at once', async (t) => {
  const system = await startActorSystem(t);
  // An expiry far beyond the test: only the closed connection can explain the eviction.
  const { address } = await startNamesrv(t, system, { broker_expiry_ms: 600_000 });
  const a = await FakeBroker.connect(t, address, 'broker-a', 10911, ['Orders']);
  const b = await FakeBroker.connect(t, address, 'broker-b', 20911, ['Orders']);
  await a.register();
  await b.register();
  const client = await connect(t, address, 'client');
  t.same(await routeBrokers(client, 'Orders'), ['broker-a', 'broker-b']);

  b.connection.close();
  // The expiry is 10 minutes: an eviction within the wait's bound can only come from the disconnect.
  await waitFor('eviction of the disconnected broker', async () => same(await routeBrokers(client, 'Orders'), ['broker-a']));
  t.same(await routeBrokers(client, 'Orders'), ['broker-a'], 'the disconnected broker was evicted at once, long before its expiry');

  a.connection.close();
  await waitFor('route withdrawn', async () => (await routeBrokers(client, 'Orders')) === 'NO_ROUTE');
  t.pass('no broker left: NO_ROUTE');
});

t.test('a silent broker is evicted within the expiry; a heartbeating one stays; the silent one comes back by registering', async (t) => {
  const expiry_ms = 1_000;
  const system = await startActorSystem(t);
  const { address } = await startNamesrv(t, system, { broker_expiry_ms: expiry_ms });
  const silent = await FakeBroker.connect(t, address, 'silent', 10911, ['Orders']);
  const lively = await FakeBroker.connect(t, address, 'lively', 20911, ['Orders']);
  // Taken before the registration: the nameserver heard the broker no earlier than this.
  const registered_ms = performance.now();
  await silent.register();
  await lively.register();
  // Ten heartbeats per expiry: a loaded machine may delay some, not all of them.
  const beat = setInterval(() => void lively.heartbeat().catch(() => undefined), expiry_ms / 10);
  t.teardown(() => clearInterval(beat));
  const client = await connect(t, address, 'client');

  await waitFor('eviction of the silent broker', async () => same(await routeBrokers(client, 'Orders'), ['lively']), 10 * expiry_ms);
  const silent_ms = performance.now() - registered_ms;
  t.ok(silent_ms >= expiry_ms, `not before the expiry (${silent_ms.toFixed(0)} ms)`);
  t.ok(silent.connection.open, 'its connection is still open: the silence alone evicted it');

  const answer = await silent.heartbeat();
  t.equal(answer.registrationNeeded, true, 'its next heartbeat is told to register');
  await silent.register();
  t.same(await routeBrokers(client, 'Orders'), ['lively', 'silent'], 'back after registering');
  t.equal((await lively.heartbeat()).registrationNeeded, false, 'the heartbeating one never left');
});

t.test('after a nameserver restart, a heartbeat answers registrationNeeded and the broker registers again', async (t) => {
  const system = await startActorSystem(t);
  const first = await startNamesrv(t, system);
  const port = Number(first.address.split(':')[1]);
  const broker = await FakeBroker.connect(t, first.address, 'broker-a', 10911, ['Orders']);
  await broker.register();
  t.equal((await broker.heartbeat()).registrationNeeded, false);

  await first.listener.stop();
  t.equal(await errorCode(broker.heartbeat()), 'BROKER_UNAVAILABLE', 'the old connection is gone');
  const second = await startNamesrv(t, system, { port });
  t.equal(second.address, first.address, 'the same address');
  const client = await connect(t, second.address, 'client');
  t.equal(await routeBrokers(client, 'Orders'), 'TOPIC_NOT_FOUND', 'a new nameserver knows nothing yet');

  // What a broker does: reconnect, heartbeat, and register in full when told to.
  broker.connection = await connect(t, second.address, 'broker-a', 'BROKER');
  const answer = await broker.heartbeat();
  t.equal(answer.registrationNeeded, true);
  await broker.register();
  t.same(await routeBrokers(client, 'Orders'), ['broker-a']);
  t.ok(await system.inspect(registry_address), 'the registry actor runs again');
});

t.test('delete topic, unknown topics, bad bodies: errors with contract codes, and the connection goes on', async (t) => {
  const system = await startActorSystem(t);
  const { address } = await startNamesrv(t, system);
  const broker = await FakeBroker.connect(t, address, 'broker-a', 10911, ['Orders', 'Kept']);
  await broker.register();
  const client = await connect(t, address, 'client');

  await client.request(request_codes.DELETE_TOPIC_IN_NAMESRV, encodeDeleteTopicRequest({ topic: 'Orders' }));
  t.equal(await routeBrokers(client, 'Orders'), 'TOPIC_NOT_FOUND', 'deleted');
  t.equal(await errorCode(client.request(request_codes.DELETE_TOPIC_IN_NAMESRV, encodeDeleteTopicRequest({ topic: 'Orders' }))), 'TOPIC_NOT_FOUND');
  t.equal(await routeBrokers(client, 'bad topic!'), 'BAD_REQUEST');
  t.equal(await errorCode(client.request(request_codes.REGISTER_BROKER, Buffer.from('garbage'))), 'BAD_REQUEST');
  t.equal(await errorCode(client.request(request_codes.SEND, Buffer.alloc(0))), 'BAD_REQUEST', 'a broker request at the nameserver');
  t.same(await routeBrokers(client, 'Kept'), ['broker-a'], 'the connection still serves');
});
