import t, { type Test } from 'tap';
import { Admin, Producer } from '../../src/client/index.js';
import { runAdminCommand } from '../../src/client/admin_cli.js';
import { startNode } from '../cli/node_process.js';
import { topicRecords, until } from '../client/client_helpers.js';
import { tempDir } from '../storage/commit_log_helpers.js';
import {
  Clients,
  convergedSnapshots,
  killMember,
  leaderOf,
  pauseMember,
  resumeMember,
  snapshotGroups,
  startMember,
  startNamesrvCluster,
  type NamesrvCluster,
  type NamesrvMember,
} from './fixtures/namesrv_cluster.js';

/**
 * The nameserver cluster losing nodes to SIGKILL: the leader (or chain head) during a burst
 * of writes, a middle node of a chain, and a follower that restarts from its journal. What
 * was acknowledged is on every surviving node; the survivors hold identical registries.
 */

const writers = 8;
const burst_bound_ms = 60_000;

/**
 * Writes g<from>..g<to-1>, each to the running members in turn, retrying a write that fails
 * (its node died, or no leader is elected yet) on the next member until it is acknowledged.
 * Returns the acknowledged indices (all of them, unless the time bound ran out).
 */
async function burstWithRetries(clients: Clients, cluster: NamesrvCluster, from: number, to: number, onAcked: (count: number) => void = () => undefined): Promise<number[]> {
  const acked: number[] = [];
  const deadline_ms = performance.now() + burst_bound_ms;
  let next = from;
  await Promise.all(
    Array.from({ length: writers }, async (_, writer) => {
      let turn = writer;
      while (next < to && performance.now() < deadline_ms) {
        const index = next++;
        for (;;) {
          const running = cluster.members.filter((member) => member.node !== undefined);
          const member = running[turn++ % running.length] as NamesrvMember;
          try {
            await clients.register(member.address, index);
            acked.push(index);
            onAcked(acked.length);
            break;
          } catch {
            if (performance.now() >= deadline_ms) return;
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        }
      }
    }),
  );
  return acked.sort((a, b) => a - b);
}

async function expectAllKept(t: Test, clients: Clients, cluster: NamesrvCluster, acked: readonly number[]): Promise<void> {
  const snapshots = await convergedSnapshots(clients, cluster);
  const first = snapshots[0] as { address: string; state: Buffer };
  const groups = new Set(snapshotGroups(first.state));
  const lost = acked.filter((index) => !groups.has(`g${index}`));
  t.same(lost, [], `every one of ${acked.length} acknowledged writes is in the registry of ${first.address}`);
  for (const other of snapshots.slice(1)) t.ok(other.state.equals(first.state), `${other.address} holds the same registry, byte for byte`);
}

for (const mode of ['sync', 'chain'] as const) {
  t.test(`${mode}: kill -9 the ${mode === 'chain' ? 'head' : 'leader'} during 1,000 writes: a new one leads, nothing acknowledged is lost`, async (t) => {
    const clients = new Clients(t);
    const cluster = await startNamesrvCluster(t, mode);
    const leader = await leaderOf(clients, cluster);
    let killed: Promise<void> | undefined;
    const acked = await burstWithRetries(clients, cluster, 0, 1_000, (count) => {
      if (count === 300) killed = killMember(leader);
    });
    await killed;
    t.equal(acked.length, 1_000, 'every write was acknowledged in the end (retried through the election)');
    const successor = await leaderOf(clients, cluster);
    t.not(successor.address, leader.address, `a new leader: ${successor.address}`);
    await expectAllKept(t, clients, cluster, acked);
  });
}

t.test('sync: brokers and clients keep working through the loss of the leader nameserver', async (t) => {
  const clients = new Clients(t);
  const cluster = await startNamesrvCluster(t, 'sync');
  const namesrv = cluster.members.map((member) => member.address);
  const leader = await leaderOf(clients, cluster);
  const broker_node = await startNode(t, [
    '--role', 'broker', '--namesrv', namesrv.join(','), '--broker-name', 'b1', '--port', '0', '--admin-port', '0', '--ha-port', '0', '--grpc-port', '0',
    '--host', '127.0.0.1', '--data', tempDir(t), '--threads', '2', '--heartbeat-interval-ms', '200', '--log-level', 'error',
  ]);
  const broker = broker_node.ready['broker'] as string;
  const admin = new Admin({ namesrv });
  const producer = new Producer({ namesrv, sendTimeoutMs: 5_000, retries: 4 });
  t.teardown(async () => {
    await producer.shutdown();
    await admin.close();
  });
  await until('topic Before created', () => admin.createTopic({ topic: 'Before', queues: 2 }));
  await producer.start();
  const statuses: string[] = [];
  for (let index = 0; index < 20; index++) statuses.push((await producer.send({ topic: 'Before', body: `before-${index}` })).status);

  await killMember(leader);
  await leaderOf(clients, cluster);
  for (let index = 0; index < 20; index++) statuses.push((await producer.send({ topic: 'Before', body: `after-${index}` })).status);
  t.same(new Set(statuses), new Set(['SEND_OK']), 'all 40 sends before and after the kill answered SEND_OK');
  // A new topic: the broker registers it with the survivors, one of which forwards to the new leader.
  await until('topic After created and routed', async () => {
    await admin.createTopic({ topic: 'After', queues: 2 });
    return (await admin.route('After')).brokers.length === 1 ? true : undefined;
  });
  t.equal((await producer.send({ topic: 'After', body: 'new' })).status, 'SEND_OK', 'a send to the topic created after the failover');
  const bodies = (await topicRecords(broker, 'Before', 2)).map((message) => message.body.toString()).sort();
  t.same(bodies, [...Array.from({ length: 20 }, (_, i) => `after-${i}`), ...Array.from({ length: 20 }, (_, i) => `before-${i}`)].sort(), 'every send is stored');
  for (const member of cluster.members.filter((other) => other.node !== undefined)) {
    t.same(await clients.routeGroups(member.address, 'After'), ['b1'], `${member.address} routes the topic created after the failover`);
  }
});

t.test('chain: kill -9 the middle node: the chain re-links head to tail, writes go on; restarted, it rejoins at the tail', async (t) => {
  const clients = new Clients(t);
  const cluster = await startNamesrvCluster(t, 'chain');
  const leader = await leaderOf(clients, cluster);
  const chain = await until('a chain of three', async () => {
    const status = await clients.status(leader.address);
    return status.chain.length === 3 ? status.chain : undefined;
  });
  const acked = await burstWithRetries(clients, cluster, 0, 300);
  const middle = cluster.members.find((member) => member.address === chain[1]) as NamesrvMember;
  await killMember(middle);
  await until('the chain without the middle node', async () => {
    const status = await clients.status(leader.address);
    return status.chain.length === 2 && status.chain[0] === chain[0] && status.chain[1] === chain[2] ? true : undefined;
  });
  t.pass(`re-linked: ${chain[0]} -> ${chain[2]}`);
  acked.push(...(await burstWithRetries(clients, cluster, 300, 600)));
  t.equal(acked.length, 600, 'writes before and after the kill acknowledged');

  // Back from its journal, it copies what it missed from the tail and joins at the tail.
  await startMember(t, cluster, middle);
  await until('the restarted node at the tail of the chain', async () => {
    const status = await clients.status(leader.address);
    return status.chain.join(' ') === [chain[0], chain[2], chain[1]].join(' ') ? true : undefined;
  });
  t.pass(`rejoined at the tail: ${chain[0]} -> ${chain[2]} -> ${chain[1]}`);
  acked.push(...(await burstWithRetries(clients, cluster, 600, 700)));
  t.equal(acked.length, 700, 'writes after the rejoin acknowledged');
  t.same(await clients.routeGroups(chain[1] as string, 't650'), ['g650'], 'a read at the rejoined tail sees them');
  await expectAllKept(t, clients, cluster, acked);
});

t.test('a follower killed -9 and restarted catches up from its own sequence number (no snapshot)', async (t) => {
  const clients = new Clients(t);
  const cluster = await startNamesrvCluster(t, 'async');
  const leader = await leaderOf(clients, cluster);
  await burstWithRetries(clients, cluster, 0, 300);
  const follower = cluster.members.find((member) => member !== leader) as NamesrvMember;
  const before = (await convergedSnapshots(clients, cluster))[0] as { seq: number };
  await killMember(follower);
  await burstWithRetries(clients, cluster, 300, 600);

  // What an operator sees meanwhile: `mq-node admin namesrv status` over all three.
  let table = '';
  const exit = await runAdminCommand(['namesrv', 'status', '--namesrv', cluster.members.map((member) => member.address).join(',')], {
    stdout: (text) => (table += text), stderr: () => undefined, env: {}, nowMs: () => Date.now(),
  });
  t.equal(exit, 0, 'admin namesrv status exits 0 with a node down');
  const rows = table.trim().split('\n').slice(2);
  t.match(rows.find((row) => row.startsWith(follower.address)) ?? '', /unreachable/, 'the killed follower shows as unreachable');
  const [, role, mode, , leader_column, last_seq] = (rows.find((row) => row.startsWith(leader.address)) ?? '').split(/\s+/);
  t.same([role, mode, leader_column], ['leader', 'async', leader.address], 'the leader shows its role, mode and itself as leader');
  t.ok(Number(last_seq) >= before.seq + 300, `and its log end (${last_seq}) past the 300 writes made since the kill`);

  await startMember(t, cluster, follower);
  const status = await clients.status(follower.address);
  t.equal(status.resumedFromSeq, before.seq, `resumed from its journal at seq ${before.seq}`);
  const acked = Array.from({ length: 600 }, (_, index) => index);
  await expectAllKept(t, clients, cluster, acked);
  const after = await clients.status(follower.address);
  t.equal(after.snapshotsInstalled, 0, 'caught up from the log, without a snapshot');
  t.ok(after.lastSeq > before.seq, `and went on to seq ${after.lastSeq}`);
});

t.test('a leader frozen (SIGSTOP) past the election timeout is replaced; woken, it takes no write as leader and follows', async (t) => {
  const clients = new Clients(t);
  const cluster = await startNamesrvCluster(t, 'sync');
  const old_leader = await leaderOf(clients, cluster);
  const old_term = (await clients.status(old_leader.address)).term;
  await burstWithRetries(clients, cluster, 0, 100);
  pauseMember(old_leader);
  const others = cluster.members.filter((member) => member !== old_leader);
  const new_leader = await until('the two others elect one of them', async () => {
    const statuses = await Promise.all(others.map((member) => clients.status(member.address)));
    const leader = statuses.find((status) => status.role === 'leader');
    return leader !== undefined && statuses.every((status) => status.leader === leader.self && status.term > old_term) ? leader.self : undefined;
  }, 30_000);
  // Sent while it is frozen: the request waits in its socket until it wakes.
  const write_to_old = clients.register(old_leader.address, 100).then(() => 'acknowledged', (error: unknown) => `refused: ${String(error)}`);
  resumeMember(old_leader);
  const outcome = await write_to_old;
  t.match(outcome, /^(acknowledged|refused: .*BROKER_UNAVAILABLE|refused: .*no nameserver leads)/, `the write sent to the old leader: ${outcome}`);
  const rejoined = await until('the old leader follows the new one', async () => {
    const status = await clients.status(old_leader.address);
    return status.role === 'follower' && status.leader === new_leader ? status : undefined;
  }, 30_000);
  t.ok(rejoined.term > old_term, `it moved on to term ${rejoined.term}`);
  // Acknowledged, it must be kept (checked below); refused, it is sent again, forwarded now.
  if (outcome !== 'acknowledged') await clients.register(old_leader.address, 100);
  const acked = Array.from({ length: 101 }, (_, index) => index);
  await expectAllKept(t, clients, cluster, acked);
});
