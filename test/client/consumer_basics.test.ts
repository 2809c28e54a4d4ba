import t from 'tap';
import { Consumer } from '../../src/client/consumer/consumer.js';
import type { ReceivedMessage } from '../../src/client/message.js';
import { committedOffset, createTopicEverywhere, positionKey, RawSender, startStandalone, testBody, until } from './fixtures/consumer_cluster.js';

/** One consumer against a standalone node: consumes what is there and what comes, filters tags exactly, commits on shutdown. */

const quiet = { warn: () => undefined };

t.test('a consumer receives every message with the contract fields, then commits on shutdown', async (t) => {
  const cluster = await startStandalone(t);
  const [broker_name, broker] = [...cluster.brokers][0] as [string, string];
  await createTopicEverywhere(cluster, 'Basics', 4);
  const sender = new RawSender(cluster);
  t.teardown(() => sender.close());
  for (let queue = 0; queue < 4; queue++) await sender.sendBatch('Basics', broker_name, queue, Array.from({ length: 25 }, (_, index) => testBody(`q${queue}`, index)));

  const received: ReceivedMessage[] = [];
  const consumer = new Consumer({ namesrv: cluster.namesrv, group: 'basics', subscriptions: [{ topic: 'Basics' }], fromWhere: 'first', instanceName: 'basics-1', logger: quiet, rebalanceIntervalMs: 200 });
  consumer.onMessage(async (message) => {
    received.push(message);
  });
  t.teardown(() => consumer.shutdown());
  await consumer.start();
  await until(() => received.length >= 100, 15_000, () => `100 messages (got ${received.length})`);
  for (let queue = 0; queue < 4; queue++) await sender.sendBatch('Basics', broker_name, queue, [testBody(`late${queue}`, 0)]);
  await until(() => received.length >= 104, 15_000, () => `104 messages (got ${received.length})`);

  const sample = received[0] as ReceivedMessage;
  for (const field of ['msgId', 'topic', 'tag', 'keys', 'properties', 'body', 'brokerName', 'queueId', 'queueOffset', 'bornTimestamp', 'storeTimestamp', 'reconsumeTimes']) {
    t.ok(field in sample, `message has ${field}`);
  }
  t.ok(Buffer.isBuffer(sample.body), 'body is a Buffer');
  t.equal(sample.tag, 'tag-a');
  t.equal(sample.brokerName, broker_name);
  let mismatches = 0;
  for (const message of received) {
    if (!sender.sent.get(positionKey(message.brokerName, message.queueId, message.queueOffset))?.equals(message.body)) mismatches++;
  }
  t.equal(mismatches, 0, 'every body equals what was sent');
  t.equal(new Set(received.map((message) => message.msgId)).size, 104, 'no duplicates');

  await consumer.shutdown();
  for (let queue = 0; queue < 4; queue++) t.equal(await committedOffset(broker, 'basics', 'Basics', queue), 26, `queue ${queue}: offset committed on shutdown`);
});
