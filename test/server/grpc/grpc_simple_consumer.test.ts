import t from 'tap';
import type { MessageView } from 'rocketmq-client-nodejs';
import { inParallel, until } from '../../client/client_helpers.js';
import { prng } from '../../helpers/prng.js';
import { Code } from '../../../src/server/grpc/grpc_types.js';
import { createTopics, failureOf, officialProducer, officialSimpleConsumer, startGrpcNode } from './grpc_helpers.js';
import type { Sent } from './grpc_helpers.js';

/**
 * The official SimpleConsumer (rocketmq-client-nodejs, unchanged) consumes from a real
 * standalone node over its gRPC endpoint (the pop engine): 300 messages sent by the official
 * Producer are each received and acked exactly once, whole; a message not acked comes back
 * after its invisible time with delivery attempt 2 under a new handle, the old handle is
 * refused (INVALID_RECEIPT_HANDLE), and ChangeInvisibleDuration's new handle acks.
 */

const simple_test = {
  topic: 'GrpcSimple',
  redelivery_topic: 'GrpcSimpleAgain',
  queues: 4,
  messages: 300,
  sends_in_flight: 16,
  await_ms: 2_000,
  invisible_ms: 20_000,
  short_invisible_ms: 2_000,
  seed: 0x51_4e_91,
} as const;

t.setTimeout(60_000);


function propertiesOf(message: MessageView): Record<string, string> {
  return Object.fromEntries([...message.properties.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** A copy of `message` (same class) with another receipt handle: how a stale handle is sent. */
function withHandle(message: MessageView, receipt_handle: string): MessageView {
  return Object.assign(Object.create(Object.getPrototypeOf(message) as object) as MessageView, message, { receiptHandle: receipt_handle });
}

function sorted(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1)));
}

t.test('300 messages from the official Producer, received and acked exactly once by the official SimpleConsumer', async (t) => {
  const node = await startGrpcNode(t);
  await createTopics(t, node.namesrv, [simple_test.topic], simple_test.queues);
  // Started first: a new group begins at the queues' end, registered by its Telemetry settings.
  const consumer = await officialSimpleConsumer(t, { endpoints: node.grpc, consumerGroup: 'simple-group', subscriptions: new Map([[simple_test.topic, '*']]), awaitDuration: simple_test.await_ms, requestTimeout: 5_000 });
  const producer = await officialProducer(t, { endpoints: node.grpc, topic: simple_test.topic, requestTimeout: 5_000 });

  const random = prng(simple_test.seed);
  const planned = Array.from({ length: simple_test.messages }, (_, index) => {
    const body = Buffer.alloc(1 + Math.floor(random() * 4_096));
    for (let at = 0; at < body.length; at++) body[at] = Math.floor(random() * 256);
    return { body, tag: `tag-${index % 5}`, keys: [`key-${index}`, `k2-${index % 11}`], properties: { index: String(index), 'utf-8 ✓': `värde ${index}` } };
  });
  const sent: Sent[] = await inParallel(planned, simple_test.sends_in_flight, async (message) => ({ ...message, receipt: await producer.send({ topic: simple_test.topic, body: message.body, tag: message.tag, keys: message.keys, properties: new Map(Object.entries(message.properties)) }) }));
  const by_id = new Map(sent.map((message) => [message.receipt.messageId, message]));

  const received = new Map<string, MessageView>();
  let duplicates = 0;
  let mismatches = 0;
  let attempts_not_one = 0;
  let corrupted = 0;
  await until('every message received', async () => {
    const batch = await consumer.receive(16, simple_test.invisible_ms);
    for (const message of batch) {
      if (received.has(message.messageId)) duplicates++;
      received.set(message.messageId, message);
      const expected = by_id.get(message.messageId);
      if (expected === undefined || !expected.body.equals(message.body) || expected.tag !== message.tag || JSON.stringify(expected.keys) !== JSON.stringify(message.keys) || JSON.stringify(sorted(expected.properties)) !== JSON.stringify(propertiesOf(message))) mismatches++;
      if (message.deliveryAttempt !== 1) attempts_not_one++;
      if (message.corrupted === true) corrupted++;
      await consumer.ack(message);
    }
    return received.size >= simple_test.messages ? true : undefined;
  }, 30_000);
  t.equal(received.size, simple_test.messages, 'every message id the producer got was received');
  t.ok([...received.keys()].every((id) => by_id.has(id)), 'no message the producer did not send');
  t.equal(duplicates, 0, 'no message received twice');
  t.equal(mismatches, 0, 'bodies byte for byte, tags, keys and user properties equal');
  t.equal(attempts_not_one, 0, 'deliveryAttempt is 1 on every first delivery');
  t.equal(corrupted, 0, 'every body digest checks (MessageView.corrupted not true)');
  const after = await consumer.receive(16, simple_test.invisible_ms);
  t.same(after.map((message) => message.messageId), [], 'acked messages do not come back');
});

t.test('a message not acked comes back after its invisible time; stale handles are refused; a changed handle acks', async (t) => {
  const node = await startGrpcNode(t);
  await createTopics(t, node.namesrv, [simple_test.redelivery_topic], 2);
  const consumer = await officialSimpleConsumer(t, { endpoints: node.grpc, consumerGroup: 'again-group', subscriptions: new Map([[simple_test.redelivery_topic, '*']]), awaitDuration: simple_test.await_ms, requestTimeout: 5_000 });
  const producer = await officialProducer(t, { endpoints: node.grpc, topic: simple_test.redelivery_topic, requestTimeout: 5_000 });
  const receipt = await producer.send({ topic: simple_test.redelivery_topic, body: Buffer.from('come back'), tag: 'again' });

  let first: MessageView | undefined;
  await until('first delivery', async () => {
    [first] = await consumer.receive(1, simple_test.short_invisible_ms);
    return first;
  });
  const delivered = first as MessageView;
  t.equal(delivered.messageId, receipt.messageId, 'the message sent');
  t.equal(delivered.deliveryAttempt, 1, 'first delivery: attempt 1');
  const old_handle = delivered.receiptHandle;

  const received_ms = Date.now();
  let second: MessageView | undefined;
  await until('redelivery', async () => {
    [second] = await consumer.receive(1, simple_test.short_invisible_ms);
    return second;
  }, 10_000);
  const again = second as MessageView;
  t.ok(Date.now() - received_ms >= simple_test.short_invisible_ms - 200, 'not redelivered before its invisible time ran out');
  t.equal(again.messageId, receipt.messageId, 'the same message again');
  t.equal(again.deliveryAttempt, 2, 'second delivery: attempt 2');
  t.not(again.receiptHandle, old_handle, 'under a new receipt handle');
  t.same(again.body, Buffer.from('come back'), 'the same body');

  // The old handle: the client surfaces the top-level status as a BadRequestException.
  const stale = withHandle(delivered, old_handle);
  const refused = await failureOf(consumer.ack(stale));
  t.match(refused, { name: 'BadRequestException', code: Code.INVALID_RECEIPT_HANDLE }, 'an ack with the stale handle is refused: INVALID_RECEIPT_HANDLE');

  const handle_before_change = again.receiptHandle;
  await consumer.changeInvisibleDuration(again, 10_000);
  t.not(again.receiptHandle, handle_before_change, 'changeInvisibleDuration replaced the handle');
  const superseded = withHandle(again, handle_before_change);
  t.match(await failureOf(consumer.ack(superseded)), { code: Code.INVALID_RECEIPT_HANDLE }, 'the handle before the change is stale');
  await consumer.ack(again);
  t.pass('the new handle acks');
  const nothing = await consumer.receive(1, simple_test.short_invisible_ms);
  t.same(nothing.length, 0, 'acked: not delivered again');
});
