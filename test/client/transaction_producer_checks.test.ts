import t from 'tap';
import * as p from '../../src/protocol/index.js';
import { transaction_check_limits, type ReceivedMessage, type TransactionOutcome } from '../../src/client/index.js';
import { until } from './client_helpers.js';
import { storedMessage } from './fixtures/stored_messages.js';
import { deferred, endsOf, fakeTxCluster, startTxProducer } from './transaction_producer_fakes.js';

/**
 * The check-back, against fake brokers in this process: a broker pushes
 * CHECK_TRANSACTION_STATE on the producer's connection; the producer runs `check` with the
 * half message and answers END_TRANSACTION (`fromCheck: true`) to that broker. Pushes of
 * other groups or codes are ignored; checks run at most `checks_in_flight_max` at once, the others wait in a bounded queue;
 * shutdown waits for running checks. Waits are bounded waits for a condition.
 */

/** The CommitLog offset that halfMessage(n) itself carries is this plus n. */
const half_offset_base = 50_000;

function halfMessage(offset: number): p.StoredMessage {
  return storedMessage('T', 1, offset, {
    msgId: `CC${String(offset).padStart(38, '0')}`,
    commitLogOffset: half_offset_base + offset,
    body: Buffer.from(`order body ${offset}`),
    tag: 'paid',
    keys: ['order-7', 'customer-3'],
    properties: { [p.system_properties.producer_group]: 'TG', region: 'eu' },
    flags: p.transaction_flags.prepared,
  });
}

t.test('a pushed check runs `check` with the half message and answers the broker that pushed', async (t) => {
  const cluster = await fakeTxCluster(t);
  const checked: ReceivedMessage[] = [];
  const answers: Array<TransactionOutcome | 'throw'> = ['COMMIT', 'ROLLBACK', 'UNKNOWN', 'throw'];
  const { warnings } = await startTxProducer(t, cluster, {
    check: async (message) => {
      const answer = answers[checked.push(message) - 1];
      if (answer === 'throw') throw new Error('cannot look it up');
      return answer as TransactionOutcome;
    },
  });
  const message = halfMessage(7);
  t.equal(cluster.b.pushCheck({ commitLogOffset: 777, msgId: message.msgId, message, checkTimes: 3 }), 1, 'broker-b pushed on the producer\'s connection');
  const [end] = await endsOf(cluster.b, 1);
  t.same(end, { producerGroup: 'TG', commitLogOffset: 777, msgId: message.msgId, outcome: 'COMMIT', fromCheck: true }, 'END_TRANSACTION fromCheck with the check\'s answer');
  t.equal(cluster.a.ends.length, 0, 'nothing to the broker that did not ask');
  t.match(checked[0], {
    msgId: message.msgId, topic: 'T', tag: 'paid', keys: ['order-7', 'customer-3'], properties: { region: 'eu' }, brokerName: 'broker-b', queueId: 1, commitLogOffset: 50_007,
  }, 'check got the message');
  t.equal(checked[0]?.body.toString(), 'order body 7', 'with its body');

  for (const [index, outcome] of (['ROLLBACK', 'UNKNOWN', 'UNKNOWN'] as const).entries()) {
    cluster.a.pushCheck({ commitLogOffset: 900 + index, message: halfMessage(10 + index) });
    const ends = await endsOf(cluster.a, index + 1);
    t.match(ends[index], { commitLogOffset: 900 + index, outcome, fromCheck: true }, `answer ${index + 2}: ${outcome}`);
  }
  t.match(warnings, [/transaction check threw .*cannot look it up/], 'a throwing check counts as UNKNOWN, with a warning');
});

t.test('pushes of another group or another code are ignored', async (t) => {
  const cluster = await fakeTxCluster(t);
  const checked: string[] = [];
  await startTxProducer(t, cluster, { check: async (message) => (checked.push(message.msgId), 'ROLLBACK') });
  const connection = [...cluster.a.connections][0];
  if (connection === undefined) throw new Error('the producer has no connection to broker-a');
  connection.push(p.request_codes.ROUTE_CHANGED, p.encodeRouteChangedNotification({ topic: 'T', routeVersion: 9, brokerNames: ['broker-a'] }));
  cluster.a.pushCheck({ producerGroup: 'OtherGroup', commitLogOffset: 1, message: halfMessage(1) });
  connection.push(p.request_codes.CHECK_TRANSACTION_STATE, Buffer.from('not a check request'));
  cluster.a.pushCheck({ commitLogOffset: 2, message: halfMessage(2) });
  // Pushes on one connection arrive in order: when the last one is answered, the others were seen.
  const ends = await endsOf(cluster.a, 1);
  t.same(checked, [halfMessage(2).msgId], 'only the push of group TG reached check');
  t.match(ends, [{ commitLogOffset: 2, outcome: 'ROLLBACK', fromCheck: true }]);
  t.equal(cluster.a.ends.length, 1, 'one answer');
});

t.test(`at most ${transaction_check_limits.checks_in_flight_max} checks at once; more wait their turn, up to ${transaction_check_limits.checks_queued_max}; one at a time per half message`, async (t) => {
  const cluster = await fakeTxCluster(t);
  const { checks_in_flight_max: limit, checks_queued_max: queue_max } = transaction_check_limits;
  const gate = deferred<void>();
  const checked: number[] = [];
  const { warnings } = await startTxProducer(t, cluster, {
    check: async (message) => {
      checked.push(message.commitLogOffset - half_offset_base);
      await gate.promise;
      return 'COMMIT';
    },
  });
  const pushes = limit + queue_max + 3;
  cluster.a.pushCheck({ commitLogOffset: 0, message: halfMessage(0) });
  cluster.a.pushCheck({ commitLogOffset: 0, message: halfMessage(0), checkTimes: 2 });
  for (let offset = 1; offset < pushes; offset++) cluster.a.pushCheck({ commitLogOffset: offset, message: halfMessage(offset) });
  // A repeated push of a waiting check is not queued twice.
  cluster.a.pushCheck({ commitLogOffset: limit + 1, message: halfMessage(limit + 1), checkTimes: 2 });
  await until('the pushes beyond the queue are dropped', () => (warnings.filter((warning) => /transaction check dropped/.test(warning)).length === 3 ? true : undefined));
  t.equal(checked.length, limit, `${limit} checks run; the repeated push of a running one did not start another`);
  gate.resolve();
  const ends = await endsOf(cluster.a, limit + queue_max);
  const answered = ends.map((end) => end.commitLogOffset);
  t.same([...answered].sort((x, y) => x - y), Array.from({ length: limit + queue_max }, (_, index) => index), 'every running and waiting check answered once; the dropped ones not');
  t.same(checked.slice(limit), Array.from({ length: queue_max }, (_, index) => limit + index), 'the waiting checks ran in arrival order');
  // The limits free up: a new push is checked.
  cluster.a.pushCheck({ commitLogOffset: 900_000, message: halfMessage(900_000) });
  await endsOf(cluster.a, limit + queue_max + 1);
  t.equal(checked.length, limit + queue_max + 1);
});

t.test('shutdown waits for a running check to answer, then takes no more', async (t) => {
  const cluster = await fakeTxCluster(t);
  const gate = deferred<void>();
  const started = deferred<void>();
  let calls = 0;
  const { tp } = await startTxProducer(t, cluster, {
    check: async () => {
      calls += 1;
      started.resolve();
      await gate.promise;
      return 'ROLLBACK';
    },
  });
  cluster.b.pushCheck({ commitLogOffset: 5, message: halfMessage(5) });
  await started.promise;
  const stopped = tp.shutdown();
  gate.resolve();
  await stopped;
  t.match(cluster.b.ends, [{ commitLogOffset: 5, outcome: 'ROLLBACK', fromCheck: true }], 'the running check was answered before shutdown() resolved');
  cluster.b.pushCheck({ commitLogOffset: 6, message: halfMessage(6) });
  t.equal(calls, 1, 'no check after shutdown');
});

t.test('a damaged body is not shown to check', async (t) => {
  const cluster = await fakeTxCluster(t);
  let calls = 0;
  const { warnings } = await startTxProducer(t, cluster, { check: async () => (calls += 1, 'COMMIT') });
  cluster.a.pushCheck({ commitLogOffset: 1, message: { ...halfMessage(1), bodyCrc32: 1 } });
  cluster.a.pushCheck({ commitLogOffset: 2, message: halfMessage(2) });
  await endsOf(cluster.a, 1);
  t.equal(calls, 1, 'only the intact one was checked');
  t.match(cluster.a.ends, [{ commitLogOffset: 2 }]);
  t.match(warnings, [/transaction check skipped: .*damaged body/]);
});
