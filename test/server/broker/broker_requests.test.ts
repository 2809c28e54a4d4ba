import t from 'tap';
import * as p from '../../../src/protocol/index.js';
import { MqError } from '../../../src/runtime/errors.js';
import { patternBody, tempDir } from '../../storage/commit_log_helpers.js';
import { createTopic, pull, pullRequest, send, sendRequest, startBroker } from './broker_helpers.js';

const rejectionCode = (promise: Promise<unknown>): Promise<string> => promise.then(() => 'no error', (error: MqError) => error.code);

t.test('10,000 messages sent over TCP, pulled back equal and in order per queue', async (t) => {
  const broker = await startBroker(t, tempDir(t));
  const client = await broker.client();
  await createTopic(client, 'Orders', 4);
  const count = 10_000;
  const window = 1_000; // below the client's in-flight bound
  const results: p.SendResult[] = [];
  for (let start = 0; start < count; start += window) {
    results.push(...await Promise.all(Array.from({ length: window }, (_, k) => send(client, sendRequest('Orders', (start + k) % 4, patternBody(start + k, 100 + ((start + k) % 900)))))));
  }
  t.ok(results.every((result) => result.status === 'SEND_OK'), 'every send acknowledged SEND_OK');
  t.same(results.slice(0, 8).map((result) => result.queueOffset), [0, 0, 0, 0, 1, 1, 1, 1], 'queue offsets per queue');
  t.equal(new Set(results.map((result) => result.msgId)).size, count, 'message ids are unique');
  let mismatches = 0;
  for (let queue = 0; queue < 4; queue++) {
    let offset = 0;
    const expected = Array.from({ length: count / 4 }, (_, k) => k * 4 + queue);
    for (let page = 0; page < 1_000 && offset < expected.length; page++) {
      const reply = await pull(client, pullRequest('Orders', queue, offset, { maxCount: 512 }));
      if (reply.status !== 'FOUND') break;
      for (const message of reply.messages) {
        const index = expected[message.queueOffset] as number;
        if (message.queueOffset !== offset || !message.body.equals(patternBody(index, 100 + (index % 900))) || message.tag !== 'tag-a') mismatches++;
        offset++;
      }
    }
    t.equal(offset, expected.length, `queue ${queue}: every message pulled`);
  }
  t.equal(mismatches, 0, 'bodies equal, in order, with their tags');
});

t.test('long polling: a pull at the end is answered by the next send, or empty when its time runs out', async (t) => {
  const broker = await startBroker(t, tempDir(t));
  const client = await broker.client();
  await createTopic(client, 'Poll', 1);
  const empty = await pull(client, pullRequest('Poll', 0, 0, { longPollTimeoutMs: 200 }));
  t.equal(empty.status, 'NO_NEW_MSG', 'nothing came within the poll time');
  const held = pull(client, pullRequest('Poll', 0, 0, { longPollTimeoutMs: 20_000 }), 30_000);
  // Once the broker holds the pull, a send must release it with that very message.
  for (let attempt = 0; attempt < 500 && broker.heldPulls() === 0; attempt++) await new Promise((resolve) => setTimeout(resolve, 5));
  t.equal(broker.heldPulls(), 1, 'the pull is held at the end of the queue');
  await send(client, sendRequest('Poll', 0, Buffer.from('wake up')));
  const woken = await held;
  t.equal(woken.status, 'FOUND', 'the held pull was answered by the send (long before its 20 s poll time)');
  t.equal(woken.messages[0]?.body.toString(), 'wake up');
});

t.test('every error is a clear MqError and the connection goes on', async (t) => {
  const broker = await startBroker(t, tempDir(t));
  const client = await broker.client();
  t.equal(await rejectionCode(send(client, sendRequest('NoSuchTopic', 0, Buffer.from('x')))), 'TOPIC_NOT_FOUND', 'unknown topic, auto-create off');
  t.equal(await rejectionCode(send(client, sendRequest('bad topic!', 0, Buffer.from('x')))), 'BAD_REQUEST', 'invalid topic name');
  await createTopic(client, 'Small', 2);
  t.equal(await rejectionCode(send(client, sendRequest('Small', 0, Buffer.alloc(p.body_bytes_max + 1)))), 'MESSAGE_TOO_LARGE', 'oversize body');
  t.equal(await rejectionCode(send(client, sendRequest('Small', 7, Buffer.from('x')))), 'BAD_REQUEST', 'queue out of range');
  t.equal(await rejectionCode(pull(client, pullRequest('Small', 9, 0))), 'BAD_REQUEST', 'pull of a queue that does not exist');
  t.equal(await rejectionCode(pull(client, pullRequest('Nope', 0, 0))), 'TOPIC_NOT_FOUND', 'pull of a topic that does not exist');
  t.equal(await rejectionCode(client.request(9_999, Buffer.alloc(0))), 'BAD_REQUEST', 'unknown request code');
  t.equal(await rejectionCode(client.request(p.request_codes.SEND, Buffer.from([0xff, 0xff, 0xff]))), 'BAD_REQUEST', 'garbage body');
  t.equal((await send(client, sendRequest('Small', 1, Buffer.from('fine')))).status, 'SEND_OK', 'the connection still works');
});

t.test('auto-create, offsets, message lookup, queue range, membership', async (t) => {
  const broker = await startBroker(t, tempDir(t), ['--auto-create-topic', 'true']);
  const client = await broker.client();
  const first = await send(client, sendRequest('Auto', -1, Buffer.from('first'), { keys: ['order-1'], properties: { trace: 'abc' } }));
  t.equal(first.status, 'SEND_OK', 'a send to a new topic creates it');
  for (let i = 0; i < 7; i++) await send(client, sendRequest('Auto', -1, Buffer.from(`m${i}`)));

  // The queue's range follows dispatch, a moment after the acknowledgement: wait (bounded).
  const maxOffset = async (): Promise<number> => {
    const reply = p.decodeGetOffsetResponse(await client.request(p.request_codes.GET_MAX_OFFSET, p.encodeGetOffsetRequest({ topic: 'Auto', queueId: first.queueId })));
    return reply.ok ? reply.value.offset : -1;
  };
  for (let attempt = 0; attempt < 200 && (await maxOffset()) < 2; attempt++) await new Promise((resolve) => setTimeout(resolve, 10));
  t.equal(await maxOffset(), 2, 'round-robin over 4 queues: 8 messages, 2 per queue');

  const found = p.decodeGetMessageResponse(await client.request(p.request_codes.GET_MESSAGE, p.encodeGetMessageRequest({ msgId: first.msgId })));
  t.ok(found.ok);
  if (found.ok) {
    t.equal(found.value.body.toString(), 'first', 'a message found by its id');
    t.same(found.value.keys, ['order-1']);
    t.same({ ...found.value.properties }, { trace: 'abc' });
    t.equal(found.value.msgId, first.msgId);
  }

  const query = async (): Promise<number> => {
    const reply = p.decodeQueryConsumerOffsetResponse(await client.request(p.request_codes.QUERY_CONSUMER_OFFSET, p.encodeQueryConsumerOffsetRequest({ group: 'G', topic: 'Auto', queueId: 0 })));
    return reply.ok ? reply.value.offset : -2;
  };
  t.equal(await query(), -1, 'no committed offset yet');
  await client.request(p.request_codes.COMMIT_CONSUMER_OFFSET, p.encodeCommitConsumerOffsetRequest({ group: 'G', topic: 'Auto', queueId: 0, offset: 2 }));
  t.equal(await query(), 2, 'committed offset read back');

  const heartbeat = (id: string): Promise<Uint8Array> => client.request(p.request_codes.HEARTBEAT, p.encodeHeartbeatRequest({
    clientId: id, producerGroups: [], consumerGroups: [{ group: 'G', mode: 'CLUSTERING', fromWhere: 'LAST', subscriptions: [{ topic: 'Auto', expression: '*' }], assignedQueues: [] }],
  }, client.protocol_version));
  await heartbeat('consumer-b');
  await heartbeat('consumer-a');
  const members = p.decodeGetConsumerListResponse(await client.request(p.request_codes.GET_CONSUMER_LIST, p.encodeGetConsumerListRequest({ group: 'G' })));
  t.same(members.ok && members.value.clientIds, ['consumer-a', 'consumer-b'], 'members listed, sorted');
  await client.request(p.request_codes.UNREGISTER_CLIENT, p.encodeUnregisterClientRequest({ clientId: 'consumer-a', consumerGroups: ['G'] }));
  const after = p.decodeGetConsumerListResponse(await client.request(p.request_codes.GET_CONSUMER_LIST, p.encodeGetConsumerListRequest({ group: 'G' })));
  t.same(after.ok && after.value.clientIds, ['consumer-b'], 'a member that unregisters leaves the group at once');
});
