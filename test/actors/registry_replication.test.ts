import t, { type Test } from 'tap';
import { encodeRegistryCommand, type RegistryCommand } from '../../src/actors/registry/registry_commands.js';
import { registry_module_url, registry_protocol, type RegistryMessage, type RegistryReply } from '../../src/actors/registry/registry_messages.js';
import { decodeRegistrySnapshot } from '../../src/actors/registry/registry_snapshot.js';
import type { RegistryEvent } from '../../src/actors/registry/registry_events.js';
import {
  decodeBrokerHeartbeatResponse,
  decodeNsFetchResponse,
  encodeBrokerHeartbeatRequest,
  encodeDeleteTopicRequest,
  encodeRegisterBrokerRequest,
  encodeUnregisterBrokerRequest,
  perm_read,
  perm_write,
  type NsFetchResponse,
  type Result,
} from '../../src/protocol/index.js';
import type { ActorRef } from '../../src/runtime/actor_ref.js';
import type { ActorSystem } from '../../src/runtime/actor_system.js';
import { startActorSystem } from '../helpers/actor_systems.js';
import { tempDir } from '../storage/commit_log_helpers.js';

/**
 * The registry as a replicated state machine: a leader executes commands, a follower applies
 * what the leader's read_log serves (entries, or a snapshot when the logs do not meet), and
 * both end byte-identical. Commands that change nothing are not logged; a journaled registry
 * restarts at the position it stopped at.
 */

type Registry = ActorRef<RegistryMessage, RegistryReply>;

const expiry_ms = 60_000;
const start_ms = 1_700_000_000_000;
/** Small, so that catching up takes several fetches. */
const fetch_bytes_max = 400;
/** Bound on fetch rounds of one catch-up: far more than the workload needs. */
const fetch_rounds_max = 1_000;

async function startSystem(t: Test): Promise<ActorSystem> {
  const system = await startActorSystem({ threads: 2 });
  t.teardown(() => system.stop());
  return system;
}

function spawnRegistry(system: ActorSystem, address: string, journal_dir = ''): Promise<Registry> {
  return system.spawn({ address, module: registry_module_url, protocol: registry_protocol, args: { broker_expiry_ms: expiry_ms, journal_dir } });
}

function value<T>(result: Result<T>): T {
  if (!result.ok) throw result.error;
  return result.value;
}

function identity(index: number): { cluster: string; brokerName: string; brokerId: number; address: string } {
  return { cluster: 'C', brokerName: `broker-${index}`, brokerId: 0, address: `127.0.0.1:${10_000 + index}` };
}

function register(index: number, at_ms: number, connection_id: string, topics: string[]): RegistryCommand {
  const body = encodeRegisterBrokerRequest({
    ...identity(index), haAddress: '', epoch: 0, dataVersion: 1, maxOffset: index * 100, inSyncSlaves: [],
    topics: topics.map((topic) => ({ topic, readQueues: 4, writeQueues: 4, perm: perm_read | perm_write })),
  });
  return { kind: 'register_broker', at_ms, connection_id, body };
}

function heartbeat(index: number, at_ms: number, connection_id: string): RegistryCommand {
  const body = encodeBrokerHeartbeatRequest({ ...identity(index), epoch: 0, dataVersion: 1, maxOffset: index * 100 + 50, inSyncSlaves: [] });
  return { kind: 'broker_heartbeat', at_ms, connection_id, body };
}

/**
 * 51 commands, each of which changes the registry: 40 registrations over five connections,
 * heartbeats of brokers 0..5 over another connection, a topic deleted, a broker leaving,
 * a connection closing (evicting brokers 6, 11, ..., 36), an expiry evicting every broker
 * not heard since, and one registration after all that.
 */
function workload(offset_ms = 0): RegistryCommand[] {
  const at = (ms: number): number => start_ms + offset_ms + ms;
  const commands: RegistryCommand[] = [];
  for (let index = 0; index < 40; index++) commands.push(register(index, at(index * 10), `n1/c${index % 5}`, [`Shared${index % 7}`, `Own${index}`]));
  for (let index = 0; index < 6; index++) commands.push(heartbeat(index, at(50_000 + index), 'n1/c9'));
  commands.push({ kind: 'delete_topic', at_ms: at(50_100), body: encodeDeleteTopicRequest({ topic: 'Shared3' }) });
  commands.push({ kind: 'unregister_broker', at_ms: at(50_200), body: encodeUnregisterBrokerRequest(identity(7)) });
  commands.push({ kind: 'connection_closed', at_ms: at(50_300), connection_id: 'n1/c1' });
  commands.push({ kind: 'expire', at_ms: at(100_000) });
  commands.push(register(40, at(100_100), 'n1/c2', ['Shared0', 'Own40']));
  return commands;
}

function execute(registry: Registry, term: number, command: RegistryCommand): Promise<RegistryReply> {
  return registry.ask({ kind: 'execute', term, command: encodeRegistryCommand(command) });
}

/** Executes every command; the events of all, in order. */
async function executeAll(registry: Registry, term: number, commands: RegistryCommand[]): Promise<RegistryEvent[]> {
  const events: RegistryEvent[] = [];
  for (const command of commands) events.push(...(await execute(registry, term, command)).events);
  return events;
}

async function snapshotBytes(registry: Registry): Promise<Buffer> {
  return (await registry.ask({ kind: 'take_snapshot' })).response;
}

/** Where the registry's log ends, as `seq/term`. */
async function positionOf(registry: Registry): Promise<string> {
  const reply = await registry.ask({ kind: 'position' });
  return `${reply.last_seq}/${reply.last_term}`;
}

async function fetchFrom(leader: Registry, follower: Registry, bytes_max = fetch_bytes_max): Promise<{ fetched: Buffer; chunk: NsFetchResponse }> {
  const position = await follower.ask({ kind: 'position' });
  const reply = await leader.ask({ kind: 'read_log', from_seq: position.last_seq + 1, prev_term: position.last_term, bytes_max });
  return { fetched: reply.response, chunk: value(decodeNsFetchResponse(reply.response)) };
}

/** Feeds the follower from the leader until a fetch brings nothing new; what came, and how. */
async function catchUp(leader: Registry, follower: Registry): Promise<{ rounds: number; kinds: Set<string>; events: RegistryEvent[] }> {
  const kinds = new Set<string>();
  const events: RegistryEvent[] = [];
  for (let rounds = 0; rounds < fetch_rounds_max; rounds++) {
    const { fetched, chunk } = await fetchFrom(leader, follower);
    kinds.add(chunk.kind);
    if (chunk.kind === 'entries' && chunk.entries.length === 0) return { rounds, kinds, events };
    events.push(...(await follower.ask({ kind: 'replicate', fetched })).events);
  }
  throw new Error(`the follower did not catch up in ${fetch_rounds_max} fetches`);
}

/** Both registries hold the same bytes; on a mismatch the decoded states show where. */
async function assertIdentical(t: Test, leader: Registry, follower: Registry, what: string): Promise<void> {
  const [leader_bytes, follower_bytes] = [await snapshotBytes(leader), await snapshotBytes(follower)];
  if (!leader_bytes.equals(follower_bytes)) t.same(decodeRegistrySnapshot(follower_bytes), decodeRegistrySnapshot(leader_bytes), `${what}: states`);
  t.ok(leader_bytes.equals(follower_bytes), `${what}: snapshots byte-equal (${leader_bytes.length} bytes)`);
}

t.test('a follower fed by read_log and replicate ends byte-identical to the leader, with the same events', async (t) => {
  const system = await startSystem(t);
  const leader = await spawnRegistry(system, 'test/leader');
  const follower = await spawnRegistry(system, 'test/follower');
  const commands = workload();
  const leader_events = await executeAll(leader, 1, commands.slice(0, 25));
  const first = await catchUp(leader, follower);
  t.same([...first.kinds], ['entries'], 'the logs meet: entries only');
  t.ok(first.rounds > 1, `bytes_max split the catch-up into ${first.rounds} fetches`);
  t.equal(await positionOf(follower), '25/1');

  leader_events.push(...(await executeAll(leader, 1, commands.slice(25))));
  const { fetched } = await fetchFrom(leader, follower);
  const once = await follower.ask({ kind: 'replicate', fetched });
  const twice = await follower.ask({ kind: 'replicate', fetched });
  t.same([twice.last_seq, twice.events], [once.last_seq, []], 'a fetch replicated twice applies once');
  const second = await catchUp(leader, follower);

  t.equal(await positionOf(leader), `${commands.length}/1`, 'every workload command changed something and was logged');
  t.equal(await positionOf(follower), await positionOf(leader));
  t.same([...first.events, ...once.events, ...second.events], leader_events, 'the follower emitted the leader\'s events');
  await assertIdentical(t, leader, follower, 'after catching up');
});

t.test('read_log answers a snapshot when from_seq is past the leader\'s end; installing it makes the follower identical', async (t) => {
  const system = await startSystem(t);
  const leader = await spawnRegistry(system, 'test/leader');
  const follower = await spawnRegistry(system, 'test/follower');
  await executeAll(leader, 3, workload());
  const reply = await leader.ask({ kind: 'read_log', from_seq: 60, prev_term: 3, bytes_max: fetch_bytes_max });
  const chunk = value(decodeNsFetchResponse(reply.response));
  t.same([chunk.kind, chunk.entries, chunk.snapshotSeq, chunk.snapshotTerm], ['snapshot', [], 51, 3]);
  t.ok(chunk.snapshot.equals(await snapshotBytes(leader)), 'the snapshot is the leader\'s registry');

  const installed = await follower.ask({ kind: 'replicate', fetched: reply.response });
  t.same([installed.installed_snapshot, installed.last_seq, installed.last_term], [true, 51, 3]);
  await assertIdentical(t, leader, follower, 'after the snapshot');

  await executeAll(leader, 3, workload(200_000).slice(0, 10));
  const after = await catchUp(leader, follower);
  t.same([...after.kinds], ['entries'], 'the installed snapshot is a position the leader\'s log continues from');
  t.equal(await positionOf(follower), '61/3');
  await assertIdentical(t, leader, follower, 'after entries on top of the snapshot');
});

t.test('a follower whose log diverged (prev_term does not match) gets a snapshot and drops its own entries', async (t) => {
  const system = await startSystem(t);
  const leader = await spawnRegistry(system, 'test/leader');
  const follower = await spawnRegistry(system, 'test/follower');
  // The follower led term 1 alone for a while: entries the new leader never saw.
  await executeAll(follower, 1, [register(90, start_ms, 'n2/c1', ['Lost']), register(91, start_ms + 1, 'n2/c1', ['Lost'])]);
  await executeAll(leader, 2, workload());
  t.equal(await positionOf(follower), '2/1');

  const { fetched, chunk } = await fetchFrom(leader, follower);
  t.same([chunk.kind, chunk.snapshotSeq, chunk.snapshotTerm], ['snapshot', 51, 2], 'entry 2 is of term 2 on the leader, not 1');
  t.equal((await follower.ask({ kind: 'replicate', fetched })).installed_snapshot, true);
  const state = decodeRegistrySnapshot(await snapshotBytes(follower)).state;
  t.notOk(state.topics.some((topic) => topic.topic === 'Lost'), 'the diverged entries are gone');
  await assertIdentical(t, leader, follower, 'after the snapshot');
});

t.test('a command that changes nothing is not logged', async (t) => {
  const system = await startSystem(t);
  const leader = await spawnRegistry(system, 'test/leader');
  await executeAll(leader, 1, workload());
  const before = await snapshotBytes(leader);
  const quiet_ms = start_ms + 100_200;
  const unchanged: Array<[string, RegistryCommand]> = [
    ['an expire with nothing silent past the expiry', { kind: 'expire', at_ms: quiet_ms }],
    ['a heartbeat of an unknown broker', heartbeat(77, quiet_ms, 'n1/c1')],
    ['a closed connection no broker spoke over', { kind: 'connection_closed', at_ms: quiet_ms, connection_id: 'n1/c7' }],
    ['an unregister of an unknown broker', { kind: 'unregister_broker', at_ms: quiet_ms, body: encodeUnregisterBrokerRequest(identity(77)) }],
  ];
  for (const [what, command] of unchanged) {
    const reply = await execute(leader, 1, command);
    t.same([reply.logged, reply.last_seq, reply.events], [false, 51, []], what);
  }
  const ghost = await execute(leader, 1, heartbeat(77, quiet_ms, 'n1/c1'));
  t.equal(value(decodeBrokerHeartbeatResponse(ghost.response)).registrationNeeded, true, 'the unknown broker is told to register');
  const read = value(decodeNsFetchResponse((await leader.ask({ kind: 'read_log', from_seq: 52, prev_term: 1, bytes_max: fetch_bytes_max })).response));
  t.same([read.kind, read.entries], ['entries', []], 'nothing past entry 51 to fetch');
  t.ok(before.equals(await snapshotBytes(leader)), 'the registry is byte-for-byte as before');

  const known = await execute(leader, 1, heartbeat(40, quiet_ms, 'n1/c2'));
  t.same([known.logged, known.last_seq], [true, 52], 'a heartbeat of a known broker is logged (it moves the heard time)');
});

t.test('a journaled registry stopped and started on the same directory resumes at the same position and bytes', async (t) => {
  const system = await startSystem(t);
  const leader_dir = tempDir(t);
  const follower_dir = tempDir(t);
  let leader = await spawnRegistry(system, 'test/leader', leader_dir);
  let follower = await spawnRegistry(system, 'test/follower', follower_dir);
  const commands = workload();
  await executeAll(leader, 1, commands.slice(0, 30));
  // The follower's journal gets a snapshot (installed) and entries after it.
  await follower.ask({ kind: 'replicate', fetched: (await leader.ask({ kind: 'read_log', from_seq: 99, prev_term: 1, bytes_max: fetch_bytes_max })).response });
  await executeAll(leader, 1, commands.slice(30));
  await catchUp(leader, follower);
  const leader_before = await snapshotBytes(leader);
  const follower_before = await snapshotBytes(follower);

  await system.stopActor('test/leader');
  await system.stopActor('test/follower');
  leader = await spawnRegistry(system, 'test/leader', leader_dir);
  follower = await spawnRegistry(system, 'test/follower', follower_dir);
  t.equal(await positionOf(leader), '51/1', 'the leader replayed its log');
  t.equal(await positionOf(follower), '51/1', 'the follower loaded its snapshot and replayed the entries after it');
  t.ok((await snapshotBytes(leader)).equals(leader_before), 'the leader\'s registry is as it was');
  t.ok((await snapshotBytes(follower)).equals(follower_before), 'the follower\'s registry is as it was');

  const served = value(decodeNsFetchResponse((await leader.ask({ kind: 'read_log', from_seq: 10, prev_term: 1, bytes_max: 1_000_000 })).response));
  t.same([served.kind, served.entries.map((entry) => entry.seq)], ['entries', Array.from({ length: 42 }, (_, index) => 10 + index)], 'the recovered log serves entries');
  await executeAll(leader, 1, workload(200_000).slice(0, 5));
  await catchUp(leader, follower);
  t.equal(await positionOf(follower), '56/1');
  await assertIdentical(t, leader, follower, 'after the restart and more commands');
});
