import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { body_bytes_max } from '../../../src/protocol/index.js';
import { Code, MessageType, Permission, type QueryRouteResponse, type SendMessageResponse, type StatusResponse } from '../../../src/server/grpc/grpc_types.js';
import { createTopics, failureOf, officialProducer, RawClient, rawMessage, startGrpcNode } from './grpc_helpers.js';

/**
 * Refusals on the gRPC endpoint of a real node, each answered as a business status (gRPC OK)
 * the official client turns into its exception: a missing topic with auto-create off, an
 * oversize body (refused by the client with the limit the server told it, and by the server
 * when a raw client sends it anyway), requests that do not decode or make no sense, a
 * namespace; the RPCs the clients never call answer gRPC UNIMPLEMENTED. After all of it the
 * node still serves a send.
 */

t.setTimeout(60_000);

const topic = 'GrpcExisting';

t.test('refusals come back as statuses, and the node keeps serving', async (t) => {
  const node = await startGrpcNode(t, ['--auto-create-topic', 'false']);
  await createTopics(t, node.namesrv, [topic], 2);
  const raw = new RawClient(t, node.grpc);

  await t.test('QueryRoute: one queue, id 0, this endpoint, every message type', async (t) => {
    const route = await raw.call<QueryRouteResponse>('QueryRoute', { topic: { name: topic, resource_namespace: '' }, endpoints: { scheme: 1, addresses: [{ host: '127.0.0.1', port: 1 }] } });
    t.equal(route.status.code, Code.OK);
    const [host, port] = node.grpc.split(':');
    t.same(route.message_queues.map((queue) => ({ topic: queue.topic.name, id: queue.id, permission: queue.permission, broker: queue.broker.name, broker_id: queue.broker.id, endpoints: queue.broker.endpoints, types: queue.accept_message_types })), [{
      topic, id: 0, permission: Permission.READ_WRITE, broker: 'broker-a', broker_id: 0,
      endpoints: { scheme: 1, addresses: [{ host, port: Number(port) }] },
      types: [MessageType.NORMAL, MessageType.FIFO, MessageType.DELAY, MessageType.TRANSACTION],
    }]);
  });

  await t.test('a send to a missing topic (auto-create off): TOPIC_NOT_FOUND, NotFoundException 40402', async (t) => {
    const producer = await officialProducer(t, { endpoints: node.grpc, maxAttempts: 1 });
    const failure = await failureOf(producer.send({ topic: 'GrpcMissing', body: Buffer.from('nowhere') }));
    t.match(failure, { name: 'NotFoundException', code: Code.TOPIC_NOT_FOUND, message: /topic 'GrpcMissing' does not exist/ });
    const route = await raw.call<QueryRouteResponse>('QueryRoute', { topic: { name: 'GrpcMissing', resource_namespace: '' } });
    t.same([route.status.code, route.message_queues.length], [Code.TOPIC_NOT_FOUND, 0], 'QueryRoute says the same, with no queues');
  });

  await t.test('an oversize body: the client refuses it with the limit the server gave, the server refuses it from a raw client', async (t) => {
    const producer = await officialProducer(t, { endpoints: node.grpc, topic, maxAttempts: 1 });
    const client_side = await failureOf(producer.send({ topic, body: Buffer.alloc(body_bytes_max + 1) }));
    t.match(client_side, { message: new RegExp(`max size=${body_bytes_max}`) }, 'the client learnt the broker\'s body limit from its Settings');
    const response = await raw.call<SendMessageResponse>('SendMessage', { messages: [rawMessage(topic, Buffer.alloc(body_bytes_max + 1))] });
    t.equal(response.status.code, Code.MESSAGE_BODY_TOO_LARGE, response.status.message);
    t.same(response.entries, [], 'nothing stored');
    const at_limit = await raw.call<SendMessageResponse>('SendMessage', { messages: [rawMessage(topic, Buffer.alloc(body_bytes_max, 7))] });
    t.equal(at_limit.status.code, Code.OK, 'a body of exactly the limit is stored');
  });

  await t.test('malformed requests: BAD_REQUEST as a status, never a gRPC error', async (t) => {
    const undecodable = await raw.callBytes<SendMessageResponse>('SendMessage', Buffer.from([0x0a, 0x05, 0x01]));
    t.equal(undecodable.status.code, Code.BAD_REQUEST, `bytes that are no SendMessageRequest: ${undecodable.status.message}`);
    t.match(undecodable.status.message, /cannot be decoded/);
    const wrong_wire_type = await raw.callBytes<QueryRouteResponse>('QueryRoute', Buffer.from([0x0b, 0x01]));
    t.equal(wrong_wire_type.status.code, Code.BAD_REQUEST, `a field with an invalid wire type: ${wrong_wire_type.status.message}`);
    const empty = await raw.call<SendMessageResponse>('SendMessage', { messages: [] });
    t.same([empty.status.code, empty.status.message], [Code.BAD_REQUEST, 'a SendMessage carries 1..1024 messages, not 0']);
    const no_system = await raw.call<SendMessageResponse>('SendMessage', { messages: [{ topic: { name: topic }, body: Buffer.from('x') }] });
    t.equal(no_system.status.code, Code.BAD_REQUEST, `a message without system_properties: ${no_system.status.message}`);
    const bad_topic = await raw.call<SendMessageResponse>('SendMessage', { messages: [rawMessage('no spaces allowed', Buffer.from('x'))] });
    t.equal(bad_topic.status.code, Code.ILLEGAL_TOPIC, bad_topic.status.message);
    const reserved = await raw.call<SendMessageResponse>('SendMessage', { messages: [{ ...rawMessage(topic, Buffer.from('x')), user_properties: { UNIQ_KEY: 'mine' } }] });
    t.equal(reserved.status.code, Code.ILLEGAL_MESSAGE_PROPERTY_KEY, reserved.status.message);
    const conflict = await raw.call<SendMessageResponse>('SendMessage', { messages: [rawMessage(topic, Buffer.from('x'), { message_type: MessageType.FIFO })] });
    t.equal(conflict.status.code, Code.MESSAGE_PROPERTY_CONFLICT_WITH_TYPE, `FIFO without a group: ${conflict.status.message}`);
    const no_client_id = await raw.call<StatusResponse>('Heartbeat', { client_type: 1 });
    t.equal(no_client_id.status.code, Code.CLIENT_ID_REQUIRED, 'a heartbeat without x-mq-client-id');
    const bad_resolution = await raw.call<StatusResponse>('EndTransaction', { topic: { name: topic }, message_id: 'x', transaction_id: 'not-an-id', resolution: 0 });
    t.equal(bad_resolution.status.code, Code.BAD_REQUEST, bad_resolution.status.message);
    const bad_transaction = await raw.call<StatusResponse>('EndTransaction', { topic: { name: topic }, message_id: 'x', transaction_id: 'not-an-id', resolution: 1 });
    t.equal(bad_transaction.status.code, Code.INVALID_TRANSACTION_ID, bad_transaction.status.message);
  });

  await t.test('a namespace is refused: BAD_REQUEST from the header and from a resource', async (t) => {
    const producer = await officialProducer(t, { endpoints: node.grpc, namespace: 'tenant-a', maxAttempts: 1 });
    t.match(await failureOf(producer.send({ topic, body: Buffer.from('x') })), { name: 'BadRequestException', code: Code.BAD_REQUEST, message: /namespaces are not supported/ });
    const response = await raw.call<SendMessageResponse>('SendMessage', { messages: [{ ...rawMessage(topic, Buffer.from('x')), topic: { name: topic, resource_namespace: 'tenant-a' } }] });
    t.same([response.status.code, /namespaces are not supported/.test(response.status.message)], [Code.BAD_REQUEST, true]);
  });

  await t.test('RPCs the clients never call: gRPC UNIMPLEMENTED', async (t) => {
    for (const rpc of ['QueryOffset', 'GetOffset', 'UpdateOffset']) {
      const error = await raw.call(rpc, {}).then(() => undefined, (failure: grpc.ServiceError) => failure);
      t.equal(error?.code, grpc.status.UNIMPLEMENTED, rpc);
    }
  });

  await t.test('the node still serves', async (t) => {
    const producer = await officialProducer(t, { endpoints: node.grpc, topic });
    const receipt = await producer.send({ topic, body: Buffer.from('still here'), tag: 'after' });
    t.match(receipt.messageId, /^[0-9A-F]{34}$/);
    t.ok(receipt.offset >= 0, `stored at queue offset ${receipt.offset}`);
  });
});
