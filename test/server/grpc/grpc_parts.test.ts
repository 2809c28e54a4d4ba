import { createHmac } from 'node:crypto';
import { crc32, gzipSync } from 'node:zlib';
import { grpc_limits } from '../../../src/server/grpc/grpc_limits.js';
import t from 'tap';
import { pino } from 'pino';
import { body_bytes_max, system_properties } from '../../../src/protocol/index.js';
import { ManualClock } from '../../../src/runtime/clock.js';
import { contract_error_codes, added_error_codes, MqError } from '../../../src/runtime/errors.js';
import { Acl } from '../../../src/server/auth/acl.js';
import { settingsReply } from '../../../src/server/grpc/client_settings.js';
import { GrpcAuth, parseRequestDateTime, signDateTime } from '../../../src/server/grpc/grpc_auth.js';
import { peerIp } from '../../../src/server/grpc/grpc_caller.js';
import { GrpcClients } from '../../../src/server/grpc/grpc_clients.js';
import { convertMessage, grpc_property_names } from '../../../src/server/grpc/grpc_messages.js';
import { code_of_mq_error, GrpcStatusError, statusOf } from '../../../src/server/grpc/grpc_status.js';
import { ClientType, Code, DigestType, Encoding, MessageType, type Message } from '../../../src/server/grpc/grpc_types.js';
import { outgoingMessage } from '../../../src/server/grpc/outgoing_message.js';
import { responsesOf } from '../../../src/server/grpc/receive_message.js';
import { transactionGroupOf } from '../../../src/server/grpc/send_message.js';
import { isValidName } from '../../../src/protocol/index.js';

/** The gRPC endpoint's pure parts, without a server: signatures, conversion, status mapping, settings, the client table. */

const silent = pino({ level: 'silent' });
const now_ms = Date.UTC(2024, 0, 2, 3, 4, 5);

function message(system: Partial<NonNullable<Message['system_properties']>> = {}, extra: Partial<Message> = {}): Message {
  return {
    topic: { name: 'T', resource_namespace: '' },
    user_properties: {},
    body: Buffer.from('body'),
    system_properties: { keys: [], message_id: '01ABCDEF', body_encoding: Encoding.IDENTITY, message_type: MessageType.NORMAL, born_host: 'h', store_host: '', queue_id: 0, ...system },
    ...extra,
  };
}

function codeOf(action: () => unknown): number | 'no error' {
  try {
    action();
    return 'no error';
  } catch (error) {
    return statusOf(error).code;
  }
}

t.test('x-mq-date-time and the signature, as the official client computes them', async (t) => {
  t.equal(parseRequestDateTime('20240102T030405Z'), now_ms);
  for (const bad of ['2024-01-02T03:04:05Z', '20240230T000000Z', '20240102T030405', '']) t.equal(parseRequestDateTime(bad), undefined, bad);
  // rocketmq-client-nodejs src/util/index.ts sign(): HMAC-SHA1 with the secret as key, upper-case hex.
  t.equal(signDateTime('secret', '20240102T030405Z'), createHmac('sha1', 'secret').update('20240102T030405Z').digest('hex').toUpperCase());
});

t.test('GrpcAuth: unknown key and bad signature look alike; skew and addresses are checked', async (t) => {
  const acl = Acl.parse({ accounts: [{ accessKey: 'app-key', secretKey: 'app-secret-123', topicPerms: { T: 'PUB' }, allowAddresses: ['127.0.0.1'] }] });
  const clock = new ManualClock(now_ms);
  const auth = new GrpcAuth({ acl: () => acl, window_ms: 10_000, log: silent, clock });
  const header = (key: string, secret: string, date_time: string): string => `MQv2-HMAC-SHA1 Credential=${key}, SignedHeaders=x-mq-date-time, Signature=${signDateTime(secret, date_time)}`;
  const date_time = '20240102T030405Z';
  t.equal(auth.authenticate(header('app-key', 'app-secret-123', date_time), date_time, '127.0.0.1').accessKey, 'app-key');
  t.equal(codeOf(() => auth.authenticate(undefined, date_time, '127.0.0.1')), Code.UNAUTHORIZED, 'unsigned');
  t.equal(codeOf(() => auth.authenticate(header('app-key', 'wrong', date_time), date_time, '127.0.0.1')), Code.UNAUTHORIZED, 'wrong secret');
  t.equal(codeOf(() => auth.authenticate(header('nobody', 'x', date_time), date_time, '127.0.0.1')), Code.UNAUTHORIZED, 'unknown key');
  t.equal(codeOf(() => auth.authenticate('Basic abc', date_time, '127.0.0.1')), Code.UNAUTHORIZED, 'another scheme');
  t.equal(codeOf(() => auth.authenticate(header('app-key', 'app-secret-123', date_time), date_time, '10.0.0.1')), Code.FORBIDDEN, 'an address the account may not use');
  clock.advance(12_000);
  t.equal(codeOf(() => auth.authenticate(header('app-key', 'app-secret-123', date_time), date_time, '127.0.0.1')), Code.UNAUTHORIZED, 'outside the window');
  const account = acl.account('app-key');
  if (account === undefined) throw new Error('the account exists');
  t.equal(codeOf(() => auth.authorize(account, { kind: 'topic', topic: 'T', perm: 'PUB' }, 'SendMessage')), 'no error');
  t.equal(codeOf(() => auth.authorize(account, { kind: 'topic', topic: 'Other', perm: 'PUB' }, 'SendMessage')), Code.FORBIDDEN);
});

t.test('every MqError code maps to a proto Code; thrown things become statuses', async (t) => {
  const codes = new Set<number>(Object.values(Code));
  for (const code of [...contract_error_codes, ...added_error_codes]) t.ok(codes.has(code_of_mq_error[code]), `${code} -> ${code_of_mq_error[code]}`);
  t.same(statusOf(new MqError('TOPIC_NOT_FOUND', 'gone')), { code: Code.TOPIC_NOT_FOUND, message: 'gone' });
  t.same(statusOf(new GrpcStatusError(Code.ILLEGAL_TOPIC, 'bad')), { code: Code.ILLEGAL_TOPIC, message: 'bad' });
  t.equal(statusOf(new TypeError('x is undefined')).code, Code.INTERNAL_ERROR);
  t.same([peerIp('127.0.0.1:5000'), peerIp('ipv4:10.1.2.3:1'), peerIp('[::1]:5000'), peerIp('ipv6:[fe80::1]:7')], ['127.0.0.1', '10.1.2.3', '::1', 'fe80::1']);
});

t.test('a Message becomes a SendRequest: fields, UNIQ_KEY, __SHARDINGKEY, delivery time', async (t) => {
  const options = { now_ms, max_delay_ms: 60_000, unpack_budget: { bytes_left: grpc_limits.unpacked_bytes_per_request_max } };
  const normal = convertMessage(message({ tag: 'a', keys: ['k1', 'k2'], born_timestamp: { seconds: 1_700_000_000, nanos: 5_000_000 } }, { user_properties: { p: 'v' } }), options);
  t.match(normal, { topic: 'T', kind: 'NORMAL', message_id: '01ABCDEF', group: undefined });
  t.same({ ...normal.request, body: normal.request.body.toString(), properties: { ...normal.request.properties } }, {
    topic: 'T', queueId: -1, tag: 'a', keys: ['k1', 'k2'], properties: { p: 'v', [grpc_property_names.unique_key]: '01ABCDEF' },
    bornTimestamp: 1_700_000_000_005, bornHost: 'h', flags: 0, delayMs: null, deliverAtMs: null, reconsumeTimes: 0, producerGroup: null, body: 'body',
  });
  const fifo = convertMessage(message({ message_type: MessageType.FIFO, message_group: 'g' }), options);
  t.same([fifo.kind, fifo.group, fifo.request.properties[grpc_property_names.sharding_key]], ['FIFO', 'g', 'g']);
  const delayed = convertMessage(message({ message_type: MessageType.DELAY, delivery_timestamp: { seconds: now_ms / 1000 + 5, nanos: 0 } }), options);
  t.same([delayed.kind, delayed.request.deliverAtMs], ['DELAY', now_ms + 5_000]);
  const inferred = convertMessage(message({ message_type: MessageType.MESSAGE_TYPE_UNSPECIFIED, message_group: 'g' }), options);
  t.equal(inferred.kind, 'FIFO', 'an unspecified type is inferred from the fields');
  const gzipped = convertMessage(message({ body_encoding: Encoding.GZIP }, { body: gzipSync(Buffer.from('packed')) }), options);
  t.equal(gzipped.request.body.toString(), 'packed', 'a GZIP body is stored unpacked');
  // One request's GZIP bodies share a budget: many small bombs cannot unpack into gigabytes.
  const bomb = gzipSync(Buffer.alloc(3 << 20));
  const shared = { now_ms, max_delay_ms: 60_000, unpack_budget: { bytes_left: grpc_limits.unpacked_bytes_per_request_max } };
  t.equal(convertMessage(message({ body_encoding: Encoding.GZIP }, { body: bomb }), shared).request.body.byteLength, 3 << 20, 'the first 3 MiB fits the budget');
  t.throws(() => convertMessage(message({ body_encoding: Encoding.GZIP }, { body: bomb }), shared), { code: Code.MESSAGE_BODY_TOO_LARGE }, 'the second is past it, though it fits a message');
});

t.test('bad messages get the proto code that names the problem', async (t) => {
  const options = { now_ms, max_delay_ms: 60_000, unpack_budget: { bytes_left: grpc_limits.unpacked_bytes_per_request_max } };
  const cases: Array<[string, Message, number]> = [
    ['no topic', message({}, { topic: null }), Code.ILLEGAL_TOPIC],
    ['internal topic', message({}, { topic: { name: '%SCHEDULE%', resource_namespace: '' } }), Code.ILLEGAL_TOPIC],
    ['namespace', message({}, { topic: { name: 'T', resource_namespace: 'ns' } }), Code.BAD_REQUEST],
    ['no message id', message({ message_id: '' }), Code.ILLEGAL_MESSAGE_ID],
    ['tag with |', message({ tag: 'a|b' }), Code.ILLEGAL_MESSAGE_TAG],
    ['key with a space', message({ keys: ['a b'] }), Code.ILLEGAL_MESSAGE_KEY],
    ['reserved property', message({}, { user_properties: { TAGS: 'x' } }), Code.ILLEGAL_MESSAGE_PROPERTY_KEY],
    ['large properties', message({}, { user_properties: { big: 'x'.repeat(40_000) } }), Code.MESSAGE_PROPERTIES_TOO_LARGE],
    ['large body', message({}, { body: Buffer.alloc(body_bytes_max + 1) }), Code.MESSAGE_BODY_TOO_LARGE],
    ['gzip bomb', message({ body_encoding: Encoding.GZIP }, { body: gzipSync(Buffer.alloc(body_bytes_max + 1)) }), Code.MESSAGE_BODY_TOO_LARGE],
    ['not gzip', message({ body_encoding: Encoding.GZIP }), Code.MESSAGE_CORRUPTED],
    ['wrong digest', message({ body_digest: { type: 2, checksum: '00' } }), Code.MESSAGE_CORRUPTED],
    ['NORMAL with a group', message({ message_group: 'g' }), Code.MESSAGE_PROPERTY_CONFLICT_WITH_TYPE],
    ['TRANSACTION with a delay', message({ message_type: MessageType.TRANSACTION, delivery_timestamp: { seconds: now_ms / 1000 + 5, nanos: 0 } }), Code.MESSAGE_PROPERTY_CONFLICT_WITH_TYPE],
    ['delay beyond the maximum', message({ message_type: MessageType.DELAY, delivery_timestamp: { seconds: now_ms / 1000 + 3_600, nanos: 0 } }), Code.ILLEGAL_DELIVERY_TIME],
    ['LITE', message({ message_type: MessageType.LITE }), Code.UNSUPPORTED],
    ['unknown type', message({ message_type: 99 }), Code.BAD_REQUEST],
  ];
  for (const [name, bad, code] of cases) t.equal(codeOf(() => convertMessage(bad, options)), code, name);
});

t.test('Settings: producers get a back-off and the body limit, consumers a batch size and a capped long poll', async (t) => {
  const options = { max_body_size_bytes: body_bytes_max };
  const producer = settingsReply({ client_type: ClientType.PRODUCER, pub_sub: 'publishing', publishing: { topics: [{ name: 'T', resource_namespace: '' }], max_body_size: 0, validate_message_type: true } }, options);
  t.match(producer, { backoff_policy: { exponential_backoff: { initial: { seconds: 1 }, max: { seconds: 10 }, multiplier: 2 } }, publishing: { max_body_size: body_bytes_max, validate_message_type: true } });
  const consumer = settingsReply({ client_type: ClientType.PUSH_CONSUMER, subscription: { group: { name: 'G', resource_namespace: '' }, subscriptions: [], long_polling_timeout: { seconds: 120, nanos: 0 } } }, options);
  t.match(consumer, { backoff_policy: { max_attempts: 16 }, subscription: { fifo: false, receive_batch_size: 32, long_polling_timeout: { seconds: 30, nanos: 0 } } });
  t.equal(codeOf(() => settingsReply({}, options)), Code.UNRECOGNIZED_CLIENT_TYPE);
});

t.test('the client table forgets the silent and the least recently seen', async (t) => {
  const clients = new GrpcClients(2, 1_000);
  clients.seen('a', { client_type: ClientType.PRODUCER, topics: ['T'], account: '', remote_ip: '' }, 0);
  clients.seen('b', { client_type: ClientType.PUSH_CONSUMER, group: 'G', account: '', remote_ip: '' }, 10);
  clients.seen('a', { account: '', remote_ip: '' }, 20);
  clients.seen('c', { account: '', remote_ip: '' }, 30);
  t.same([clients.get('a')?.client_type, clients.get('b'), clients.get('c')?.client_id], [ClientType.PRODUCER, undefined, 'c'], 'b was the least recently seen');
  t.same(clients.producersOf('T').map((client) => client.client_id), ['a']);
  clients.seen('d', { account: '', remote_ip: '' }, 1_500);
  t.same([clients.get('a'), clients.get('c'), clients.get('d')?.client_id, clients.size], [undefined, undefined, 'd', 1], 'a and c, silent for longer than the expiry, are gone');
});

t.test('a client id belongs to the account that first used it', async (t) => {
  const clients = new GrpcClients();
  clients.seen('p1', { client_type: ClientType.PRODUCER, topics: ['T'], account: 'orders-app', remote_ip: '10.0.0.1' }, 0);
  t.throws(() => clients.seen('p1', { client_type: ClientType.PRODUCER, topics: ['T'], account: 'intruder', remote_ip: '10.0.0.2' }, 1), { code: Code.FORBIDDEN }, 'another account cannot take over its check-backs');
  t.equal(clients.forget('p1', 'intruder'), false, 'nor drop its entry');
  t.same(clients.producersOf('T').map((client) => client.account), ['orders-app'], 'the producer is still the one asked');
  t.equal(clients.forget('p1', 'orders-app'), true, 'its own account may end it');
});

t.test('the synthetic producer group of a transactional topic is a valid group name', async (t) => {
  t.equal(transactionGroupOf('Orders'), '%GRPC_TX%Orders');
  const long = transactionGroupOf('T'.repeat(127));
  t.ok(isValidName(long) && long.length <= 127, long);
  t.not(transactionGroupOf(`${'T'.repeat(126)}a`), transactionGroupOf(`${'T'.repeat(126)}b`), 'long names stay apart');
});

t.test('a stored message becomes the Message a consumer receives: digest, id, type, properties', async (t) => {
  const body = Buffer.from('hello');
  const stored = {
    msgId: 'OURS', topic: 'T', queueId: 3, queueOffset: 42, commitLogOffset: 1_000, tag: 'a', keys: ['k1', 'k2'],
    properties: { [grpc_property_names.unique_key]: 'CLIENTID', [grpc_property_names.sharding_key]: 'g1', [system_properties.origin_message_id]: 'X', mine: 'v' },
    bornTimestamp: 1_700_000_000_123, bornHost: '10.0.0.1:1', storeTimestamp: 1_700_000_000_456, storeHost: '10.0.0.2:2', reconsumeTimes: 0, flags: 0,
    bodyCrc32: crc32(body), body,
  };
  const message = outgoingMessage(stored, { receipt_handle: 'RH', delivery_attempt: 2, invisible_ms: 1_500 });
  t.match(message, {
    topic: { name: 'T', resource_namespace: '' },
    user_properties: { mine: 'v' },
    system_properties: {
      tag: 'a', keys: ['k1', 'k2'], message_id: 'CLIENTID', body_digest: { type: DigestType.CRC32, checksum: '907060870' }, body_encoding: Encoding.IDENTITY,
      message_type: MessageType.FIFO, message_group: 'g1', queue_id: 3, queue_offset: 42, receipt_handle: 'RH', delivery_attempt: 2,
      invisible_duration: { seconds: 1, nanos: 500_000_000 }, born_timestamp: { seconds: 1_700_000_000, nanos: 123_000_000 },
    },
  });
  t.same(Object.keys(message.user_properties), ['mine'], 'the broker\'s and RocketMQ\'s reserved properties are not user properties');
  t.same(message.body, Buffer.from('hello'));
  body[0] = 0x48;
  t.same(message.body, Buffer.from('hello'), 'the body is a copy, not a view of the stored bytes');
  const plain = outgoingMessage({ ...stored, tag: null, properties: { [system_properties.deliver_at_ms]: '1700000001000' } });
  t.equal(plain.system_properties?.message_id, 'OURS', 'without UNIQ_KEY: our msgId');
  t.equal(plain.system_properties?.message_type, MessageType.DELAY, 'delayed: DELAY');
  t.equal(plain.system_properties?.tag, undefined, 'no tag: unset');
  t.equal(plain.system_properties?.receipt_handle, undefined, 'a check-back message has no delivery');
  t.same(responsesOf([], 0), [{ status: { code: Code.MESSAGE_NOT_FOUND, message: 'no new message' } }], 'nothing received: one MESSAGE_NOT_FOUND');
});
