import t from 'tap';
import type { MessageView } from 'rocketmq-client-nodejs';
import definition_pb from 'rocketmq-client-nodejs/proto/apache/rocketmq/v2/definition_pb.js';
import { until } from '../../client/client_helpers.js';
import { createTopics, officialProducer, officialSimpleConsumer, startGrpcNode } from './grpc_helpers.js';

/**
 * Transaction check-back over Telemetry: the official Producer sends two half messages and
 * never ends them. The broker's check round (--transaction-check-interval-ms short) asks the
 * producer over its Telemetry stream (recover_orphaned_transaction_command); its checker
 * answers COMMIT for one and ROLLBACK for the other, with an EndTransaction (SERVER_CHECK).
 * The committed one reaches a consumer; the rolled-back one never does.
 */

const check_test = {
  topic: 'GrpcTxCheck',
  check_interval_ms: 500,
  await_ms: 2_000,
  /** After the commit arrived: how long the rolled-back message is watched for. */
  watch_ms: 2_000,
} as const;

// The generated proto module is CommonJS without static named exports.
const { TransactionResolution } = definition_pb;

t.setTimeout(60_000);

t.test('an orphaned half message is checked back over Telemetry: COMMIT delivered, ROLLBACK never', async (t) => {
  const node = await startGrpcNode(t, ['--transaction-check-interval-ms', String(check_test.check_interval_ms)]);
  await createTopics(t, node.namesrv, [check_test.topic], 2);
  const consumer = await officialSimpleConsumer(t, { endpoints: node.grpc, consumerGroup: 'tx-check-group', subscriptions: new Map([[check_test.topic, '*']]), awaitDuration: check_test.await_ms, requestTimeout: 5_000 });
  const checked: MessageView[] = [];
  const producer = await officialProducer(t, {
    endpoints: node.grpc,
    topic: check_test.topic,
    requestTimeout: 5_000,
    checker: {
      async check(message: MessageView) {
        checked.push(message);
        return message.body.toString() === 'commit me' ? TransactionResolution.COMMIT : TransactionResolution.ROLLBACK;
      },
    },
  });
  const commit_receipt = await producer.send({ topic: check_test.topic, body: Buffer.from('commit me'), tag: 'tx', keys: ['tx-1'], properties: new Map([['order', '1']]) }, producer.beginTransaction());
  const rollback_receipt = await producer.send({ topic: check_test.topic, body: Buffer.from('roll me back'), tag: 'tx' }, producer.beginTransaction());
  t.ok(commit_receipt.transactionId !== '' && rollback_receipt.transactionId !== '', 'both sends are transactional');

  const received: MessageView[] = [];
  await until('the checked COMMIT delivered', async () => {
    for (const message of await consumer.receive(16, 10_000)) {
      received.push(message);
      await consumer.ack(message);
    }
    return received.some((message) => message.messageId === commit_receipt.messageId) ? true : undefined;
  }, 15_000);
  const watch_until = Date.now() + check_test.watch_ms;
  while (Date.now() < watch_until) {
    for (const message of await consumer.receive(16, 10_000)) {
      received.push(message);
      await consumer.ack(message);
    }
  }
  const committed = received.find((message) => message.messageId === commit_receipt.messageId) as MessageView;
  t.same(received.map((message) => message.messageId), [commit_receipt.messageId], 'only the committed message is delivered, once');
  t.equal(committed.body.toString(), 'commit me', 'its body');
  t.equal(committed.tag, 'tx', 'its tag');
  t.same(committed.keys, ['tx-1'], 'its keys');
  t.equal(committed.properties.get('order'), '1', 'its properties');
  t.ok(checked.some((message) => message.messageId === commit_receipt.messageId), 'the checker was asked about the first message, by its id');
  t.ok(checked.some((message) => message.messageId === rollback_receipt.messageId), 'and about the second');
  t.ok(checked.every((message) => message.corrupted !== true && message.topic === check_test.topic), 'the checked messages decode whole (topic, body digest)');
});
