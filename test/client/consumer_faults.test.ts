import t from 'tap';
import * as p from '../../src/protocol/index.js';
import { ClientConnection } from '../../src/client/remoting/client_connection.js';
import { createTopicEverywhere, maxOffset, RawSender, startCluster, startStandalone, testBody, until } from './fixtures/consumer_cluster.js';
import { collectingLogger, recordingConsumer } from './fixtures/consumer_members.js';
import { Receipts } from './fixtures/consumer_receipts.js';

/** A broker dies under a consumer; a committed offset points past the end of its queue. */

t.test('a broker killed -9 mid-stream: the queues of the other broker go on; pulls to the dead one retry and are logged', async (t) => {
  const cluster = await startCluster(t, 2);
  await createTopicEverywhere(cluster, 'Split', 2);
  const sender = new RawSender(cluster);
  t.teardown(() => sender.close());
  const receipts = new Receipts(sender.sent);
  const warnings = collectingLogger();
  const consumer = recordingConsumer(t, 'c', {
    namesrv: cluster.namesrv, group: 'split', subscriptions: [{ topic: 'Split' }], fromWhere: 'first', instanceName: 'faults-1', rebalanceIntervalMs: 200, logger: warnings,
  }, receipts);
  await consumer.start();
  const send = async (broker: string, from: number): Promise<void> => {
    for (let queue = 0; queue < 2; queue++) await sender.sendBatch('Split', broker, queue, Array.from({ length: 100 }, (_, index) => testBody(`${broker}${queue}`, from + index)));
  };
  await send('broker-a', 0);
  await send('broker-b', 0);
  await until(() => receipts.distinct >= 400, 20_000, () => `the first 400 (${receipts.distinct})`);

  await (cluster.nodes[2] as { signal(...signals: NodeJS.Signals[]): Promise<unknown> }).signal('SIGKILL'); // broker-b
  await send('broker-a', 100);
  await until(() => receipts.distinct >= 600, 20_000, () => `broker-a's next 200 with broker-b dead (${receipts.distinct})`);
  await until(() => warnings.lines.some((line) => line.startsWith('pull failed: Split@broker-b')), 20_000, () => `a warning about broker-b: ${warnings.lines.join(' | ')}`);
  const report = receipts.report();
  t.same(report.missing, [], 'everything sent was consumed');
  t.equal(report.duplicates, 0, 'and once');
  t.ok(consumer.assignedQueues().some((queue) => queue.brokerName === 'broker-a'), 'still consuming broker-a');
});

t.test('a committed offset past the end of the queue (OFFSET_MOVED): the consumer continues at the end', async (t) => {
  const cluster = await startStandalone(t);
  const [broker_name, broker] = [...cluster.brokers][0] as [string, string];
  await createTopicEverywhere(cluster, 'Moved', 1);
  const sender = new RawSender(cluster);
  t.teardown(() => sender.close());
  await sender.sendBatch('Moved', broker_name, 0, Array.from({ length: 10 }, (_, index) => testBody('m', index)));
  const admin = await ClientConnection.connect(broker, { client_id: 'moved-admin', kind: 'ADMIN' });
  await admin.request(p.request_codes.COMMIT_CONSUMER_OFFSET, p.encodeCommitConsumerOffsetRequest({ group: 'moved', topic: 'Moved', queueId: 0, offset: 1_000 }));
  admin.close();
  // Readers see a message a little after its send is acknowledged; the test needs all ten visible.
  await until(async () => (await maxOffset(broker, 'Moved', 0)) === 10, 10_000, () => 'the ten messages to be readable');

  const receipts = new Receipts(sender.sent);
  const warnings = collectingLogger();
  const consumer = recordingConsumer(t, 'c', { namesrv: cluster.namesrv, group: 'moved', subscriptions: [{ topic: 'Moved' }], instanceName: 'moved-1', rebalanceIntervalMs: 200, logger: warnings }, receipts);
  await consumer.start();
  await until(() => warnings.lines.some((line) => line.startsWith('offset moved: Moved@')), 20_000, () => `the offset-moved warning: ${warnings.lines.join(' | ')}`);
  t.match(warnings.lines.find((line) => line.startsWith('offset moved')), /has offsets 0\.\.10, not 1000; continuing at 10/);
  await sender.sendBatch('Moved', broker_name, 0, [testBody('m', 10), testBody('m', 11)]);
  await until(() => receipts.distinct >= 2, 20_000, () => `the two new messages (${receipts.distinct})`);
  t.same([...(receipts.offsetsBy('c').get(`${broker_name}/0`) ?? [])], [10, 11], 'consumed from the end of the queue');
});
