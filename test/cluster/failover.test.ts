import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { Consumer, Producer, type ReceivedMessage } from '../../src/client/index.js';
import { ClientConnection } from '../../src/client/remoting/client_connection.js';
import * as p from '../../src/protocol/index.js';
import { topicRecords, until } from '../client/client_helpers.js';
import { prng } from '../helpers/prng.js';
import { sendRequest } from '../server/broker/broker_helpers.js';
import { commitLogPrefix, createHaTopic, haGroupMaster, haGroupMembers, startHaBroker, startHaCluster } from './fixtures/ha_cluster.js';

/**
 * Failover between real broker processes under sync replication (--flush sync too): the
 * master is killed -9 while producers send; the nameserver promotes the slave at a new
 * epoch; every message acknowledged SEND_OK is on the new master, byte-equal; a consumer of
 * the group resumes from the offsets the slave copied; the old master, restarted, is fenced
 * (its registration as master refused), rejoins as a slave, cuts what it had written and
 * nobody acknowledged, catches up, and refuses sends with NOT_MASTER.
 *
 * Replay: MQ_TEST_SEED=<seed printed in the test name> (where the kill falls).
 */

// Run directly (`node dist/test/...`), tap's root test times out after 30 s; the tap runner's
// per-file timeout (.taprc) still applies.
t.setTimeout(200_000);

const seed = Number(process.env['MQ_TEST_SEED'] ?? Date.now() % 1_000_000);
const topic = 'Payments';
const queues = 4;
const group = 'payment-readers';
/** Phase 1 sends messages 0..1,999; phase 2, with the kill, 2,000..7,999. */
const phase_2_first = 2_000;
const phase_2_end = 8_000;
const sync_flags = ['--replication', 'sync', '--flush', 'sync', '--replication-timeout-ms', '1000'] as const;

function keyOf(index: number): string {
  return `pay-${index}`;
}

function indexOf(key: string | undefined): number {
  return Number((key ?? '').slice('pay-'.length));
}

function bodyOf(index: number): Buffer {
  return Buffer.from(`payment ${index} `.repeat(1 + (index % 4)));
}

async function startProducer(t: Test, namesrv: string): Promise<Producer> {
  const producer = new Producer({ namesrv, sendTimeoutMs: 5_000, retries: 2 });
  t.teardown(() => producer.shutdown());
  await producer.start();
  return producer;
}

/** A consumer of the group that records every message (listener never fails). */
async function startConsumer(t: Test, namesrv: string, received: ReceivedMessage[]): Promise<Consumer> {
  const consumer = new Consumer({
    namesrv, group, subscriptions: [{ topic }], fromWhere: 'first', logger: { warn: () => undefined },
    rebalanceIntervalMs: 200, commitIntervalMs: 200, longPollTimeoutMs: 1_000,
  });
  consumer.onMessage(async (message) => {
    received.push(message);
  });
  t.teardown(() => consumer.shutdown());
  await consumer.start();
  return consumer;
}

/** Every record of the topic on `broker`, by raw PULL. */
function recordsOn(broker: string): Promise<p.StoredMessage[]> {
  return topicRecords(broker, topic, queues);
}

/** Messages `from`..`to - 1`, four senders at a time; `onAcked` sees each SEND_OK. */
async function sendAll(producer: Producer, from: number, to: number, onAcked: (index: number) => void): Promise<Map<string, number>> {
  const statuses = new Map<string, number>();
  let next = from;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < to) {
      const index = next++;
      let status: string;
      try {
        status = (await producer.send({ topic, body: bodyOf(index), keys: [keyOf(index)] })).status;
      } catch (error) {
        status = (error as { code?: string }).code ?? 'ERROR';
      }
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status === 'SEND_OK') onAcked(index);
    }
  }));
  return statuses;
}

/** The group's committed offset of each queue on `broker` (-1: none). */
async function committedOn(broker: string): Promise<number[]> {
  const client = await ClientConnection.connect(broker, { client_id: 'failover-offsets', kind: 'CLIENT' });
  try {
    const offsets: number[] = [];
    for (let queue = 0; queue < queues; queue++) {
      const reply = p.decodeQueryConsumerOffsetResponse(await client.request(p.request_codes.QUERY_CONSUMER_OFFSET, p.encodeQueryConsumerOffsetRequest({ group, topic, queueId: queue })));
      offsets.push(reply.ok ? reply.value.offset : -2);
    }
    return offsets;
  } finally {
    client.close();
  }
}

t.test(`sync replication, master killed -9 under load (MQ_TEST_SEED=${seed}): the slave is promoted, no SEND_OK message is lost, consumers resume from their offsets`, { timeout: 180_000 }, async (t) => {
  const cluster = await startHaCluster(t, sync_flags);
  await createHaTopic(t, cluster.namesrv, topic, queues);
  const producer = await startProducer(t, cluster.namesrv);
  await until('a sync send is acknowledged by the slave', async () => ((await producer.send({ topic, body: bodyOf(-1), keys: [keyOf(-1)] })).status === 'SEND_OK' ? true : undefined));

  // Phase 1: 2,000 messages, consumed and committed by a first consumer, which then leaves.
  const acked = new Set<number>([-1]);
  const first_statuses = await sendAll(producer, 0, phase_2_first, (index) => acked.add(index));
  t.same(Object.fromEntries(first_statuses), { SEND_OK: phase_2_first }, 'phase 1: 2,000 SEND_OK');
  const first_received: ReceivedMessage[] = [];
  const first = await startConsumer(t, cluster.namesrv, first_received);
  await until('the first consumer received phase 1', () => (new Set(first_received.map((message) => message.keys[0])).size >= phase_2_first + 1 ? true : undefined), 60_000);
  await first.shutdown();
  const committed = await committedOn(cluster.master.broker);
  await until("the slave copied the group's offsets", async () => (JSON.stringify(await committedOn(cluster.slave.broker)) === JSON.stringify(committed) ? true : undefined));

  // Phase 2: 6,000 more; the master is killed -9 somewhere in the middle.
  const kill_after = 1_000 + Math.floor(prng(seed)() * 4_000);
  let acked_in_phase_2 = 0;
  let killed = false;
  let killed_at_ms = 0;
  const kill = async (): Promise<void> => {
    killed_at_ms = performance.now();
    await cluster.master.node.signal('SIGKILL');
  };
  let killing: Promise<void> | undefined;
  const second_statuses = await sendAll(producer, phase_2_first, phase_2_end, (index) => {
    acked.add(index);
    acked_in_phase_2++;
    if (!killed && acked_in_phase_2 >= kill_after) {
      killed = true;
      killing = kill();
    }
  });
  await killing;
  t.ok(killed, `the master was killed -9 after ${kill_after} phase-2 acknowledgements (${JSON.stringify(Object.fromEntries(second_statuses))})`);

  const promoted = await until('the slave is promoted (listed as the master)', async () => ((await haGroupMaster(cluster.namesrv)) === cluster.slave.broker ? true : undefined), 30_000);
  t.ok(promoted, `the slave is the master now (seen ${Math.round(performance.now() - killed_at_ms)} ms after the kill, once the senders were done)`);

  // Every SEND_OK message is on the new master, with its body.
  const stored = await recordsOn(cluster.slave.broker);
  const by_key = new Map(stored.map((record) => [record.keys[0] ?? '', record]));
  const lost = [...acked].filter((index) => by_key.get(keyOf(index))?.body.equals(bodyOf(index)) !== true);
  t.same(lost.slice(0, 20), [], `all ${acked.size} SEND_OK messages are on the new master, byte-equal (${lost.length} missing)`);

  // A consumer of the group after the failover starts from the copied offsets: none of phase 1 again.
  const second_received: ReceivedMessage[] = [];
  await startConsumer(t, cluster.namesrv, second_received);
  const phase_2_acked = [...acked].filter((index) => index >= phase_2_first);
  await until('the second consumer received every acknowledged phase-2 message', () => {
    const keys = new Set(second_received.map((message) => message.keys[0]));
    return phase_2_acked.every((index) => keys.has(keyOf(index))) ? true : undefined;
  }, 60_000);
  const replayed = second_received.filter((message) => indexOf(message.keys[0]) < phase_2_first).length;
  t.equal(replayed, 0, 'no message of phase 1 came again: the offsets committed on the old master were on the new one');
});

t.test('the old master, restarted, is fenced, rejoins as a slave, cuts what nobody acknowledged, catches up and refuses sends', { timeout: 150_000 }, async (t) => {
  const cluster = await startHaCluster(t, sync_flags);
  await createHaTopic(t, cluster.namesrv, topic, queues);
  const producer = await startProducer(t, cluster.namesrv);
  await until('a sync send is acknowledged by the slave', async () => ((await producer.send({ topic, body: bodyOf(-1), keys: [keyOf(-1)] })).status === 'SEND_OK' ? true : undefined));
  const statuses = await sendAll(producer, 0, 500, () => undefined);
  t.same(Object.fromEntries(statuses), { SEND_OK: 500 }, '500 SEND_OK');

  // The HA stream is held (the replicator's fault probe): what the master stores now reaches
  // no slave. Ten sends at once, so that all time out (1 s) while the slave, still connected
  // and close behind, counts as in sync: the nameserver may promote it.
  writeFileSync(path.join(cluster.master.data_dir, 'ha_hold'), '');
  await until('the master holds the stream', () => (cluster.master.node.stderr().includes('HA stream held') ? true : undefined));
  const frozen_sends = await Promise.all(Array.from({ length: 10 }, (_, k) => producer.send({ topic, body: bodyOf(1_000 + k), keys: [keyOf(1_000 + k)] })));
  const unacked = frozen_sends.flatMap((result, k) => (result.status === 'FLUSH_SLAVE_TIMEOUT' ? [1_000 + k] : []));
  t.equal(unacked.length, 10, 'ten sends stored by the master alone: FLUSH_SLAVE_TIMEOUT');
  const old_log = commitLogPrefix(cluster.master.data_dir);
  await cluster.master.node.signal('SIGKILL');
  rmSync(path.join(cluster.master.data_dir, 'ha_hold'));
  await until('the slave is promoted', async () => ((await haGroupMaster(cluster.namesrv)) === cluster.slave.broker ? true : undefined), 30_000);
  const new_master_keys = new Set((await recordsOn(cluster.slave.broker)).map((record) => record.keys[0]));
  t.equal(unacked.filter((index) => new_master_keys.has(keyOf(index))).length, 0, 'the unacknowledged ten are not on the new master');

  // The old master comes back on its data.
  const rejoined = await startHaBroker(t, cluster.namesrv, 0, cluster.master.data_dir, cluster.broker_flags);
  await until('the old master is listed as a slave', async () => ((await haGroupMembers(cluster.namesrv)).some((member) => member.address === rejoined.broker && member.brokerId > 0) ? true : undefined), 30_000);
  await until('a send is SEND_OK again (the rejoined slave acknowledges)', async () => ((await producer.send({ topic, body: bodyOf(2_000), keys: [keyOf(2_000)] })).status === 'SEND_OK' ? true : undefined), 30_000);
  await until("the old master's log is the new master's", () => (commitLogPrefix(rejoined.data_dir).equals(commitLogPrefix(cluster.slave.data_dir)) ? true : undefined), 30_000);
  t.notOk(commitLogPrefix(rejoined.data_dir).subarray(0, old_log.length).equals(old_log),
    "what the old master had is not a prefix of its log now: its unacknowledged tail was cut, and the new master's records took its place");
  const rejoined_keys = new Set((await recordsOn(rejoined.broker)).map((record) => record.keys[0]));
  t.equal(unacked.filter((index) => rejoined_keys.has(keyOf(index))).length, 0, 'the rejoined slave serves none of the ten it had stored alone');

  // Writes to it are refused: it is a slave now.
  const client = await ClientConnection.connect(rejoined.broker, { client_id: 'failover-direct', kind: 'PRODUCER' });
  t.teardown(() => client.close());
  await t.rejects(client.request(p.request_codes.SEND, p.encodeSendRequest(sendRequest(topic, 0, Buffer.from('direct')))), { code: 'NOT_MASTER' }, 'a send straight to the old master: NOT_MASTER');

  // It rejoined under a slave id from the top of the range (never a configured slave's), and
  // its HA hello names that id, so its master lists it in sync; when the master dies, it is
  // the one promoted.
  const rejoined_member = await until('the master counts the rejoined slave in sync', async () => {
    const member = (await haGroupMembers(cluster.namesrv)).find((entry) => entry.address === rejoined.broker);
    return member?.inSync === true ? member : undefined;
  }, 30_000);
  t.equal(rejoined_member.brokerId, 1_023, 'listed as slave 1023');
  const acked_keys = (await recordsOn(cluster.slave.broker)).map((record) => record.keys[0]);
  await cluster.slave.node.signal('SIGKILL');
  await until('the rejoined old master is promoted', async () => ((await haGroupMaster(cluster.namesrv)) === rejoined.broker ? true : undefined), 30_000);
  const kept = new Set((await recordsOn(rejoined.broker)).map((record) => record.keys[0]));
  t.same(acked_keys.filter((key) => !kept.has(key)), [], `the promoted old master serves all ${acked_keys.length} messages its master had`);
});
