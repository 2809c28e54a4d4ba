import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { Producer, parseMessageId, type Message, type SendResult } from '../../src/client/index.js';
import * as p from '../../src/protocol/index.js';
import { RecordView } from '../../src/storage/record.js';
import { inParallel, pullAll, topicRecords, until } from '../client/client_helpers.js';
import { commitLogPrefix, createHaTopic, ha_test_limits, startHaBroker, startHaCluster, storedCount, untilSlaveHolds, type HaBroker } from './fixtures/ha_cluster.js';

/**
 * Master/slave replication between real broker processes: the slave's CommitLog is a
 * byte-for-byte copy of the master's, its dispatch builds the ConsumeQueues so it serves
 * pulls, a slave that was down catches up from where its log ends, and under sync
 * replication a send is acknowledged SEND_OK only once the slave holds it — or answers
 * FLUSH_SLAVE_TIMEOUT / SLAVE_NOT_AVAILABLE, never hangs, when the slave does not answer.
 */

// Run directly (`node dist/test/...`), tap's root test times out after 30 s; the tap runner's
// per-file timeout (.taprc) still applies.
t.setTimeout(200_000);

const topic = 'Replicated';
const queues = 4;
const batch_size = 100;

function isSegment(name: string): boolean {
  return /^[0-9]{20}$/.test(name);
}

function keyOf(index: number): string {
  return `r-${index}`;
}

function bodyOf(index: number): Buffer {
  return Buffer.from(`replicated message ${index} `.repeat(1 + (index % 5)));
}

async function startProducer(t: Test, namesrv: string): Promise<Producer> {
  const producer = new Producer({ namesrv, sendTimeoutMs: 10_000 });
  t.teardown(() => producer.shutdown());
  await producer.start();
  return producer;
}

/** Sends messages `from`..`to - 1` in batches; returns their results by index. */
async function sendRange(producer: Producer, from: number, to: number): Promise<Map<number, SendResult>> {
  const results = new Map<number, SendResult>();
  const firsts = Array.from({ length: Math.ceil((to - from) / batch_size) }, (_, batch) => from + batch * batch_size);
  await inParallel(firsts, 4, async (first) => {
    const messages: Message[] = Array.from({ length: Math.min(batch_size, to - first) }, (_, k) => ({ topic, body: bodyOf(first + k), keys: [keyOf(first + k)] }));
    const sent = await producer.sendBatch(messages);
    sent.forEach((result, k) => results.set(first + k, result));
  });
  return results;
}

/** Every record of the topic on `broker`, per queue, by raw PULL from offset 0. */
async function queuesOf(broker: string): Promise<p.StoredMessage[][]> {
  const all: p.StoredMessage[][] = [];
  for (let queue = 0; queue < queues; queue++) all.push(await pullAll(broker, topic, queue));
  return all;
}

/** The slave serves the same queues as the master: same records, same order, bodies as sent. */
async function checkSlaveServes(t: Test, master: HaBroker, slave: HaBroker, count: number, what: string): Promise<void> {
  const on_master = await queuesOf(master.broker);
  const on_slave = await queuesOf(slave.broker);
  const summary = (all: p.StoredMessage[][]) => all.map((records) => records.map((record) => `${record.keys[0]}@${record.queueOffset}`));
  t.same(summary(on_slave), summary(on_master), `${what}: the slave's queues hold the master's records, in the same order`);
  const records = on_slave.flat();
  t.equal(records.length, count, `${what}: ${count} records`);
  const wrong = records.filter((record) => !record.body.equals(bodyOf(Number(record.keys[0]?.slice(2))))).length;
  t.equal(wrong, 0, `${what}: every body read from the slave equals what was sent`);
}

/** 1-MiB segments, so the 12,000 messages of the async test take several and roll. */
const segment_bytes = 1 << 20;

t.test('async replication (the slave over two data directories): the slave copies the log byte for byte and serves pulls; stopped (SIGKILL) for 10,000 messages, it catches up', { timeout: 150_000 }, async (t) => {
  const cluster = await startHaCluster(t, ['--replication', 'async', '--commit-log-segment-bytes', String(segment_bytes)], { slave_dirs: 2 });
  await createHaTopic(t, cluster.namesrv, topic, queues);
  const producer = await startProducer(t, cluster.namesrv);

  const first = await sendRange(producer, 0, 2_000);
  t.equal([...first.values()].filter((result) => result.status !== 'SEND_OK').length, 0, '2,000 sends SEND_OK');
  await untilSlaveHolds(cluster.slave, topic, queues, 2_000);
  t.ok(commitLogPrefix(cluster.slave.data_dir, segment_bytes).equals(commitLogPrefix(cluster.master.data_dir, segment_bytes)), "the slave's CommitLog is byte-for-byte the master's");
  await checkSlaveServes(t, cluster.master, cluster.slave, 2_000, 'after 2,000');

  const killed = await cluster.slave.node.signal('SIGKILL');
  t.equal(killed.signal, 'SIGKILL', 'the slave is killed -9');
  const second = await sendRange(producer, 2_000, 12_000);
  t.equal([...second.values()].filter((result) => result.status !== 'SEND_OK').length, 0, '10,000 more sends SEND_OK while the slave is down (async: the master does not wait)');
  // Under async flush SEND_OK comes before the dispatch actor has put the records in their
  // queues: the count is read once the master's queues have caught up with its CommitLog.
  const master_count = await until('the master\'s queues hold every record', async () => {
    const count = await storedCount(cluster.master.broker, topic, queues);
    return count >= 12_000 ? count : undefined;
  });
  t.equal(master_count, 12_000, 'the master holds 12,000');

  const slave = await startHaBroker(t, cluster.namesrv, 1, cluster.slave.data_dir, cluster.broker_flags);
  await untilSlaveHolds(slave, topic, queues, 12_000);
  const master_log = commitLogPrefix(cluster.master.data_dir, segment_bytes);
  t.ok(master_log.length > 2 * segment_bytes, `the log spans ${Math.ceil(master_log.length / segment_bytes)} segments`);
  t.ok(commitLogPrefix(slave.data_dir, segment_bytes).equals(master_log), "after catching up, the slave's CommitLog (over two directories) is again byte-for-byte the master's");
  const [first_dir, second_dir] = slave.data_dir.split(',');
  t.same([readdirSync(join(first_dir as string, 'commitlog')).filter(isSegment).length > 0, readdirSync(join(second_dir as string, 'commitlog')).filter(isSegment).length > 0], [true, true],
    "the slave's segments are spread over both directories");
  await checkSlaveServes(t, cluster.master, slave, 12_000, 'after catching up');
});

/** The record at a message's CommitLog offset in `data_dir`'s log, read from the file. */
function recordInLog(log: Buffer, msg_id: string): RecordView | undefined {
  const offset = parseMessageId(msg_id).commitLogOffset;
  if (offset + 8 > log.length) return undefined;
  return new RecordView(log, offset);
}

t.test('sync replication: SEND_OK only once the slave holds the message; a cut link gives FLUSH_SLAVE_TIMEOUT; a frozen slave, then SLAVE_NOT_AVAILABLE; back, SEND_OK again', { timeout: 120_000 }, async (t) => {
  const cluster = await startHaCluster(t, ['--replication', 'sync', '--replication-timeout-ms', '1000']);
  await createHaTopic(t, cluster.namesrv, topic, queues);
  const producer = await startProducer(t, cluster.namesrv);
  // The slave follows once it registered and heard of its master: until then, no slave is in sync.
  await until('a sync send is acknowledged by the slave', async () => ((await producer.send({ topic, body: 'probe', keys: ['probe'] })).status === 'SEND_OK' ? true : undefined));

  // Each acknowledgement is checked against the slave's own file at once, before any wait.
  const missing_on_slave: number[] = [];
  let not_ok = 0;
  for (let index = 0; index < 300; index++) {
    const result = await producer.send({ topic, body: bodyOf(index), keys: [keyOf(index)] });
    if (result.status !== 'SEND_OK') {
      not_ok++;
      continue;
    }
    const record = recordInLog(commitLogPrefix(cluster.slave.data_dir), result.msgId);
    if (record === undefined || !record.body.equals(bodyOf(index))) missing_on_slave.push(index);
  }
  t.equal(not_ok, 0, '300 sends SEND_OK');
  t.same(missing_on_slave, [], "every SEND_OK message was in the slave's CommitLog when the producer got its answer");

  // A partition of the HA link (the replicator's ha_hold fault probe): the slave stays
  // connected and in sync, but receives nothing, so nothing new is acknowledged.
  const hold_path = join(cluster.master.data_dir, 'ha_hold');
  writeFileSync(hold_path, '');
  await until('the master holds the stream', () => (cluster.master.node.stderr().includes('HA stream held') ? true : undefined));
  const partitioned = await producer.send({ topic, body: 'during the partition', keys: ['partitioned'] });
  t.equal(partitioned.status, 'FLUSH_SLAVE_TIMEOUT', 'a send while the link is cut: FLUSH_SLAVE_TIMEOUT after the replication timeout, not a hang');
  // Stored by the master alone, so not served to consumers: a failover now would take it back.
  const keysOnMaster = async (): Promise<string[]> => (await topicRecords(cluster.master.broker, topic, queues)).map((record) => record.keys[0] ?? '');
  const before_heal = await keysOnMaster();
  t.ok(before_heal.includes('probe') && !before_heal.includes('partitioned'), `the master serves what the slave holds, not the message only it holds (${before_heal.length} served)`);
  rmSync(hold_path);
  await until('the link heals: SEND_OK again', async () => ((await producer.send({ topic, body: 'healed', keys: ['healed'] })).status === 'SEND_OK' ? true : undefined));
  t.ok((await keysOnMaster()).includes('partitioned'), 'once the slave holds it, the master serves it');

  // Frozen slave (a stopped process: its socket stays open, nothing is acknowledged).
  process.kill(cluster.slave.node.pid, 'SIGSTOP');
  // The signal is delivered when the kernel next schedules the slave: until its state reads
  // "stopped" it may still acknowledge what it already received.
  await until('the slave is stopped', () => (readFileSync(`/proc/${cluster.slave.node.pid}/stat`, 'utf8').split(') ')[1]?.startsWith('T') === true ? true : undefined));
  t.teardown(() => {
    try {
      process.kill(cluster.slave.node.pid, 'SIGCONT');
    } catch {
      // Exited already.
    }
  });
  // FLUSH_SLAVE_TIMEOUT, or SLAVE_NOT_AVAILABLE if a loaded machine kept the slave silent
  // long enough before the stop for the master to drop it: never SEND_OK, never a hang.
  const timed_out = await producer.send({ topic, body: 'while frozen', keys: ['frozen-1'] });
  t.ok(['FLUSH_SLAVE_TIMEOUT', 'SLAVE_NOT_AVAILABLE'].includes(timed_out.status), `a send while the slave is frozen: ${timed_out.status}, not SEND_OK, not a hang`);
  // The master drops a slave silent for 5 s; from then on it has none in sync.
  const unavailable = await until('the master answers SLAVE_NOT_AVAILABLE', async () => {
    const result = await producer.send({ topic, body: 'while frozen', keys: ['frozen-n'] });
    return result.status === 'SLAVE_NOT_AVAILABLE' ? result : undefined;
  }, 30_000);
  t.equal(unavailable.status, 'SLAVE_NOT_AVAILABLE', 'once the master dropped the silent slave: SLAVE_NOT_AVAILABLE at once');

  process.kill(cluster.slave.node.pid, 'SIGCONT');
  const back = await until('the slave is back in sync: SEND_OK', async () => {
    const result = await producer.send({ topic, body: bodyOf(1_000), keys: [keyOf(1_000)] });
    return result.status === 'SEND_OK' ? result : undefined;
  }, ha_test_limits.catch_up_timeout_ms);
  const record = recordInLog(commitLogPrefix(cluster.slave.data_dir), back.msgId);
  t.ok(record?.body.equals(bodyOf(1_000)), 'the slave holds it');
  t.ok(commitLogPrefix(cluster.master.data_dir).subarray(0, commitLogPrefix(cluster.slave.data_dir).length).equals(commitLogPrefix(cluster.slave.data_dir)), "the slave's log, messages of the frozen time included, is a prefix of the master's");
});
