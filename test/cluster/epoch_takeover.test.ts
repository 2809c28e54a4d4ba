import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Producer } from '../../src/client/index.js';
import { ClientConnection } from '../../src/client/remoting/client_connection.js';
import * as p from '../../src/protocol/index.js';
import { logger } from '../../src/runtime/log.js';
import { EpochHistory } from '../../src/storage/epoch_history.js';
import { epochHistoryPath } from '../../src/storage/storage_paths.js';
import { startNode } from '../cli/node_process.js';
import { topicRecords, until } from '../client/client_helpers.js';
import { freePort } from '../../src/runtime/free_ports.js';
import { sendRequest } from '../server/broker/broker_helpers.js';
import { tempDir } from '../storage/commit_log_helpers.js';
import { commitLogPrefix, createHaTopic, haGroupMaster, haGroupMembers, startHaBroker, startHaCluster } from './fixtures/ha_cluster.js';

/**
 * Two brokers must never write under one master epoch. Here a broker that only followed an
 * epoch becomes the master by registering (restarted with --broker-id 0, while its master is
 * dead and no failover ran), and that epoch's master had written a tail it never got. The
 * registrant must lead a new epoch from its own end, so that the old master, back as a slave,
 * cuts that tail: otherwise both logs would hold different records at the same offsets under
 * one epoch, nothing would be cut, and the slave's ConsumeQueues would refuse every entry
 * past the fork (a 10-minute `mq-node chaos --nemesis kill9` run found this).
 */

t.setTimeout(200_000);

const topic = 'Ledger';
const queues = 4;
const sync_flags = ['--replication', 'sync', '--flush', 'sync', '--replication-timeout-ms', '1000'] as const;

function bodyOf(label: string): Buffer {
  return Buffer.from(`ledger entry ${label} `.repeat(3));
}

/** Sends `labels` one at a time; answers each one's status. */
async function sendEach(producer: Producer, labels: readonly string[]): Promise<string[]> {
  const statuses: string[] = [];
  for (const label of labels) statuses.push((await producer.send({ topic, body: bodyOf(label), keys: [label] })).status);
  return statuses;
}

const labels = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, index) => `${prefix}-${index}`);

t.test('a slave that comes back as the configured master while its master is dead leads a new epoch; the old master rejoins and cuts what it wrote alone', { timeout: 180_000 }, async (t) => {
  const cluster = await startHaCluster(t, sync_flags);
  const { namesrv } = cluster;
  await createHaTopic(t, namesrv, topic, queues);
  const producer = new Producer({ namesrv, sendTimeoutMs: 5_000, retries: 0 });
  t.teardown(() => producer.shutdown());
  await producer.start();
  await until('a sync send is acknowledged', async () => ((await producer.send({ topic, body: bodyOf('first'), keys: ['first'] })).status === 'SEND_OK' ? true : undefined));
  const acked = ['first', ...labels('before', 50)];
  t.same(new Set(await sendEach(producer, labels('before', 50))), new Set(['SEND_OK']), '50 SEND_OK');

  // The configured master dies: its slave is promoted (epoch 1), and the old master, back on
  // its data with --broker-id 0, is fenced and follows it.
  await cluster.master.node.signal('SIGKILL');
  await until('the slave is promoted', async () => ((await haGroupMaster(namesrv)) === cluster.slave.broker ? true : undefined), 30_000);
  const follower = await startHaBroker(t, namesrv, 0, cluster.master.data_dir, cluster.broker_flags);
  await until('the old master follows as a slave', async () => ((await haGroupMembers(namesrv)).some((member) => member.address === follower.broker && member.brokerId > 0) ? true : undefined), 30_000);
  await until('a send is acknowledged by the follower', async () => ((await producer.send({ topic, body: bodyOf('followed'), keys: ['followed'] })).status === 'SEND_OK' ? true : undefined), 30_000);
  acked.push('followed');
  t.same(new Set(await sendEach(producer, labels('followed', 50))), new Set(['SEND_OK']), '50 more SEND_OK, held by both');
  acked.push(...labels('followed', 50));

  // The epoch-1 master stores ten its follower never gets (its HA stream held), then both die:
  // the follower first, so no failover can run.
  const leader = cluster.slave;
  writeFileSync(path.join(leader.data_dir, 'ha_hold'), '');
  await until('the epoch-1 master holds its stream', () => (leader.node.stderr().includes('HA stream held') ? true : undefined));
  const alone = labels('alone', 10);
  t.same(new Set(await sendEach(producer, alone)), new Set(['FLUSH_SLAVE_TIMEOUT']), 'ten stored by the epoch-1 master alone: FLUSH_SLAVE_TIMEOUT');
  const leader_log = commitLogPrefix(leader.data_dir);
  await follower.node.signal('SIGKILL');
  await leader.node.signal('SIGKILL');
  rmSync(path.join(leader.data_dir, 'ha_hold'));

  // The follower, restarted with --broker-id 0, registers as the master; it writes where the
  // dead master's ten lie in that one's log.
  const master = await startHaBroker(t, namesrv, 0, cluster.master.data_dir, cluster.broker_flags);
  await until('the follower registers as the master', async () => ((await haGroupMaster(namesrv)) === master.broker ? true : undefined), 30_000);
  const without_slave = labels('new-epoch', 10);
  t.same(new Set(await sendEach(producer, without_slave)), new Set(['SLAVE_NOT_AVAILABLE']), 'ten stored with no slave: SLAVE_NOT_AVAILABLE');

  // The epoch-1 master comes back as a slave: it cuts its ten and copies the new master's.
  const rejoined = await startHaBroker(t, namesrv, 1, leader.data_dir, cluster.broker_flags);
  await until('a send is acknowledged by the rejoined slave', async () => ((await producer.send({ topic, body: bodyOf('after'), keys: ['after'] })).status === 'SEND_OK' ? true : undefined), 30_000);
  acked.push('after');
  const master_log = await until("the rejoined slave's CommitLog equals the new master's", () => {
    const log = commitLogPrefix(master.data_dir);
    return commitLogPrefix(rejoined.data_dir).equals(log) ? log : undefined;
  }, 30_000);
  t.notOk(master_log.subarray(0, leader_log.length).equals(leader_log), "the old master's log is no prefix of the new one: its ten were cut, not kept under the new master's records");

  // What each serves through its ConsumeQueues, by raw PULL: the same records, in the same
  // queue order, bytes equal; every acknowledged one; none of the ten.
  const on_master = await topicRecords(master.broker, topic, queues);
  const on_slave = await until('the rejoined slave serves all the master has', async () => {
    const records = await topicRecords(rejoined.broker, topic, queues);
    return records.length >= on_master.length ? records : undefined;
  }, 30_000);
  const identity = (records: typeof on_master): string[] => records.map((record) => `${record.queueId}/${record.queueOffset} @${record.commitLogOffset} ${record.keys[0] ?? ''} ${record.body.toString('hex')}`);
  t.same(identity(on_slave), identity(on_master), 'the slave serves exactly the master\'s records, queue by queue, bytes equal');
  const keys = new Set(on_master.map((record) => record.keys[0]));
  t.same(acked.filter((label) => !keys.has(label)), [], `all ${acked.length} acknowledged messages are there`);
  t.same(alone.filter((label) => keys.has(label)), [], 'none of the ten the dead master stored alone');
  t.same(without_slave.filter((label) => !keys.has(label)), [], 'the ten stored without a slave are there');
});

t.test('a configured master whose log saw a failover does not lead while no nameserver answers; once one does, it leads a new epoch', { timeout: 60_000 }, async (t) => {
  const data_dir = tempDir(t);
  new EpochHistory(epochHistoryPath(data_dir), logger('test')).begin(3, 0);
  const namesrv_port = await freePort();
  const master = await startHaBroker(t, `127.0.0.1:${namesrv_port}`, 0, data_dir, []);
  await until('it says why it does not lead', () => (master.node.stderr().includes('not leading until one does') ? true : undefined), 20_000);
  const client = await ClientConnection.connect(master.broker, { client_id: 'epoch-takeover-direct', kind: 'PRODUCER' });
  t.teardown(() => client.close());
  await t.rejects(client.request(p.request_codes.SEND, p.encodeSendRequest(sendRequest(topic, 0, Buffer.from('too early')))), { code: 'NOT_MASTER' }, 'a send before any nameserver answered: NOT_MASTER');

  const namesrv = await startNode(t, ['--role', 'namesrv', '--port', String(namesrv_port), '--admin-port', '0', '--host', '127.0.0.1', '--threads', '1', '--log-level', 'error']);
  const address = namesrv.ready['namesrv'] as string;
  const epoch = await until('it registers as the master at a new epoch', async () => {
    const member = (await haGroupMembers(address)).find((entry) => entry.brokerId === 0);
    return member?.address === master.broker && member.epoch > 3 ? member.epoch : undefined;
  }, 20_000);
  t.equal(epoch, 4, 'epoch 4: the one after its log\'s last');
  await createHaTopic(t, address, topic, queues);
  const producer = new Producer({ namesrv: address, sendTimeoutMs: 5_000, retries: 0 });
  t.teardown(() => producer.shutdown());
  await producer.start();
  t.equal((await producer.send({ topic, body: bodyOf('led'), keys: ['led'] })).status, 'SEND_OK', 'it takes sends now');
});
