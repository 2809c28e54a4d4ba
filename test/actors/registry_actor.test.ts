import t, { type Test } from 'tap';
import { registry_address, registry_module_url, registry_protocol, type RegistryMessage, type RegistryReply } from '../../src/actors/registry/registry_messages.js';
import { encodeRegistryCommand, type RegistryCommand } from '../../src/actors/registry/registry_commands.js';
import {
  decodeBrokerHeartbeatResponse,
  decodeClusterInfo,
  decodeRegisterBrokerResponse,
  decodeTopicList,
  decodeTopicRouteData,
  encodeBrokerHeartbeatRequest,
  encodeDeleteTopicRequest,
  encodeGetClusterInfoRequest,
  encodeGetRouteRequest,
  encodeGetTopicListRequest,
  encodeRegisterBrokerRequest,
  perm_read,
  perm_write,
  type Result,
  protocol_version_max,
} from '../../src/protocol/index.js';
import type { ActorRef } from '../../src/runtime/actor_ref.js';
import { type ActorSystem } from '../../src/runtime/actor_system.js';
import { startActorSystem } from '../helpers/actor_systems.js';
import { MqError } from '../../src/runtime/errors.js';

/**
 * The registry actor on a worker thread: requests in as wire bodies, wire responses and
 * events out, expiry by the time the commands carry (a short expiry here), eviction by connection, and
 * errors that reach the asker whole while the actor goes on.
 */

const expiry_ms = 1_000;

async function startRegistry(t: Test): Promise<ActorRef<RegistryMessage, RegistryReply>> {
  const system = await startActorSystem({ threads: 1 });
  t.teardown(() => system.stop());
  return system.spawn({ address: registry_address, module: registry_module_url, protocol: registry_protocol, args: { broker_expiry_ms: expiry_ms, journal_dir: '' } });
}

/** Executes a command as a node alone would (term 0), stamped now unless `at_ms` is given. */
type Unstamped<C> = C extends RegistryCommand ? Omit<C, 'at_ms'> & { at_ms?: number } : never;
function run(registry: ActorRef<RegistryMessage, RegistryReply>, command: Unstamped<RegistryCommand>): Promise<RegistryReply> {
  return registry.ask({ kind: 'execute', term: 0, command: encodeRegistryCommand({ at_ms: Date.now(), ...command } as RegistryCommand) });
}

function value<T>(result: Result<T>): T {
  if (!result.ok) throw result.error;
  return result.value;
}

function registration(name: string, port: number, topics: string[]): Buffer {
  return encodeRegisterBrokerRequest({
    cluster: 'C', brokerName: name, brokerId: 0, address: `127.0.0.1:${port}`, haAddress: '', epoch: 0, dataVersion: 1, maxOffset: 0, inSyncSlaves: [],
    topics: topics.map((topic) => ({ topic, readQueues: 2, writeQueues: 2, perm: perm_read | perm_write })),
  });
}

async function routeOf(registry: ActorRef<RegistryMessage, RegistryReply>, topic: string): Promise<string[]> {
  const reply = await registry.ask({ kind: 'get_route', body: encodeGetRouteRequest({ topic }) });
  return value(decodeTopicRouteData(reply.response)).brokers.map((group) => group.brokerName);
}

async function errorOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof MqError) return `${error.code}: ${error.message}`;
    throw error;
  }
  return 'no error';
}

t.test('register, route, cluster info and topic list through the actor, with the events of each change', async (t) => {
  const registry = await startRegistry(t);
  const first = await run(registry, { kind: 'register_broker', connection_id: 'c1', body: registration('broker-a', 10911, ['Orders']) });
  t.same(value(decodeRegisterBrokerResponse(first.response)), { masterAddress: null, masterHaAddress: null, epoch: 0, master: true });
  t.same(first.events.map((event) => event.kind), ['broker_registered', 'topic_changed', 'route_changed']);
  t.same(first.events.map((event) => event.seq), [1, 2, 3], 'events cross the thread numbered');
  const route_event = first.events[2];
  t.same(route_event?.kind === 'route_changed' ? [route_event.topic, route_event.broker_names] : null, ['Orders', ['broker-a']]);

  await run(registry, { kind: 'register_broker', connection_id: 'c2', body: registration('broker-b', 20911, ['Orders']) });
  t.same(await routeOf(registry, 'Orders'), ['broker-a', 'broker-b']);
  const info = value(decodeClusterInfo((await registry.ask({ kind: 'get_cluster_info', body: encodeGetClusterInfoRequest({}) })).response, protocol_version_max));
  t.same(info.groups.map((group) => group.brokerName), ['broker-a', 'broker-b']);
  t.equal(info.dataVersion, 2);
  const list = value(decodeTopicList((await registry.ask({ kind: 'get_topic_list', body: encodeGetTopicListRequest({ cluster: null }) })).response));
  t.same(list.topics, ['Orders']);

  const closed = await run(registry, { kind: 'connection_closed', connection_id: 'c2' });
  t.same(closed.events.map((event) => event.kind), ['broker_removed', 'route_changed'], 'the connection closing evicted broker-b');
  t.same(await routeOf(registry, 'Orders'), ['broker-a']);

  const deleted = await run(registry, { kind: 'delete_topic', body: encodeDeleteTopicRequest({ topic: 'Orders' }) });
  t.same(deleted.events.map((event) => event.kind), ['topic_changed', 'route_changed']);
  t.match(await errorOf(routeOf(registry, 'Orders')), /^TOPIC_NOT_FOUND: topic 'Orders' is not known/);
});

t.test('a silent broker expires by the time of the expire command; a heartbeating one stays', async (t) => {
  const registry = await startRegistry(t);
  // Taken before the registration: the broker was heard no earlier than this.
  const registered_ms = performance.now();
  await run(registry, { kind: 'register_broker', connection_id: 'c1', body: registration('quiet', 10911, ['Q']) });
  await run(registry, { kind: 'register_broker', connection_id: 'c2', body: registration('lively', 20911, ['L']) });
  const heartbeat = encodeBrokerHeartbeatRequest({ cluster: 'C', brokerName: 'lively', brokerId: 0, address: '127.0.0.1:20911', epoch: 0, dataVersion: 1, maxOffset: 0, inSyncSlaves: [] });
  const removed: string[] = [];
  // Scan as the nameserver does, a few times per expiry, until the quiet one is gone (bounded).
  while (removed.length === 0 && performance.now() - registered_ms < 20 * expiry_ms) {
    await new Promise((resolve) => setTimeout(resolve, expiry_ms / 10));
    const answer = value(decodeBrokerHeartbeatResponse((await run(registry, { kind: 'broker_heartbeat', connection_id: 'c2', body: heartbeat })).response));
    t.equal(answer.registrationNeeded, false, 'the heartbeating broker is known');
    for (const event of (await run(registry, { kind: 'expire' })).events) {
      if (event.kind === 'broker_removed') removed.push(`${event.broker_name} ${event.reason}`);
    }
  }
  t.ok(performance.now() - registered_ms >= expiry_ms, 'not before the expiry');
  t.same(removed, ['quiet expired']);
  t.match(await errorOf(routeOf(registry, 'Q')), /^NO_ROUTE: /, 'its route is withdrawn');
  t.same(await routeOf(registry, 'L'), ['lively']);
});

t.test('bad bodies and unknown topics are answered with errors, and the actor goes on', async (t) => {
  const registry = await startRegistry(t);
  t.match(await errorOf(run(registry, { kind: 'register_broker', connection_id: 'c', body: Buffer.from([1, 2, 3]) })), /^BAD_REQUEST: mq\.RegisterBrokerRequest is malformed/);
  t.match(await errorOf(registry.ask({ kind: 'get_route', body: encodeGetRouteRequest({ topic: 'has space' }) })), /^BAD_REQUEST: topic name "has space" is invalid/);
  t.match(await errorOf(run(registry, { kind: 'delete_topic', body: encodeDeleteTopicRequest({ topic: 'Nope' }) })), /^TOPIC_NOT_FOUND/);
  await run(registry, { kind: 'register_broker', connection_id: 'c', body: registration('broker-a', 10911, ['Fine']) });
  t.same(await routeOf(registry, 'Fine'), ['broker-a'], 'still serving');
});
