import t from 'tap';
import { perm_read, perm_write, type RegisterBrokerRequest, type TopicConfig } from '../../src/protocol/index.js';
import type { RegistryEvent } from '../../src/actors/registry/registry_events.js';
import { RouteRegistry } from '../../src/actors/registry/route_registry.js';
import { ManualClock } from '../../src/runtime/clock.js';
import { MqError } from '../../src/runtime/errors.js';

/**
 * The registry's rules, on the plain class with a manual clock: registration, routes and
 * their versions, heartbeats that ask for re-registration, expiry, eviction by connection,
 * withdrawal and deletion, and the events each change produces.
 */

const expiry_ms = 1_000;
const rw = perm_read | perm_write;

function fresh(): { registry: RouteRegistry; clock: ManualClock } {
  const clock = new ManualClock(1_700_000_000_000);
  return { registry: new RouteRegistry({ clock, broker_expiry_ms: expiry_ms }), clock };
}

function topic(name: string, queues = 4): TopicConfig {
  return { topic: name, readQueues: queues, writeQueues: queues, perm: rw };
}

function broker(name: string, id: number, port: number, topics: TopicConfig[], extra: Partial<RegisterBrokerRequest> = {}): RegisterBrokerRequest {
  return { cluster: 'C', brokerName: name, brokerId: id, address: `127.0.0.1:${port}`, haAddress: `127.0.0.1:${port + 1}`, epoch: 0, dataVersion: 1, topics, maxOffset: 0, inSyncSlaves: [], ...extra };
}

function kinds(events: RegistryEvent[]): string[] {
  return events.map((event) => {
    switch (event.kind) {
      case 'broker_registered':
        return `registered ${event.broker_name}/${event.broker_id}`;
      case 'broker_removed':
        return `removed ${event.broker_name}/${event.broker_id} ${event.reason}`;
      case 'topic_changed':
        return `topic ${event.topic} ${event.change}`;
      case 'route_changed':
        return `route ${event.topic} [${event.broker_names.join(',')}]`;
    }
  });
}

function errorCode(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (error instanceof MqError) return error.code;
    throw error;
  }
  return 'no error';
}

t.test('two broker groups serving a topic are both in its route, with queues per group', async (t) => {
  const { registry } = fresh();
  const a = registry.register(broker('broker-a', 0, 10911, [topic('Orders', 8)]), 'conn-a');
  t.same(kinds(a.events), ['registered broker-a/0', 'topic Orders created', 'route Orders [broker-a]']);
  t.same(a.value, { masterAddress: null, masterHaAddress: null, epoch: 0, master: true }, 'a master is told no master, and that it leads');
  const b = registry.register(broker('broker-b', 0, 20911, [topic('Orders', 4), topic('Audit')]), 'conn-b');
  t.same(kinds(b.events), ['registered broker-b/0', 'topic Orders updated', 'topic Audit created', 'route Orders [broker-a,broker-b]', 'route Audit [broker-b]']);

  const route = registry.route('Orders');
  t.same(route.brokers.map((group) => [group.brokerName, group.addresses]), [
    ['broker-a', { '0': '127.0.0.1:10911' }],
    ['broker-b', { '0': '127.0.0.1:20911' }],
  ]);
  t.same(route.queues.map((queue) => [queue.brokerName, queue.readQueues, queue.writeQueues, queue.perm]), [
    ['broker-a', 8, 8, rw],
    ['broker-b', 4, 4, rw],
  ]);
  t.same(registry.topicList(null).topics, ['Audit', 'Orders']);
  t.same(registry.topicList('C').topics, ['Audit', 'Orders']);
  t.same(registry.topicList('Other').topics, []);
  const info = registry.clusterInfo();
  t.same(info.groups.map((group) => [group.cluster, group.brokerName, group.members.map((member) => member.address)]), [
    ['C', 'broker-a', ['127.0.0.1:10911']],
    ['C', 'broker-b', ['127.0.0.1:20911']],
  ]);
  t.equal(info.dataVersion, 2, 'one data version per change');
});

t.test('route versions grow with each change of that route and stay when nothing changed', async (t) => {
  const { registry } = fresh();
  registry.register(broker('broker-a', 0, 10911, [topic('Orders'), topic('Audit')]), 'conn-a');
  const first = registry.route('Orders').routeVersion;
  const again = registry.register(broker('broker-a', 0, 10911, [topic('Orders'), topic('Audit')]), 'conn-a');
  t.same(again.events, [], 'an identical re-registration changes nothing');
  t.equal(registry.route('Orders').routeVersion, first, 'and keeps the version');

  registry.register(broker('broker-a', 0, 10911, [topic('Orders', 16), topic('Audit')], { dataVersion: 2 }), 'conn-a');
  const second = registry.route('Orders').routeVersion;
  t.ok(second > first, 'more queues: a newer route version');
  t.equal(registry.route('Audit').routeVersion, first, 'the other topic kept its version');

  const slave = registry.register(broker('broker-a', 1, 10921, [topic('Orders', 16), topic('Audit')], { dataVersion: 2 }), 'conn-a1');
  t.same(slave.value, { masterAddress: '127.0.0.1:10911', masterHaAddress: '127.0.0.1:10912', epoch: 0, master: false }, 'a slave learns its master');
  const unbound = fresh().registry;
  unbound.register(broker('g', 0, 30911, [], { haAddress: '127.0.0.1:0' }), 'm');
  t.same(unbound.register(broker('g', 1, 30921, []), 's').value, { masterAddress: '127.0.0.1:30911', masterHaAddress: null, epoch: 0, master: false }, 'an HA address with port 0 means none');
  t.same(kinds(slave.events), ['registered broker-a/1', 'route Orders [broker-a]', 'route Audit [broker-a]'], 'a new address in the group changes every route it serves');
  t.same(registry.route('Orders').brokers[0]?.addresses, { '0': '127.0.0.1:10911', '1': '127.0.0.1:10921' });
  t.ok(registry.route('Audit').routeVersion > second, 'versions only grow');

  registry.deleteTopic('Orders');
  t.equal(errorCode(() => registry.route('Orders')), 'TOPIC_NOT_FOUND');
  registry.register(broker('broker-a', 0, 10911, [topic('Orders', 16), topic('Audit')], { dataVersion: 3 }), 'conn-a');
  t.ok(registry.route('Orders').routeVersion > second, 'a re-created topic does not go back to an old version');
});

t.test('a heartbeat refreshes a known broker and asks an unknown or changed one to register', async (t) => {
  const { registry, clock } = fresh();
  const identity = { cluster: 'C', brokerName: 'broker-a', brokerId: 0, address: '127.0.0.1:10911', epoch: 0, dataVersion: 1, maxOffset: 0, inSyncSlaves: [] };
  t.equal(registry.heartbeat(identity, 'conn').registrationNeeded, true, 'unknown (e.g. after a nameserver restart)');
  registry.register(broker('broker-a', 0, 10911, [topic('Orders')]), 'conn');
  t.equal(registry.heartbeat(identity, 'conn').registrationNeeded, false);
  t.equal(registry.heartbeat({ ...identity, dataVersion: 2 }, 'conn').registrationNeeded, true, 'a newer data version needs the topics');
  t.equal(registry.heartbeat({ ...identity, address: '127.0.0.1:1' }, 'conn').registrationNeeded, true, 'another address');

  // Heartbeats keep it alive past the expiry.
  for (let i = 0; i < 5; i++) {
    clock.advance(expiry_ms - 100);
    registry.heartbeat(identity, 'conn');
    t.same(registry.expire(), [], `alive after ${i + 1} heartbeats`);
  }
});

t.test('a silent broker expires; its routes are withdrawn but the topic stays known (NO_ROUTE)', async (t) => {
  const { registry, clock } = fresh();
  registry.register(broker('broker-a', 0, 10911, [topic('Orders')]), 'conn-a');
  registry.register(broker('broker-b', 0, 20911, [topic('Orders'), topic('Solo')]), 'conn-b');
  clock.advance(expiry_ms / 2);
  registry.heartbeat({ cluster: 'C', brokerName: 'broker-a', brokerId: 0, address: '127.0.0.1:10911', epoch: 0, dataVersion: 1, maxOffset: 0, inSyncSlaves: [] }, 'conn-a');
  clock.advance(expiry_ms / 2);
  t.same(registry.expire(), [], 'exactly at the expiry is not past it');
  clock.advance(1);
  const events = registry.expire();
  t.same(kinds(events), ['removed broker-b/0 expired', 'route Orders [broker-a]', 'route Solo []']);
  t.same(registry.route('Orders').brokers.map((group) => group.brokerName), ['broker-a']);
  t.equal(errorCode(() => registry.route('Solo')), 'NO_ROUTE', 'no broker serves it: retriable NO_ROUTE');
  t.same(registry.topicList(null).topics, ['Orders', 'Solo']);
  t.same(registry.clusterInfo().groups.map((group) => group.brokerName), ['broker-a']);

  const back = registry.register(broker('broker-b', 0, 20911, [topic('Orders'), topic('Solo')]), 'conn-b2');
  t.same(kinds(back.events), ['registered broker-b/0', 'topic Orders updated', 'topic Solo updated', 'route Orders [broker-a,broker-b]', 'route Solo [broker-b]']);
  t.equal(registry.route('Solo').brokers.length, 1, 'back in the route');
});

t.test('closing the connection a broker registered over evicts it at once; another connection of it does not', async (t) => {
  const { registry } = fresh();
  registry.register(broker('broker-a', 0, 10911, [topic('Orders')]), 'conn-1');
  registry.register(broker('broker-b', 0, 20911, [topic('Orders')]), 'conn-2');
  // broker-a reconnects: its registration now belongs to conn-3, and the old conn-1 closing later changes nothing.
  registry.register(broker('broker-a', 0, 10911, [topic('Orders')]), 'conn-3');
  t.same(registry.connectionClosed('conn-1'), [], 'a stale connection');
  t.same(kinds(registry.connectionClosed('conn-2')), ['removed broker-b/0 disconnected', 'route Orders [broker-a]']);
  t.same(kinds(registry.connectionClosed('conn-3')), ['removed broker-a/0 disconnected', 'route Orders []']);
  t.equal(errorCode(() => registry.route('Orders')), 'NO_ROUTE');
});

t.test('unregister, delete, and a topic dropped by its broker', async (t) => {
  const { registry } = fresh();
  registry.register(broker('broker-a', 0, 10911, [topic('Orders'), topic('Old')]), 'conn-a');
  t.same(registry.unregister({ cluster: 'C', brokerName: 'broker-a', brokerId: 0, address: '127.0.0.1:9' }).events, [], 'a goodbye from another address is ignored');
  const dropped = registry.register(broker('broker-a', 0, 10911, [topic('Orders')], { dataVersion: 2 }), 'conn-a');
  t.same(kinds(dropped.events), ['topic Old deleted', 'route Old []'], 'a topic its only broker no longer has is gone');
  t.equal(errorCode(() => registry.route('Old')), 'TOPIC_NOT_FOUND');

  const deleted = registry.deleteTopic('Orders');
  t.same(kinds(deleted.events), ['topic Orders deleted', 'route Orders []']);
  t.equal(errorCode(() => registry.deleteTopic('Orders')), 'TOPIC_NOT_FOUND');

  const bye = registry.unregister({ cluster: 'C', brokerName: 'broker-a', brokerId: 0, address: '127.0.0.1:10911' });
  t.same(kinds(bye.events), ['removed broker-a/0 unregistered']);
  t.same(registry.clusterInfo().groups, []);
});

t.test('a group whose master leaves keeps serving from its slave until the slave leaves too', async (t) => {
  const { registry } = fresh();
  registry.register(broker('broker-a', 0, 10911, [topic('Orders')]), 'm');
  registry.register(broker('broker-a', 1, 10921, [topic('Orders'), topic('Ignored')]), 's');
  t.same(registry.topicList(null).topics, ['Orders'], "a slave's topic list does not override its master's");
  registry.connectionClosed('m');
  t.same(registry.route('Orders').brokers[0]?.addresses, { '1': '127.0.0.1:10921' }, 'readable from the slave');
  registry.connectionClosed('s');
  t.equal(errorCode(() => registry.route('Orders')), 'NO_ROUTE');
});

t.test('events are numbered without gaps across operations', async (t) => {
  const { registry, clock } = fresh();
  const events = [
    ...registry.register(broker('broker-a', 0, 10911, [topic('A')]), 'c1').events,
    ...registry.register(broker('broker-b', 0, 20911, [topic('A')]), 'c2').events,
    ...registry.deleteTopic('A').events,
  ];
  clock.advance(expiry_ms + 1);
  events.push(...registry.expire());
  t.same(events.map((event) => event.seq), events.map((_, index) => index + 1));
  t.ok(events.every((event) => event.at_ms >= 1_700_000_000_000), 'wall-clock stamps');
});

t.test('bad registrations are refused whole, with what to fix', async (t) => {
  const { registry } = fresh();
  const refused = (request: RegisterBrokerRequest): string => {
    try {
      registry.register(request, 'c');
    } catch (error) {
      return `${(error as MqError).code}: ${(error as MqError).message}`;
    }
    return 'accepted';
  };
  t.match(refused(broker('bad name', 0, 1, [])), /^BAD_REQUEST: brokerName "bad name" is invalid/);
  t.match(refused({ ...broker('b', 0, 1, []), address: 'nohost' }), /^BAD_REQUEST: address "nohost" is not host:port/);
  t.match(refused({ ...broker('b', 0, 1, []), address: 'h:70000' }), /^BAD_REQUEST: address/);
  t.match(refused(broker('b', 2_000, 1, [])), /^BAD_REQUEST: brokerId 2000 is invalid/);
  t.match(refused({ ...broker('b', 0, 1, []), haAddress: 'h:70000' }), /^BAD_REQUEST: haAddress/);
  t.match(refused(broker('b', 0, 1, [topic('bad topic!')])), /^BAD_REQUEST: topic name "bad topic!" is invalid/);
  t.match(refused(broker('b', 0, 1, [topic('T'), topic('T')])), /listed twice/);
  t.match(refused(broker('b', 0, 1, [topic('T', 5_000)])), /readQueues 5000 is not in 0\.\.1024/);
  t.same(registry.clusterInfo().groups, [], 'nothing of a refused registration stayed');

  t.equal(refused(broker('b', 0, 1, [], { epoch: 5 })), 'accepted'); // and leads epoch 6 (a new master, a new epoch)
  t.match(refused(broker('b', 0, 1, [], { cluster: 'D', epoch: 5 })), /^BAD_REQUEST: broker group 'b' belongs to cluster 'C'/);
  t.match(refused(broker('b', 0, 3, [], { epoch: 4 })), /^NOT_MASTER: .*epoch 4.*epoch 6/, 'a master of an older epoch is fenced');
  t.equal(errorCode(() => registry.route('no such topic')), 'BAD_REQUEST');
  t.equal(errorCode(() => registry.route('Nope')), 'TOPIC_NOT_FOUND');
});

t.test('an address taken over by another broker identity replaces the old one', async (t) => {
  const { registry } = fresh();
  registry.register(broker('broker-a', 0, 10911, [topic('A')]), 'c1');
  const taken = registry.register(broker('broker-b', 0, 10911, [topic('B')]), 'c2');
  t.same(kinds(taken.events), ['removed broker-a/0 replaced', 'registered broker-b/0', 'topic B created', 'route A []', 'route B [broker-b]']);
  // The same identity at a new address while the master at the old one is registered: two
  // brokers would lead one epoch, so it is refused; once the old one is gone, it is the master.
  t.equal(errorCode(() => registry.register(broker('broker-b', 0, 30911, [topic('B')]), 'c3')), 'NOT_MASTER', 'refused while the master at the old address is registered');
  registry.connectionClosed('c2');
  const moved = registry.register(broker('broker-b', 0, 30911, [topic('B')]), 'c3');
  t.same(kinds(moved.events), ['registered broker-b/0', 'topic B updated', 'route B [broker-b]'], 'accepted at the new address once the old one left');
  t.same(registry.route('B').brokers[0]?.addresses, { '0': '127.0.0.1:30911' });
});

t.test('a broker that followed the master of an epoch cannot claim that epoch as master', async (t) => {
  const { registry } = fresh();
  // Epoch 2's master is 10921 (it registered at epoch 1, so it leads a new one); 10911 is
  // its slave 1 and follows it, so its log knows epoch 2 too.
  t.match(registry.register(broker('g', 0, 10921, [topic('T')], { epoch: 1, inSyncSlaves: [1] }), 'conn-new').value, { master: true, epoch: 2 });
  registry.register(broker('g', 1, 10911, [], { epoch: 2 }), 'conn-old');
  // Killed and restarted with --broker-id 0, it registers as master at epoch 2.
  t.match(errorCode(() => registry.register(broker('g', 0, 10911, [topic('T')], { epoch: 2 }), 'conn-old-2')), 'NOT_MASTER', 'refused: epoch 2 has its master');
  t.same(registry.clusterInfo().groups[0]?.members.map((member) => [member.brokerId, member.address]), [[0, '127.0.0.1:10921'], [1, '127.0.0.1:10911']], 'the leader of epoch 2 stays the master');
  t.match(registry.register(broker('g', 0, 10921, [topic('T')], { epoch: 1, inSyncSlaves: [1] }), 'conn-new').value, { master: true, epoch: 2 }, 'the master\'s own registration in flight from before its answer keeps its epoch');
  t.match(registry.register(broker('g', 0, 10921, [topic('T')], { epoch: 2, inSyncSlaves: [1] }), 'conn-new').value, { master: true, epoch: 2 });
});

t.test('failover: a lost master makes the in-sync slave with the highest end the candidate at a new epoch; it takes id 0 and fences the old master', async (t) => {
  const { registry } = fresh();
  registry.register(broker('g', 1, 10921, [], { maxOffset: 5_000 }), 'conn-s1');
  registry.register(broker('g', 2, 10931, [], { maxOffset: 9_000 }), 'conn-s2');
  registry.register(broker('g', 3, 10941, [], { maxOffset: 12_000 }), 'conn-s3');
  // The master reports slaves 1 and 2 in sync (3 is ahead by its report, but not in sync).
  registry.register(broker('g', 0, 10911, [topic('T')], { maxOffset: 9_500, inSyncSlaves: [1, 2] }), 'conn-m');
  t.match(registry.register(broker('g', 2, 10931, [], { maxOffset: 9_000 }), 'conn-s2').value, { master: false, epoch: 0, masterAddress: '127.0.0.1:10911' });

  registry.connectionClosed('conn-m');
  const views = [1, 2, 3].map((id) => registry.register(broker('g', id, 10911 + 10 * id, [], { maxOffset: [0, 5_000, 9_000, 12_000][id] as number }), `conn-s${id}`).value);
  t.same(views.map((view) => [view.master, view.epoch]), [[false, 1], [true, 1], [false, 1]], 'slave 2 (in sync, highest end) is told it leads, at epoch 1; the others not');

  // The candidate registers as id 0 at the new epoch: its slave entry goes, no second election.
  t.match(registry.register(broker('g', 0, 10931, [topic('T')], { epoch: 1, maxOffset: 9_000 }), 'conn-s2').value, { master: true, epoch: 1 });
  const members = registry.clusterInfo().groups[0]?.members.map((member) => [member.brokerId, member.address]);
  t.same(members, [[0, '127.0.0.1:10931'], [1, '127.0.0.1:10921'], [3, '127.0.0.1:10941']], 'the promoted slave is id 0; its old id is gone');
  t.match(registry.register(broker('g', 1, 10921, [], { epoch: 1 }), 'conn-s1').value, { master: false, masterAddress: '127.0.0.1:10931' }, 'the other slaves follow the new master');

  // The old master comes back with its old epoch: fenced.
  t.throws(() => registry.register(broker('g', 0, 10911, [topic('T')], { epoch: 0 }), 'conn-old'), { code: 'NOT_MASTER' });
});

t.test('failover: no slave in sync, no promotion — the group waits for its master', async (t) => {
  const { registry } = fresh();
  registry.register(broker('g', 0, 10911, [topic('T')], { inSyncSlaves: [] }), 'conn-m');
  // A slave registers the topics it copied from its master.
  registry.register(broker('g', 1, 10921, [topic('T')], { maxOffset: 100 }), 'conn-s1');
  registry.connectionClosed('conn-m');
  t.match(registry.register(broker('g', 1, 10921, [topic('T')], { maxOffset: 100 }), 'conn-s1').value, { master: false, epoch: 0, masterAddress: null });
  t.match(registry.route('T').brokers[0]?.addresses, { 1: '127.0.0.1:10921' }, 'the route keeps the slave: consumers read from it');
});

t.test('a broker that only followed an epoch and then registers as the master leads a new one; the old master, back, is fenced', async (t) => {
  const { registry } = fresh();
  // 10921 leads epoch 1 (a failover promoted it); 10911, once the master, follows it as slave 1.
  t.match(registry.register(broker('g', 0, 10921, [topic('T')], { epoch: 1, inSyncSlaves: [] }), 'conn-m').value, { master: true, epoch: 2 });
  registry.register(broker('g', 1, 10911, [], { epoch: 2 }), 'conn-s');
  // The master dies with a tail its slave never got (not in sync: no election).
  registry.connectionClosed('conn-m');
  t.match(registry.register(broker('g', 1, 10911, [], { epoch: 2 }), 'conn-s').value, { master: false, epoch: 2, masterAddress: null }, 'no promotion without a slave in sync');
  // The slave, restarted with --broker-id 0, registers as master at epoch 2, the one it followed.
  t.match(registry.register(broker('g', 0, 10911, [topic('T')], { epoch: 2 }), 'conn-s-2').value, { master: true, epoch: 3 }, 'it leads epoch 3, from its own end');
  // The old master of epoch 2 comes back: fenced, so it rejoins as a slave and cuts its tail.
  t.equal(errorCode(() => registry.register(broker('g', 0, 10921, [topic('T')], { epoch: 2 }), 'conn-m-2')), 'NOT_MASTER');
  t.match(registry.register(broker('g', 1, 10921, [], { epoch: 2 }), 'conn-m-2').value, { master: false, epoch: 3, masterAddress: '127.0.0.1:10911' });
  // The new master's registration again, at the epoch it leads now: no further epoch.
  t.match(registry.register(broker('g', 0, 10911, [topic('T')], { epoch: 3 }), 'conn-s-2').value, { master: true, epoch: 3 });
});

t.test('a registry that lost its state gives a master that registers at a non-zero epoch a new one; epoch 0 stays the configured master\'s', async (t) => {
  const first = fresh().registry;
  t.match(first.register(broker('g', 0, 10911, [topic('T')], { epoch: 0 }), 'c').value, { master: true, epoch: 0 }, 'a new cluster\'s master leads epoch 0');
  const restarted = fresh().registry;
  restarted.register(broker('g', 1, 10921, [], { epoch: 4 }), 'c-s');
  t.match(restarted.register(broker('g', 0, 10911, [topic('T')], { epoch: 4 }), 'c-m').value, { master: true, epoch: 5 }, 'epoch 4 may have had another master: a new one');
});
