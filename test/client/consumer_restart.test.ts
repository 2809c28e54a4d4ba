import t from 'tap';
import { ConsumerChild } from './fixtures/consumer_child_process.js';
import { committedOffset, createTopicEverywhere, RawSender, startStandalone, testBody, until } from './fixtures/consumer_cluster.js';
import { collectingLogger, recordingConsumer } from './fixtures/consumer_members.js';
import { Receipts } from './fixtures/consumer_receipts.js';

/**
 * Restarts: a consumer that shut down resumes exactly at its committed offsets; one killed
 * -9 resumes at its last commit (re-delivering only what it had not committed); `fromWhere`
 * applies only to a group with no offset yet.
 */

t.test('restart after shutdown resumes at the committed offset; fromWhere is for new groups only', async (t) => {
  const cluster = await startStandalone(t);
  const [broker_name, broker] = [...cluster.brokers][0] as [string, string];
  await createTopicEverywhere(cluster, 'Ledger', 2);
  const sender = new RawSender(cluster);
  t.teardown(() => sender.close());
  const send = async (label: string, count: number): Promise<void> => {
    for (let queue = 0; queue < 2; queue++) await sender.sendBatch('Ledger', broker_name, queue, Array.from({ length: count }, (_, index) => testBody(`${label}${queue}`, index)));
  };
  const options = (group: string, from: 'first' | 'last', label: string) => ({
    namesrv: cluster.namesrv, group, subscriptions: [{ topic: 'Ledger' }], fromWhere: from, instanceName: `restart-${label}`, rebalanceIntervalMs: 200, logger: collectingLogger(),
  });
  await send('before', 100);

  const receipts = new Receipts(sender.sent);
  const first = recordingConsumer(t, 'first', options('ledger', 'first', 'a'), receipts);
  await first.start();
  await until(() => receipts.distinct >= 200, 20_000, () => `200 messages (${receipts.distinct})`);
  await first.shutdown();
  t.same([await committedOffset(broker, 'ledger', 'Ledger', 0), await committedOffset(broker, 'ledger', 'Ledger', 1)], [100, 100], 'shutdown committed both queues');

  await send('while-down', 30);
  // fromWhere 'last' would skip what came while it was down, but the group has offsets.
  const second = recordingConsumer(t, 'second', options('ledger', 'last', 'b'), receipts);
  await second.start();
  await until(() => receipts.distinct >= 260, 20_000, () => `the 60 sent while down (${receipts.distinct})`);
  t.same([...receipts.offsetsBy('second').values()].map((offsets) => [Math.min(...offsets), offsets.size]), [[100, 30], [100, 30]], 'resumed at offset 100 of each queue: the committed offset, not fromWhere');
  t.equal(receipts.report().duplicates, 0, 'nothing consumed twice');
  t.same(receipts.report().missing, [], 'nothing missed');

  // A new group with fromWhere 'last' starts at the end; 'first' at the beginning.
  const late = new Receipts(sender.sent);
  const newcomer = recordingConsumer(t, 'late', options('latecomers', 'last', 'c'), late);
  await newcomer.start();
  await until(async () => (await committedOffset(broker, 'latecomers', 'Ledger', 0)) === 130 && (await committedOffset(broker, 'latecomers', 'Ledger', 1)) === 130,
    10_000, () => 'the new group to commit its starting point (the end of each queue)');
  await send('after', 5);
  await until(() => late.distinct >= 10, 20_000, () => `the 10 sent after the new group started (${late.distinct})`);
  t.same([...late.offsetsBy('late').values()].map((offsets) => [...offsets].sort((x, y) => x - y)), [[130, 131, 132, 133, 134], [130, 131, 132, 133, 134]], "fromWhere 'last': only what came after the start");
  await Promise.all([second.shutdown(), newcomer.shutdown()]);
});

t.test('restart after kill -9 resumes at the last commit: re-delivers only what was not committed', async (t) => {
  const cluster = await startStandalone(t);
  const broker_name = [...cluster.brokers.keys()][0] as string;
  await createTopicEverywhere(cluster, 'Journal', 2);
  const sender = new RawSender(cluster);
  t.teardown(() => sender.close());
  for (let queue = 0; queue < 2; queue++) {
    for (let from = 0; from < 2_000; from += 500) await sender.sendBatch('Journal', broker_name, queue, Array.from({ length: 500 }, (_, index) => testBody(`j${queue}`, from + index)));
  }
  const receipts = new Receipts(sender.sent);
  const options = { namesrv: cluster.namesrv, group: 'journal', subscriptions: [{ topic: 'Journal' }], fromWhere: 'first' as const, instanceName: 'journal-child', rebalanceIntervalMs: 200, commitIntervalMs: 100, concurrency: 2, listenerDelayMs: 1 };
  const child = new ConsumerChild(t, 'child', options, receipts);
  await child.ready();
  await until(() => receipts.deliveredBy('child') >= 1_000, 30_000, () => `the child to consume 1000 (${receipts.deliveredBy('child')})`);
  await child.kill();
  receipts.killed('child');
  const consumed_before = receipts.distinct;
  t.ok(consumed_before < 4_000, `killed mid-way, after ${consumed_before} messages`);

  const again = new ConsumerChild(t, 'again', { ...options, listenerDelayMs: 0 }, receipts);
  await again.ready();
  await until(() => receipts.distinct >= 4_000, 30_000, () => `the rest (${receipts.distinct} of 4000)`);
  const report = receipts.report();
  t.comment(`${consumed_before} consumed before the kill, ${report.duplicates} delivered again, at most ${report.in_flight_bound} were uncommitted`);
  t.same(report.missing, [], 'nothing lost');
  t.same(report.unexplained, [], 'every re-delivery was above the last commit before the kill');
  t.ok(report.duplicates <= report.in_flight_bound, 'duplicates bounded by what was uncommitted');
  const exit = await again.stop();
  t.same(exit, { code: 0, signal: null }, 'SIGTERM: a clean shutdown');
});
