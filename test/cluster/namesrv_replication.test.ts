import t, { type Test } from 'tap';
import { ClientConnection } from '../../src/client/remoting/client_connection.js';
import { decodeClusterInfo, encodeGetClusterInfoRequest, request_codes } from '../../src/protocol/index.js';
import {
  Clients,
  convergedSnapshots,
  leaderOf,
  pauseMember,
  resumeMember,
  snapshotGroups,
  startNamesrvCluster,
  type NamesrvCluster,
  type NamesrvMember,
} from './fixtures/namesrv_cluster.js';

/**
 * The replicated registry, per --replication mode, on three nameserver processes: a burst of
 * 1,000 registry writes sent to all three (followers forward theirs to the leader) leaves
 * every node with the same registry, byte for byte; and a write is acknowledged only when
 * the mode allows, shown by pausing followers (SIGSTOP) while a write waits.
 */

const writes = 1_000;
const writers = 16;

/** Sends registrations `from`..`to`-1 round-robin over the members, `writers` at a time. */
async function burst(clients: Clients, cluster: NamesrvCluster, from: number, to: number): Promise<void> {
  let next = from;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (next < to) {
        const index = next++;
        const member = cluster.members[index % cluster.members.length] as NamesrvMember;
        await clients.register(member.address, index);
      }
    }),
  );
}

async function expectSameRegistry(t: Test, clients: Clients, cluster: NamesrvCluster, groups: number): Promise<void> {
  const snapshots = await convergedSnapshots(clients, cluster);
  const first = snapshots[0] as { address: string; seq: number; state: Buffer };
  t.equal(snapshotGroups(first.state).length, groups, `${first.address} holds all ${groups} groups`);
  for (const other of snapshots.slice(1)) {
    t.ok(other.state.equals(first.state), `${other.address} holds the registry of ${first.address}, byte for byte (seq ${other.seq})`);
  }
}

/** Starts a write at the leader and reports when it was acknowledged. */
function timedWrite(clients: Clients, leader: NamesrvMember, index: number): { done: Promise<number>; settled: () => boolean } {
  let settled = false;
  const done = clients.register(leader.address, index).then(() => {
    settled = true;
    return performance.now();
  });
  return { done, settled: () => settled };
}

const hold_ms = 700;

function followersOf(cluster: NamesrvCluster, leader: NamesrvMember): NamesrvMember[] {
  return cluster.members.filter((member) => member !== leader);
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

t.test('sync: 1,000 writes leave three identical registries; a write waits for a paused follower', async (t) => {
  const clients = new Clients(t);
  const cluster = await startNamesrvCluster(t, 'sync');
  const leader = await leaderOf(clients, cluster);
  await burst(clients, cluster, 0, writes);
  await expectSameRegistry(t, clients, cluster, writes);

  const [paused] = followersOf(cluster, leader) as [NamesrvMember];
  pauseMember(paused);
  const write = timedWrite(clients, leader, writes);
  await sleep(hold_ms);
  t.notOk(write.settled(), 'not acknowledged while a follower is paused');
  const resumed_ms = performance.now();
  resumeMember(paused);
  t.ok((await write.done) >= resumed_ms, 'acknowledged after the follower resumed');
  await expectSameRegistry(t, clients, cluster, writes + 1);
});

t.test('async: a write is acknowledged while both followers are paused; they catch up', async (t) => {
  const clients = new Clients(t);
  const cluster = await startNamesrvCluster(t, 'async');
  const leader = await leaderOf(clients, cluster);
  await burst(clients, cluster, 0, writes);
  await expectSameRegistry(t, clients, cluster, writes);

  const followers = followersOf(cluster, leader);
  for (const follower of followers) pauseMember(follower);
  const write = timedWrite(clients, leader, writes);
  await sleep(hold_ms);
  t.ok(write.settled(), 'acknowledged with no follower running');
  for (const follower of followers) resumeMember(follower);
  await write.done;
  await expectSameRegistry(t, clients, cluster, writes + 1);
});

t.test('semi-sync (1 ack, 300 ms): one paused follower does not hold a write; two do, until the timeout, which is reported', async (t) => {
  const clients = new Clients(t);
  const cluster = await startNamesrvCluster(t, 'semi-sync', ['--semi-sync-acks', '1', '--semi-sync-timeout-ms', '300']);
  const leader = await leaderOf(clients, cluster);
  await burst(clients, cluster, 0, writes);
  await expectSameRegistry(t, clients, cluster, writes);

  const [first, second] = followersOf(cluster, leader) as [NamesrvMember, NamesrvMember];
  pauseMember(first);
  const one_paused = timedWrite(clients, leader, writes);
  await sleep(hold_ms);
  t.ok(one_paused.settled(), 'acknowledged: the running follower applied it');

  pauseMember(second);
  const started_ms = performance.now();
  const both_paused = timedWrite(clients, leader, writes + 1);
  const acknowledged_ms = await both_paused.done;
  t.ok(acknowledged_ms - started_ms >= 300, `held for the semi-sync timeout (${Math.round(acknowledged_ms - started_ms)} ms) with no follower running`);
  t.ok((await clients.status(leader.address)).semiSyncFallbacks >= 1, 'the fallback to async is reported');
  resumeMember(first);
  resumeMember(second);
  await expectSameRegistry(t, clients, cluster, writes + 2);
});

t.test('chain: a write is acknowledged only after the tail applied it; reads are the tail’s', async (t) => {
  const clients = new Clients(t);
  const cluster = await startNamesrvCluster(t, 'chain');
  const leader = await leaderOf(clients, cluster);
  const chain = await fullChain(clients, leader);
  await burst(clients, cluster, 0, writes);
  await expectSameRegistry(t, clients, cluster, writes);

  const tail = cluster.members.find((member) => member.address === chain.at(-1)) as NamesrvMember;
  const middle = cluster.members.find((member) => member.address === chain[1]) as NamesrvMember;
  for (const paused of [tail, middle]) {
    pauseMember(paused);
    const index = writes + (paused === tail ? 0 : 1);
    const write = timedWrite(clients, leader, index);
    await sleep(hold_ms);
    t.notOk(write.settled(), `not acknowledged while the ${paused === tail ? 'tail' : 'middle node'} is paused`);
    const resumed_ms = performance.now();
    resumeMember(paused);
    t.ok((await write.done) >= resumed_ms, 'acknowledged after it resumed');
    t.same(await clients.routeGroups(middle.address, `t${index}`), [`g${index}`], 'a read at the middle node (answered by the tail) sees the write');
  }
  await expectSameRegistry(t, clients, cluster, writes + 2);

  // Cluster info read at the middle node comes from the tail over their link, written in that
  // link's version: clients of either protocol version get it in their own.
  const brokersAt = async (address: string, version: number): Promise<string[]> => {
    const connection = await ClientConnection.connect(address, { client_id: `cluster-reader-v${version}`, kind: 'CLIENT', versions: { version_min: 1, version_max: version } });
    try {
      const answer = await connection.requestVersioned(request_codes.GET_CLUSTER_INFO, encodeGetClusterInfoRequest({}));
      t.equal(answer.protocol_version, version);
      const info = decodeClusterInfo(answer.body, answer.protocol_version);
      if (!info.ok) throw info.error;
      return info.value.groups.map((group) => `${group.brokerName}:${group.members.map((member) => `${member.brokerId}@${member.address}/${member.epoch}`).join(',')}`);
    } finally {
      connection.close();
    }
  };
  const at_tail = await brokersAt(tail.address, 2);
  t.equal(at_tail.length, writes + 2, 'the tail lists every registered broker group');
  t.same(await brokersAt(middle.address, 2), at_tail, 'a protocol 2 client at the middle node reads the tail\'s cluster info');
  t.same(await brokersAt(middle.address, 1), at_tail, 'and so does a protocol 1 client, in version 1');
});

/** Waits until the leader's chain holds all three nodes; returns it, head first. */
async function fullChain(clients: Clients, leader: NamesrvMember): Promise<string[]> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const status = await clients.status(leader.address);
    if (status.chain.length === 3) return status.chain;
    await sleep(50);
  }
  throw new Error('the chain never held all three nameservers');
}
