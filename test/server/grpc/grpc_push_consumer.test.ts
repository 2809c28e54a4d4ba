import t from 'tap';
import { ConsumeResult, type MessageView } from 'rocketmq-client-nodejs';
import { inParallel, until } from '../../client/client_helpers.js';
import { createTopics, officialProducer, officialPushConsumer, startGrpcNode } from './grpc_helpers.js';

/**
 * The official PushConsumer (rocketmq-client-nodejs, unchanged) against a real standalone
 * node: QueryAssignment gives it this broker's one queue, its polls are ReceiveMessage long
 * polls over the pop engine, SUCCESS acks, FAILURE nacks (ChangeInvisibleDuration with its
 * back-off). 200 messages are each consumed with SUCCESS exactly once; the one that failed
 * once comes back (attempt 2) and is then consumed.
 */

const push_test = {
  topic: 'GrpcPush',
  queues: 4,
  messages: 200,
  sends_in_flight: 16,
  fail_index: 17,
} as const;

t.setTimeout(60_000);

t.test('200 messages consumed exactly once by the official PushConsumer; a FAILURE comes back', async (t) => {
  const node = await startGrpcNode(t);
  await createTopics(t, node.namesrv, [push_test.topic], push_test.queues);
  const succeeded = new Map<string, number>();
  const attempts_of_failed: number[] = [];
  let fail_id: string | undefined;
  await officialPushConsumer(t, {
    endpoints: node.grpc,
    consumerGroup: 'push-group',
    subscriptions: new Map([[push_test.topic, '*']]),
    requestTimeout: 5_000,
    messageListener: {
      async consume(message: MessageView) {
        if (message.properties.get('index') === String(push_test.fail_index)) {
          attempts_of_failed.push(message.deliveryAttempt ?? 0);
          fail_id = message.messageId;
          if (attempts_of_failed.length === 1) return ConsumeResult.FAILURE;
        }
        succeeded.set(message.messageId, (succeeded.get(message.messageId) ?? 0) + 1);
        return ConsumeResult.SUCCESS;
      },
    },
  });
  const producer = await officialProducer(t, { endpoints: node.grpc, topic: push_test.topic, requestTimeout: 5_000 });
  const indexes = Array.from({ length: push_test.messages }, (_, index) => index);
  const receipts = await inParallel(indexes, push_test.sends_in_flight, (index) => producer.send({ topic: push_test.topic, body: Buffer.from(`push ${index}`), tag: 'push', properties: new Map([['index', String(index)]]) }));

  const sent_ms = Date.now();
  await until('every message consumed', () => (succeeded.size >= push_test.messages ? true : undefined), 15_000);
  t.comment(`all consumed ${Date.now() - sent_ms} ms after the sends`);
  // A little longer: a duplicate would show up now.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  t.equal(succeeded.size, push_test.messages, 'every message consumed with SUCCESS');
  t.ok(receipts.every((receipt) => succeeded.has(receipt.messageId)), 'exactly the message ids the producer got');
  t.same([...succeeded.values()].filter((count) => count !== 1), [], 'each consumed with SUCCESS exactly once');
  t.same(attempts_of_failed, [1, 2], 'the message that failed once came back with delivery attempt 2');
  t.equal(succeeded.get(fail_id as string), 1, 'and was then consumed');
});
