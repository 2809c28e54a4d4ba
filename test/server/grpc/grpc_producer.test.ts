import t from 'tap';
import type { SendReceipt } from 'rocketmq-client-nodejs';
import { Consumer, type ReceivedMessage } from '../../../src/client/index.js';
import * as p from '../../../src/protocol/index.js';
import { grpc_property_names } from '../../../src/server/grpc/grpc_messages.js';
import { inParallel, until } from '../../client/client_helpers.js';
import { prng } from '../../helpers/prng.js';
import { createTopics, officialProducer, officialSimpleConsumer, startGrpcNode } from './grpc_helpers.js';
import type { Sent } from './grpc_helpers.js';

/**
 * The official RocketMQ 5 client (rocketmq-client-nodejs, unchanged) produces to a real
 * standalone mq-node over its gRPC endpoint; its SimpleConsumer receives and acks everything,
 * and our own SDK's Consumer reads everything back over the remoting port. Checked on the data: every body byte for byte, tag, keys, user
 * properties, UNIQ_KEY = the message id the official client returned, the receipt's offset =
 * the stored queue offset; the delayed message not before its time; the FIFO group's
 * messages in one queue, in send order.
 */

const producer_test = {
  topic: 'GrpcOrders',
  queues: 4,
  normal_messages: 1_000,
  sends_in_flight: 16,
  delay_ms: 2_000,
  fifo_group: 'order-4711',
  fifo_messages: 20,
  /** The client stamps the delivery time from its own clock reading; both run on this machine. */
  clock_slack_ms: 50,
  seed: 0x5eed_9c,
} as const;

t.setTimeout(60_000);

function sortedEntries(record: Record<string, string>): Array<[string, string]> {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}


t.test('1,000 messages, a delayed one and a FIFO group from the official client, read back whole by its SimpleConsumer and by our SDK', async (t) => {
  const node = await startGrpcNode(t);
  await createTopics(t, node.namesrv, [producer_test.topic], producer_test.queues);
  // Started first: a new group begins at each queue's end when its consumer starts.
  const official_consumer = await officialSimpleConsumer(t, { endpoints: node.grpc, consumerGroup: 'grpc-official-readback', subscriptions: new Map([[producer_test.topic, '*']]), awaitDuration: 2_000 });
  const producer = await officialProducer(t, { endpoints: node.grpc, topic: producer_test.topic, requestTimeout: 5_000 });

  const random = prng(producer_test.seed);
  t.comment(`seed ${producer_test.seed}`);
  const planned = Array.from({ length: producer_test.normal_messages }, (_, index) => {
    const body = Buffer.alloc(1 + Math.floor(random() * 2_048));
    for (let at = 0; at < body.length; at++) body[at] = Math.floor(random() * 256);
    return { body, tag: `tag-${index % 7}`, keys: [`order-${index}`, `customer-${index % 13}`], properties: { index: String(index), kind: 'normal', 'utf-8 ✓': `värde ${index}` } };
  });
  const sent: Sent[] = await inParallel(planned, producer_test.sends_in_flight, async (message) => {
    const receipt = await producer.send({ topic: producer_test.topic, body: message.body, tag: message.tag, keys: message.keys, properties: new Map(Object.entries(message.properties)) });
    return { ...message, receipt };
  });

  const delayed_sent_ms = Date.now();
  const delayed = await producer.send({ topic: producer_test.topic, body: Buffer.from('delayed by two seconds'), tag: 'delayed', delay: producer_test.delay_ms });

  const fifo: SendReceipt[] = [];
  for (let index = 0; index < producer_test.fifo_messages; index++) {
    fifo.push(await producer.send({ topic: producer_test.topic, body: Buffer.from(`fifo ${index}`), tag: 'fifo', messageGroup: producer_test.fifo_group }));
  }

  const ids = [...sent.map((message) => message.receipt.messageId), delayed.messageId, ...fifo.map((receipt) => receipt.messageId)];
  t.equal(new Set(ids).size, ids.length, 'the official client got a distinct message id for every send');
  t.equal(delayed.offset, -1, 'a delayed message has no queue offset yet');

  // The official SimpleConsumer receives and acks every message: each once, whole.
  const official = new Map<string, { body: Buffer; tag: string | undefined; keys: string[]; received_ms: number }>();
  let official_duplicates = 0;
  const drain_deadline_ms = Date.now() + 40_000;
  while (official.size < ids.length && Date.now() < drain_deadline_ms) {
    const batch = await official_consumer.receive(32, 30_000);
    for (const view of batch) {
      if (official.has(view.messageId)) official_duplicates++;
      official.set(view.messageId, { body: view.body, tag: view.tag, keys: [...view.keys], received_ms: Date.now() });
    }
    await Promise.all(batch.map((view) => official_consumer.ack(view)));
  }
  t.equal(official.size, ids.length, `the official SimpleConsumer received every message (${official.size} of ${ids.length})`);
  t.equal(official_duplicates, 0, '...each once');
  const official_whole = sent.filter((message) => {
    const got = official.get(message.receipt.messageId);
    return got !== undefined && got.body.equals(message.body) && got.tag === message.tag && JSON.stringify(got.keys) === JSON.stringify(message.keys);
  }).length;
  t.equal(official_whole, producer_test.normal_messages, '...bodies, tags and keys equal');
  const official_delayed = official.get(delayed.messageId);
  t.ok(official_delayed !== undefined && official_delayed.received_ms >= delayed_sent_ms + producer_test.delay_ms - producer_test.clock_slack_ms, 'the delayed message reached it no earlier than its delay');
  t.same(fifo.map((receipt) => official.get(receipt.messageId)?.body.toString()), fifo.map((_, index) => `fifo ${index}`), 'the FIFO messages, whole');

  const received = new Map<string, { message: ReceivedMessage; received_ms: number }>();
  let duplicates = 0;
  const consumer = new Consumer({ namesrv: node.namesrv, group: 'grpc-readback', subscriptions: [{ topic: producer_test.topic }], fromWhere: 'first', rebalanceIntervalMs: 200, logger: { warn: () => undefined } });
  consumer.onMessage(async (message) => {
    const id = message.properties[grpc_property_names.unique_key] ?? `(none) ${message.msgId}`;
    if (received.has(id)) duplicates++;
    received.set(id, { message, received_ms: Date.now() });
  });
  t.teardown(() => consumer.shutdown().catch(() => undefined));
  await consumer.start();
  await until(`all ${ids.length} messages consumed`, () => (received.size >= ids.length ? true : undefined), 30_000);
  await consumer.shutdown();
  t.equal(received.size, ids.length, 'nothing more than was sent');
  t.equal(duplicates, 0, 'each message once');

  let whole = 0;
  for (const message of sent) {
    const got = received.get(message.receipt.messageId)?.message;
    if (got === undefined) {
      t.fail(`message ${message.receipt.messageId} (${message.properties['index']}) was not consumed`);
      continue;
    }
    const { [grpc_property_names.unique_key]: unique_key, ...user_properties } = got.properties;
    const same = got.body.equals(message.body) && got.tag === message.tag && JSON.stringify(got.keys) === JSON.stringify(message.keys)
      && unique_key === message.receipt.messageId && JSON.stringify(sortedEntries(user_properties)) === JSON.stringify(sortedEntries(message.properties))
      && got.queueOffset === message.receipt.offset;
    if (same) whole++;
    else t.fail(`message ${message.properties['index']} differs`, { sent: { tag: message.tag, keys: message.keys, properties: message.properties, offset: message.receipt.offset }, got: { tag: got.tag, keys: got.keys, properties: got.properties, offset: got.queueOffset, equal_body: got.body.equals(message.body) } });
  }
  t.equal(whole, producer_test.normal_messages, 'every normal message whole: body bytes, tag, keys, properties, UNIQ_KEY = the returned message id, receipt offset = queue offset');
  const queues_used = new Set(sent.map((message) => received.get(message.receipt.messageId)?.message.queueId));
  t.equal(queues_used.size, producer_test.queues, 'normal messages spread over every queue of the topic (the client only knows queue 0)');

  const delayed_got = received.get(delayed.messageId);
  t.ok(delayed_got !== undefined, 'the delayed message arrived');
  if (delayed_got !== undefined) {
    const due_ms = Number(delayed_got.message.properties[p.system_properties.deliver_at_ms]);
    t.ok(due_ms >= delayed_sent_ms + producer_test.delay_ms - producer_test.clock_slack_ms, `due ${due_ms - delayed_sent_ms} ms after the send`);
    t.ok(delayed_got.message.storeTimestamp >= due_ms, 'stored in its topic no earlier than due');
    t.ok(delayed_got.received_ms >= delayed_sent_ms + producer_test.delay_ms - producer_test.clock_slack_ms, `received ${delayed_got.received_ms - delayed_sent_ms} ms after the send, not before ~${producer_test.delay_ms} ms`);
    t.same([delayed_got.message.body.toString(), delayed_got.message.tag, delayed_got.message.properties[grpc_property_names.unique_key]], ['delayed by two seconds', 'delayed', delayed.messageId]);
  }

  const fifo_got = fifo.map((receipt) => received.get(receipt.messageId)?.message);
  t.ok(fifo_got.every((message) => message !== undefined), 'every FIFO message arrived');
  const fifo_queues = new Set(fifo_got.map((message) => message?.queueId));
  t.equal(fifo_queues.size, 1, `the FIFO group's messages share one queue (${[...fifo_queues].join(', ')})`);
  const offsets = fifo_got.map((message) => message?.queueOffset ?? -1);
  t.ok(offsets.every((offset, index) => index === 0 || offset > (offsets[index - 1] as number)), 'their queue offsets rise in send order');
  t.same(fifo_got.map((message) => message?.body.toString()), fifo.map((_, index) => `fifo ${index}`), 'bodies in send order');
  t.same(fifo.map((receipt) => receipt.offset), offsets, "the receipts' offsets are the stored queue offsets");
  t.ok(fifo_got.every((message) => message?.properties[grpc_property_names.sharding_key] === producer_test.fifo_group), 'each carries its group as __SHARDINGKEY');
});
