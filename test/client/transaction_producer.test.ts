import t from 'tap';
import * as p from '../../src/protocol/index.js';
import { TransactionProducer, type Message, type SendResult, type TransactionOutcome } from '../../src/client/index.js';
import { MqError } from '../../src/runtime/errors.js';
import { until } from './client_helpers.js';
import { fakeTxCluster, startTxProducer } from './transaction_producer_fakes.js';

/**
 * TransactionProducer's own side of a transaction, against fake servers in this process: the
 * half message (a SEND with the prepared flag and the group), the local transaction, and
 * END_TRANSACTION with its outcome to the broker that stored the half message; heartbeats to
 * every master at start, periodically and after a reconnect; what it refuses. Waits are
 * bounded waits for a condition.
 */

t.test('each outcome of the local transaction ends the transaction at the broker that stored its half message', async (t) => {
  const cluster = await fakeTxCluster(t);
  const { tp, warnings } = await startTxProducer(t, cluster);
  const locals: Array<{ message: Message; half: SendResult }> = [];
  const run = (message: Message, verdict: TransactionOutcome | 'throw' | 'garbage') => tp.sendInTransaction(message, async (m, half) => {
    locals.push({ message: m, half });
    if (verdict === 'throw') throw new Error('the database is down');
    return (verdict === 'garbage' ? 'MAYBE' : verdict) as TransactionOutcome;
  });
  const cases = ['COMMIT', 'ROLLBACK', 'UNKNOWN', 'throw', 'garbage'] as const;
  const expected_outcome: Record<(typeof cases)[number], TransactionOutcome> = { COMMIT: 'COMMIT', ROLLBACK: 'ROLLBACK', UNKNOWN: 'UNKNOWN', throw: 'UNKNOWN', garbage: 'UNKNOWN' };
  const expected_end = { COMMIT: 'COMMITTED', ROLLBACK: 'ROLLED_BACK', UNKNOWN: 'UNDECIDED' } as const;
  const messages: Message[] = cases.map((verdict, index) => ({ topic: 'T', body: `order ${index}`, tag: 'paid', keys: [`order-${index}`], properties: { verdict } }));
  const results = [];
  for (const [index, verdict] of cases.entries()) results.push(await run(messages[index] as Message, verdict));

  const sends = [...cluster.a.sends, ...cluster.b.sends];
  t.equal(sends.length, cases.length, 'one SEND per transaction');
  t.ok(sends.every((send) => (send.flags & p.transaction_flags.prepared) !== 0 && send.producerGroup === 'TG'), 'each SEND is a half message: prepared flag and the group');
  t.ok(sends.every((send) => send.delayMs === null && send.deliverAtMs === null), 'no delay');
  t.same(new Set(results.map((result) => result.brokerName)), new Set(['broker-a', 'broker-b']), 'the half messages went to both broker groups');
  t.equal(cluster.slave.sends.length + cluster.slave.ends.length, 0, 'the slave got nothing');

  for (const [index, verdict] of cases.entries()) {
    const result = results[index] as (typeof results)[number];
    const broker = result.brokerName === 'broker-a' ? cluster.a : cluster.b;
    const other = broker === cluster.a ? cluster.b : cluster.a;
    const stored = broker.stored.find((entry) => entry.msgId === result.msgId) as p.SendResult;
    t.ok(stored !== undefined, `${verdict}: the result names the half message ${result.msgId}`);
    const ends = broker.ends.filter((end) => end.msgId === result.msgId);
    const outcome = expected_outcome[verdict];
    t.same(ends, [{ producerGroup: 'TG', commitLogOffset: stored.commitLogOffset, msgId: stored.msgId, outcome, fromCheck: false }],
      `${verdict}: one END_TRANSACTION ${outcome} with the half message's offset and id, to ${broker.name}`);
    t.notOk(other.ends.some((end) => end.msgId === result.msgId), `${verdict}: nothing to the other broker`);
    t.match(result, { status: 'SEND_OK', msgId: stored.msgId, brokerName: broker.name, queueOffset: -1, outcome, endTransaction: expected_end[outcome] }, `${verdict}: the result`);
    t.equal(locals[index]?.message, messages[index], `${verdict}: localTx got the message as given`);
    t.equal(locals[index]?.half.msgId, result.msgId, `${verdict}: and the half message's SendResult`);
    t.notOk('commitLogOffset' in result, 'the SDK result keeps the wire offset to itself');
  }
  t.match(warnings, [/local transaction threw .*the database is down/, /local transaction returned "MAYBE".*UNKNOWN/], 'the throw and the bad return are logged');
});

t.test('heartbeats: every master of GET_CLUSTER_INFO at start, then periodically and after a reconnect', async (t) => {
  const cluster = await fakeTxCluster(t);
  const { tp } = await startTxProducer(t, cluster, { heartbeatIntervalMs: 50 });
  for (const broker of [cluster.a, cluster.b]) {
    t.ok(broker.heartbeats.length >= 1, `${broker.name} had a heartbeat when start() resolved`);
    t.same(broker.heartbeats[0], { clientId: tp.clientId, producerGroups: ['TG'], consumerGroups: [] }, `${broker.name}: the producer group, no consumer group`);
  }
  t.equal(cluster.slave.heartbeats.length, 0, 'no heartbeat to a slave');
  t.match(tp.clientId, /@tx-test-/, 'the client id names the instance');
  await until('periodic heartbeats', () => (cluster.a.heartbeats.length >= 3 && cluster.b.heartbeats.length >= 3 ? true : undefined));
  t.pass('heartbeats repeat every heartbeatIntervalMs');
});

t.test('a reconnect heartbeats at once', async (t) => {
  const cluster = await fakeTxCluster(t);
  const { tp } = await startTxProducer(t, cluster, { heartbeatIntervalMs: 600_000 });
  t.equal(cluster.a.heartbeats.length, 1, 'one heartbeat at start');
  for (const connection of cluster.a.connections) connection.close();
  await until('the connection to broker-a is gone', () => (cluster.a.connections.size === 0 ? true : undefined));
  // A transaction on topic OnlyA reconnects to broker-a; the reconnect heartbeats.
  const result = await tp.sendInTransaction({ topic: 'OnlyA', body: 'x' }, async () => 'COMMIT');
  t.equal(result.endTransaction, 'COMMITTED');
  await until('a heartbeat after the reconnect', () => (cluster.a.heartbeats.length >= 2 ? true : undefined));
  t.same(cluster.a.heartbeats[1]?.producerGroups, ['TG']);
});

t.test('END_TRANSACTION that fails resolves with FAILED and a warning, never throws', async (t) => {
  const cluster = await fakeTxCluster(t);
  const { tp, warnings } = await startTxProducer(t, cluster);
  cluster.a.endAnswer = () => {
    throw new MqError('BROKER_UNAVAILABLE', 'the transaction service is down');
  };
  const result = await tp.sendInTransaction({ topic: 'OnlyA', body: 'x' }, async () => 'COMMIT');
  t.match(result, { status: 'SEND_OK', brokerName: 'broker-a', outcome: 'COMMIT', endTransaction: 'FAILED' });
  t.equal(cluster.a.ends.length, 1, 'END_TRANSACTION was tried');
  t.match(warnings, [/END_TRANSACTION failed: COMMIT of message .* on broker broker-a: .*the transaction service is down; the broker's check-back settles it/]);

  // A broker that drops the connection instead of answering.
  cluster.a.endAnswer = () => {
    for (const connection of cluster.a.connections) connection.close();
    return new Promise(() => undefined);
  };
  const dropped = await tp.sendInTransaction({ topic: 'OnlyA', body: 'y' }, async () => 'ROLLBACK');
  t.match(dropped, { outcome: 'ROLLBACK', endTransaction: 'FAILED' });
  t.equal(warnings.length, 2, 'a second warning');

  cluster.a.endAnswer = () => 'ALREADY_DECIDED';
  t.match(await tp.sendInTransaction({ topic: 'OnlyA', body: 'z' }, async () => 'COMMIT'), { endTransaction: 'ALREADY_DECIDED' }, 'the broker\'s answer is passed on');
});

t.test('a half message not stored with SEND_OK rejects without running the local transaction', async (t) => {
  const cluster = await fakeTxCluster(t);
  const { tp } = await startTxProducer(t, cluster, { retries: 0 });
  let local_calls = 0;
  const localTx = async (): Promise<TransactionOutcome> => {
    local_calls += 1;
    return 'COMMIT';
  };
  cluster.a.sendAnswer = () => 'FLUSH_DISK_TIMEOUT';
  await t.rejects(tp.sendInTransaction({ topic: 'OnlyA', body: 'x' }, localTx), { code: 'TIMEOUT', message: /status FLUSH_DISK_TIMEOUT, not SEND_OK: the local transaction did not run/ });
  t.equal(local_calls, 0, 'localTx did not run');
  t.match(cluster.a.ends, [{ outcome: 'ROLLBACK', fromCheck: false, msgId: cluster.a.stored[0]?.msgId }], 'the stored half message was rolled back');

  cluster.a.sendAnswer = () => new MqError('MESSAGE_TOO_LARGE', 'too large for this broker');
  await t.rejects(tp.sendInTransaction({ topic: 'OnlyA', body: 'x' }, localTx), { code: 'MESSAGE_TOO_LARGE' });
  t.equal(local_calls, 0, 'a failed send: localTx did not run');
  t.equal(cluster.a.ends.length, 1, 'and no END_TRANSACTION');
});

t.test('what it refuses', async (t) => {
  const cluster = await fakeTxCluster(t);
  const namesrv = cluster.namesrv.address;
  const check = async (): Promise<TransactionOutcome> => 'COMMIT';
  t.throws(() => new TransactionProducer({ namesrv, check } as never), { code: 'BAD_REQUEST', message: /needs a group/ });
  t.throws(() => new TransactionProducer({ namesrv, group: 'bad group', check }), { code: 'BAD_REQUEST' });
  t.throws(() => new TransactionProducer({ namesrv, group: 'TG' } as never), { code: 'BAD_REQUEST', message: /needs check/ });
  t.throws(() => new TransactionProducer({ namesrv, group: 'TG', check, heartbeatIntervalMs: 0 }), { code: 'BAD_REQUEST', message: /heartbeatIntervalMs/ });
  t.throws(() => new TransactionProducer(undefined as never), { code: 'BAD_REQUEST' });

  const idle = new TransactionProducer({ namesrv, group: 'TG', check, instanceName: 'tx-idle' });
  await t.rejects(idle.sendInTransaction({ topic: 'T', body: 'x' }, check), { code: 'BAD_REQUEST', message: /not started/ }, 'use before start');
  await idle.shutdown();

  const { tp } = await startTxProducer(t, cluster);
  await t.rejects(tp.start(), { code: 'BAD_REQUEST', message: /start\(\) was called already/ }, 'start twice');
  const twin = new TransactionProducer({ namesrv, group: 'TG', check, instanceName: tp.clientId.split('@').at(-1) as string });
  await t.rejects(twin.start(), { code: 'BAD_REQUEST', message: /already runs/ }, 'a second producer of the group on one instance');
  await t.rejects(tp.sendInTransaction({ topic: 'T', body: 'x', delayMs: 1_000 }, check), { code: 'BAD_REQUEST', message: /cannot be delayed/ }, 'delayMs');
  await t.rejects(tp.sendInTransaction({ topic: 'T', body: 'x', deliverAt: Date.now() + 1_000 }, check), { code: 'BAD_REQUEST', message: /cannot be delayed/ }, 'deliverAt');
  await t.rejects(tp.sendInTransaction({ topic: 'T', body: 'x' }, 'COMMIT' as never), { code: 'BAD_REQUEST', message: /local transaction/ });
  t.equal(cluster.a.sends.length + cluster.b.sends.length, 0, 'nothing refused reached a broker');
  t.same((await tp.sendInTransaction({ topic: 'T', body: 'x' }, check)).endTransaction, 'COMMITTED', 'the producer still works');
  const plain = (() => 'ROLLBACK') as never; // what JavaScript may pass: not async
  t.same((await tp.sendInTransaction({ topic: 'T', body: 'x' }, plain)).outcome, 'ROLLBACK', 'a plain function works too');

  await tp.shutdown();
  await tp.shutdown();
  await t.rejects(tp.sendInTransaction({ topic: 'T', body: 'x' }, check), { code: 'SHUTTING_DOWN' }, 'after shutdown');

  const unreachable = new TransactionProducer({ namesrv: '127.0.0.1:1', group: 'TG', check, instanceName: 'tx-unreachable' });
  await t.rejects(unreachable.start(), { code: 'BROKER_UNAVAILABLE', message: /no nameserver answered/ }, 'start rejects when no nameserver answers');
});

t.test('shutdown waits for a transaction under way to end it', async (t) => {
  const cluster = await fakeTxCluster(t);
  const { tp } = await startTxProducer(t, cluster);
  let release!: () => void;
  const local_started = new Promise<void>((started) => {
    void tp.sendInTransaction({ topic: 'OnlyA', body: 'x' }, () => {
      started();
      return new Promise<TransactionOutcome>((resolve) => {
        release = () => resolve('COMMIT');
      });
    });
  });
  await local_started;
  const stopped = tp.shutdown();
  await t.rejects(tp.sendInTransaction({ topic: 'OnlyA', body: 'y' }, async () => 'COMMIT'), { code: 'SHUTTING_DOWN' }, 'no new transaction while stopping');
  release();
  await stopped;
  t.match(cluster.a.ends, [{ outcome: 'COMMIT', fromCheck: false }], 'its END_TRANSACTION was answered before shutdown() resolved');
});
