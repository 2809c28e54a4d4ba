import t from 'tap';
import type { MessageView } from 'rocketmq-client-nodejs';
import { Producer } from '../../../src/client/index.js';
import { until } from '../../client/client_helpers.js';
import { createTopics, officialSimpleConsumer, startGrpcNode } from './grpc_helpers.js';

/**
 * Interop the other way round from grpc_producer.test.ts: messages sent by mq-node's own SDK
 * Producer (remoting port) are received by the official SimpleConsumer over gRPC, with the
 * bytes, tag, keys and user properties equal and a valid body digest; the message id is our
 * msgId (no UNIQ_KEY: our SDK sets none).
 */

const interop_test = { topic: 'GrpcInterop', messages: 20 } as const;

t.setTimeout(60_000);

t.test('messages from our SDK Producer, received whole by the official SimpleConsumer', async (t) => {
  const node = await startGrpcNode(t);
  await createTopics(t, node.namesrv, [interop_test.topic], 2);
  const consumer = await officialSimpleConsumer(t, { endpoints: node.grpc, consumerGroup: 'interop-group', subscriptions: new Map([[interop_test.topic, '*']]), awaitDuration: 2_000, requestTimeout: 5_000 });
  const producer = new Producer({ namesrv: node.namesrv, group: 'interop-producer' });
  t.teardown(() => producer.shutdown().catch(() => undefined));
  await producer.start();
  const sent = new Map<string, { body: Buffer; index: number }>();
  for (let index = 0; index < interop_test.messages; index++) {
    const body = Buffer.from(Array.from({ length: 100 + index * 37 }, (_, at) => (at * 31 + index) & 0xff));
    const result = await producer.send({ topic: interop_test.topic, body, tag: `t${index % 3}`, keys: [`ours-${index}`, 'shared'], properties: { index: String(index), 'ü': 'ß' } });
    sent.set(result.msgId, { body, index });
  }
  const received = new Map<string, MessageView>();
  await until('every message received', async () => {
    for (const message of await consumer.receive(16, 10_000)) {
      received.set(message.messageId, message);
      await consumer.ack(message);
    }
    return received.size >= interop_test.messages ? true : undefined;
  }, 15_000);
  let mismatches = 0;
  for (const [id, message] of received) {
    const expected = sent.get(id);
    if (expected === undefined || !expected.body.equals(message.body) || message.tag !== `t${expected.index % 3}` || JSON.stringify(message.keys) !== JSON.stringify([`ours-${expected.index}`, 'shared'])
      || JSON.stringify(Object.fromEntries(message.properties)) !== JSON.stringify({ index: String(expected.index), 'ü': 'ß' })) mismatches++;
  }
  t.equal(received.size, interop_test.messages, 'every message received, under our msgId');
  t.equal(mismatches, 0, 'bytes, tag, keys and user properties equal');
  t.ok([...received.values()].every((message) => message.corrupted !== true), 'every body digest checks (corrupted not true)');
  t.ok([...received.values()].every((message) => message.deliveryAttempt === 1), 'delivery attempt 1');
});
