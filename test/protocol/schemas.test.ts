import t from 'tap';
import * as p from '../../src/protocol/index.js';
import { plain } from './plain.js';
import { schema_cases } from './schema_cases.js';
import * as v from './sample_values.js';

/**
 * The wire encoding of each sample value (sample_values.ts), pinned. A failure here means
 * the bytes on the wire changed: if that was intended, it needs a new protocol version
 * (schemas/index.ts), not a new fixture.
 */
const golden_hex: Record<string, string> = {
  AclUpdateAccountRequest: '146f72646572732d617070207365637265742d6f662d6f726465727300021631302e312e302e302f3136000844454e5906535542020c4f72646572730e5055427c53554200020e62696c6c696e670653554200021268656c6450756c6c73802000',
  AclDeleteAccountRequest: '146f72646572732d617070',
  AclListRequest: '',
  AclListResponse: '02146f72646572732d6170700000021631302e312e302e302f3136000844454e5906535542020c4f72646572730e5055427c53554200020e62696c6c696e670653554200021268656c6450756c6c7380200000',
  AclChangeResponse: '',
  HeartbeatRequestV2: '1a6170702d686f73744034323432021e6f726465722d70726f64756365727300040e62696c6c696e67000004164f726465724576656e74731a637265617465647c7c706169641c2552455452592562696c6c696e67022a0004164f726465724576656e7473001c2552455452592562696c6c696e6706000a6175646974020202164f726465724576656e7473022a000000',
  ClusterInfoV2: '72021c44656661756c74436c75737465721062726f6b65722d6104001c31302e302e302e393a31303931311c31302e302e302e393a31303931320654f6a1d5edee66808080800800021e31302e302e302e31303a31303931311e31302e302e302e31303a3130393132065480a2d5edee6680b9a5ff07010000',
  GetConsumerConnectionListRequest: '0e62696c6c696e67',
  GetConsumerConnectionListResponse: '021a6170702d686f737440343234321e31302e302e302e32303a353331323288a2d5edee66000002164f726465724576656e74731a637265617465647c7c706169640004164f726465724576656e747300164f726465724576656e74730200010006',
  QueryMessageRequest: '164f726465724576656e7473146f726465722d313030314000b6cbdcedee66',
  QueryMessageResponse: '04403041303030303035303030303239424630303030303030303030303031463430164f726465724576656e747306e01280b7b8cc3b020e6372656174656402126f726465722d39393900020e74726163654964067a7a3900f6a1d5edee661c31302e302e302e353a3533313232fca1d5edee661c31302e302e302e393a31303931310000defbedea1b0a6669727374403041303030303035303030303239424630303030303030303030303032303030164f726465724576656e747306e21290bab8cc3b0000008aa2d5edee661c31302e302e302e363a34303030308ea2d5edee661c31302e302e302e393a31303931310402000000',
  Hello: '02021a6170702d686f7374403432343202',
  HelloAck: '021c62726f6b65722d614031303931318080a008',
  SendRequest: '164f726465724576656e747301020e6372656174656404146f726465722d3130303116637573746f6d65722d373700040e747261636549640c6162633132330c726567696f6e0e65752d7765737400f6a1d5edee661c31302e302e302e353a35333132320002e0d4030000021e6f726465722d70726f647563657273407b226f726465724964223a313030312c22746f74616c223a2234322e3530227d',
  SendResult: '004030413030303030353030303032394246303030303030303030303030314634301062726f6b65722d6106a413f6c1b2cd3b',
  SendBatchRequest: '04164f726465724576656e747301020e6372656174656404146f726465722d3130303116637573746f6d65722d373700040e747261636549640c6162633132330c726567696f6e0e65752d7765737400f6a1d5edee661c31302e302e302e353a35333132320002e0d4030000021e6f726465722d70726f647563657273407b226f726465724964223a313030312c22746f74616c223a2234322e3530227d164f726465724576656e747304000000f6a1d5edee661c31302e302e302e353a353331323200000000021e6f726465722d70726f64756365727308000102ff00',
  SendBatchResponse: '04004030413030303030353030303032394246303030303030303030303030314634301062726f6b65722d6106a413f6c1b2cd3b024030413030303030353030303032394246303030303030303030303030314634301062726f6b65722d6106a613d8c4b2cd3b00',
  PullRequest: '0e62696c6c696e67164f726465724576656e747306e01240808080011a637265617465647c7c70616964b0ea0102de12',
  PullResponse: '00e41200a61304403041303030303035303030303239424630303030303030303030303031463430164f726465724576656e747306e01280b7b8cc3b020e6372656174656402126f726465722d39393900020e74726163654964067a7a3900f6a1d5edee661c31302e302e302e353a3533313232fca1d5edee661c31302e302e302e393a31303931310000defbedea1b0a6669727374403041303030303035303030303239424630303030303030303030303032303030164f726465724576656e747306e21290bab8cc3b0000008aa2d5edee661c31302e302e302e363a34303030308ea2d5edee661c31302e302e302e393a31303931310402000000',
  QueryConsumerOffsetRequest: '0e62696c6c696e67164f726465724576656e747306',
  QueryConsumerOffsetResponse: 'e412',
  CommitConsumerOffsetRequest: '0e62696c6c696e67164f726465724576656e747306e412',
  CommitConsumerOffsetResponse: '',
  GetOffsetRequest: '164f726465724576656e747306',
  GetOffsetResponse: 'a613',
  GetRouteRequest: '164f726465724576656e7473',
  TopicRouteData: '164f726465724576656e747322041c44656661756c74436c75737465721062726f6b65722d610402301c31302e302e302e393a313039313102311e31302e302e302e31303a3130393131001c44656661756c74436c75737465721062726f6b65722d620202301e31302e302e302e31313a31303931310000041062726f6b65722d6110100c1062726f6b65722d6208080800',
  HeartbeatRequest: '1a6170702d686f73744034323432021e6f726465722d70726f64756365727300040e62696c6c696e67000004164f726465724576656e74731a637265617465647c7c706169641c2552455452592562696c6c696e67022a000a6175646974020202164f726465724576656e7473022a0000',
  HeartbeatResponse: '',
  // ... then maxOffset 2^20 and inSyncSlaves [1, 2]
  RegisterBrokerRequest: '1c44656661756c74436c75737465721062726f6b65722d61001c31302e302e302e393a31303931311c31302e302e302e393a3130393132065404164f726465724576656e747310100c1c2552455452592562696c6c696e6702020c008080800104020400',
  // no master address, no HA address, epoch 3, master true
  RegisterBrokerResponse: '00000601',
  BrokerHeartbeatRequest: '1c44656661756c74436c75737465721062726f6b65722d61021e31302e302e302e31303a3130393131065480800800',
  BrokerHeartbeatResponse: '00021c31302e302e302e393a3130393131021c31302e302e302e393a31303931320600',
  UnregisterBrokerRequest: '1c44656661756c74436c75737465721062726f6b65722d61021e31302e302e302e31303a3130393131',
  UnregisterBrokerResponse: '',
  CreateTopicRequest: '164f726465724576656e7473100c',
  CreateTopicResponse: '',
  ErrorResponse: '1e544f5049435f4e4f545f464f554e449001746f70696320224e6f70652220646f6573206e6f742065786973743b20637265617465206974207769746820606d712d6e6f64652061646d696e20746f706963206372656174656000',
  GetMessageRequest: '583030303030313842434645354141303030413030303030353239424630303030303030314443443646354330',
  GetMessageResponse: '403041303030303035303030303239424630303030303030303030303031463430164f726465724576656e747306e01280b7b8cc3b020e6372656174656402126f726465722d39393900020e74726163654964067a7a3900f6a1d5edee661c31302e302e302e353a3533313232fca1d5edee661c31302e302e302e393a31303931310000defbedea1b0a6669727374',
  GetConsumerListRequest: '206f726465722d70726f636573736f7273',
  GetConsumerListResponse: '041a31302e302e302e3540343234321831302e302e302e364037373700',
  GetClusterInfoRequest: '',
  ClusterInfo: '72021c44656661756c74436c75737465721062726f6b65722d6104001c31302e302e302e393a31303931311c31302e302e302e393a31303931320654f6a1d5edee66021e31302e302e302e31303a31303931311e31302e302e302e31303a3130393132065480a2d5edee660000',
  GetTopicListRequest: '021c44656661756c74436c7573746572',
  TopicList: '72041c2552455452592562696c6c696e67164f726465724576656e747300',
  DeleteTopicRequest: '164f726465724576656e7473',
  DeleteTopicResponse: '',
  SubscribeRouteRequest: '04164f726465724576656e74731c2552455452592562696c6c696e6700',
  SubscribeRouteResponse: '04',
  UnsubscribeRouteRequest: '04164f726465724576656e74731c2552455452592562696c6c696e6700',
  UnsubscribeRouteResponse: '04',
  RouteChangedNotification: '164f726465724576656e747372041062726f6b65722d611062726f6b65722d6200',
  RouteChangedAck: '',
  UnregisterClientRequest: '1a31302e302e302e35403432343202206f726465722d70726f636573736f727300',
  UnregisterClientResponse: '',
  GetBrokerEndpointsRequest: '',
  BrokerEndpoints: '1062726f6b65722d6100021a31302e302e302e353a38303831',
  GetAllTopicConfigRequest: '',
  // dataVersion 7, one TopicConfig { 'Orders', 8, 8, perm 6 }, end of array
  AllTopicConfig: '0e020c4f726465727310100c00',
  GetAllConsumerOffsetRequest: '',
  // one entry { 'billing', 'Orders', queueId 3, offset 1000 }, end of array
  AllConsumerOffset: '020e62696c6c696e670c4f726465727306d00f00',
  // version 1, 'DefaultCluster', 'broker-a', brokerId 1, epoch 3, maxOffset 2^30 + 4096, segmentBytes 2^30 (zigzag varints)
  HaHelloRequest: '021c44656661756c74436c75737465721062726f6b65722d61020680c08080088080808008',
  HaHelloResponse: '06020680400080808080088080888008',
  SendBackRequest: '206f726465722d70726f636573736f7273aab4de7558303030303031384243464535414130303041303030303035323942463030303030303031444344364635433020',
  SendBackResult: '002e255245545259256f726465722d70726f636573736f727306b6cbdcedee66583030303030313842434645354141303030413030303030353239424630303030303030323735443046354330',
  ResendDeadLetterRequest: 'e2a2f3ad07',
  ResendDeadLetterResponse: '004030413030303030353030303032394246303030303030303030303030314634301062726f6b65722d6106a413f6c1b2cd3b',
  EndTransactionRequest: '106f726465722d7478f6c1b2cd3b5830303030303138424346453541413030304130303030303532394246303030303030303144434436463543300000',
  EndTransactionResponse: '00',
  CheckTransactionStateRequest: '106f726465722d7478f6c1b2cd3b583030303030313842434645354141303030413030303030353239424630303030303030314443443646354330403041303030303035303030303239424630303030303030303030303031463430164f726465724576656e747306e01280b7b8cc3b020e6372656174656402126f726465722d39393900020e74726163654964067a7a3900f6a1d5edee661c31302e302e302e353a3533313232fca1d5edee661c31302e302e302e393a31303931310000defbedea1b0a666972737404',
  CheckTransactionStateAck: '',
  NsLogEntry: 'f6880f0e06000204',
  NsVoteRequest: '0e1a31302e302e302e323a3938373680890f0c',
  NsVoteResponse: '0e01',
  NsBeatRequest: '0e1a31302e302e302e313a393837361a31302e302e302e323a393837361a31302e302e302e333a39383736061a31302e302e302e313a393837361a31302e302e302e323a393837361a31302e302e302e333a3938373600f4880f',
  NsBeatResponse: '0ef2880f',
  NsFetchRequest: '0e1a31302e302e302e333a39383736f6880f0ee807',
  NsFetchResponse: '0004f6880f0e06000204f8880f0e040a0b00000000',
  NsAckRequest: '0e1a31302e302e302e323a39383736f8880f',
  NsForwardRequest: 'ce013c31302e302e302e323a393837362f344031302e302e302e393a3530313232040c0d',
  NsForwardResponse: '0201',
  NsStatusRequest: '01',
  NsStatus: '1a31302e302e302e313a393837360c6c65616465720873796e630e1a31302e302e302e313a3938373680890f0ef4880f041a31302e302e302e313a393837361a31302e302e302e323a393837360002c801040006010203',
};

t.test('every schema round-trips its sample value field by field', async (t) => {
  for (const schema_case of schema_cases) {
    const bytes = schema_case.encode(schema_case.value as never);
    const decoded = schema_case.decode(bytes);
    t.ok(decoded.ok, `${schema_case.name} decodes`);
    if (decoded.ok) t.same(plain(decoded.value), plain(schema_case.value), `${schema_case.name} fields are equal`);
    // The codec and the named functions are the same thing.
    t.equal(schema_case.codec.encode(schema_case.value).toString('hex'), bytes.toString('hex'), `${schema_case.name} codec`);
    t.equal(schema_case.codec.protocol_version, firstVersionUsing(schema_case.codec), `${schema_case.name} belongs to the first protocol version that uses it`);
  }
});

t.test('every schema encodes to its golden bytes', async (t) => {
  t.equal(Object.keys(golden_hex).length, schema_cases.length, 'one fixture per schema');
  for (const schema_case of schema_cases) {
    t.equal(schema_case.encode(schema_case.value as never).toString('hex'), golden_hex[schema_case.name], schema_case.name);
  }
});

t.test('golden bytes decode to the sample values (old bytes stay readable)', async (t) => {
  for (const schema_case of schema_cases) {
    const decoded = schema_case.decode(Buffer.from(golden_hex[schema_case.name]!, 'hex'));
    t.ok(decoded.ok && t.same(plain(decoded.value), plain(schema_case.value)), schema_case.name);
  }
});

t.test('a SendRequest body decodes as a view into the input, other fields as values', async (t) => {
  const bytes = p.encodeSendRequest({ ...sampleSend(), body: Buffer.from('payload-bytes') });
  const decoded = p.decodeSendRequest(bytes);
  if (!decoded.ok) throw decoded.error;
  t.equal(decoded.value.body.toString(), 'payload-bytes');
  t.equal(decoded.value.body.buffer, bytes.buffer, 'same memory: no copy');
  t.equal(decoded.value.body.byteOffset, bytes.byteOffset + bytes.length - 'payload-bytes'.length, 'the tail of the input');
  t.equal(decoded.value.topic, 'OrderEvents');
});

t.test('values larger than the encode scratch buffer encode whole, and the scratch stays bounded', async (t) => {
  const sizes = [100, 100 * 1024, p.encode_scratch_bytes_max + 1, 4 * 1024 * 1024, 10];
  for (const size of sizes) {
    const body = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4093) body[i] = i % 251;
    const bytes = p.encodeSendRequest({ ...sampleSend(), body });
    const decoded = p.decodeSendRequest(bytes);
    t.ok(decoded.ok && decoded.value.body.equals(body), `body of ${size} bytes`);
    t.ok(bytes.equals(p.SendRequestType.toBuffer({ ...sampleSend(), body })), `same bytes as avsc's own encoder (${size})`);
  }
});

t.test('a Uint8Array input decodes like a Buffer', async (t) => {
  const bytes = p.encodeGetOffsetRequest({ topic: 'T', queueId: 7 });
  const copy = new Uint8Array(bytes.length + 3).subarray(3);
  copy.set(bytes);
  const decoded = p.decodeGetOffsetRequest(copy);
  t.ok(decoded.ok);
  if (decoded.ok) t.same(plain(decoded.value), { queueId: 7, topic: 'T' });
});

t.test('encoding a value that breaks the schema throws INVALID_VALUE naming the fields', async (t) => {
  const broken = { ...sampleSend(), queueId: 1.5, body: 'not a buffer' } as unknown as p.SendRequest;
  t.throws(() => p.encodeSendRequest(broken), { code: 'INVALID_VALUE', message: /queueId = 1\.5.*body = "not a buffer"/ });
  t.throws(() => p.encodeSendResult({ ...sampleResult(), status: 'MAYBE' } as unknown as p.SendResult), {
    code: 'INVALID_VALUE',
    message: /status = "MAYBE"/,
  });
  t.throws(() => p.encodeGetOffsetResponse({ offset: 2 ** 60 }), { code: 'INVALID_VALUE', message: /offset/ });
});

t.test('optional fields may be left out when encoding and decode as null', async (t) => {
  const value = sampleSend() as Partial<p.SendRequest>;
  delete value.delayMs;
  delete value.tag;
  const decoded = p.decodeSendRequest(p.encodeSendRequest(value as p.SendRequest));
  t.ok(decoded.ok);
  if (decoded.ok) {
    t.equal(decoded.value.delayMs, null);
    t.equal(decoded.value.tag, null);
  }
});

t.test('decoding reports MALFORMED_BODY for truncated, extended and wrong-type bytes', async (t) => {
  const bytes = p.encodePullRequest({
    consumerGroup: 'g',
    topic: 't',
    queueId: 1,
    queueOffset: 5,
    maxCount: 32,
    maxBytes: 1024,
    tagExpression: '*',
    longPollTimeoutMs: 0,
    commitOffset: null,
  });
  for (let cut = 0; cut < bytes.length; cut++) {
    const decoded = p.decodePullRequest(bytes.subarray(0, cut));
    t.equal(decoded.ok ? 'ok' : decoded.error.code, 'MALFORMED_BODY', `truncated to ${cut} bytes`);
  }
  const extended = p.decodePullRequest(Buffer.concat([bytes, Buffer.from([0])]));
  t.equal(extended.ok ? 'ok' : extended.error.code, 'MALFORMED_BODY', 'one trailing byte');
  t.match(extended.ok ? '' : extended.error.message, /trailing/);
  const wrong = p.decodeHello(p.encodeErrorResponse({ code: 'X', message: 'y', retriable: true }));
  t.equal(wrong.ok ? 'ok' : wrong.error.code, 'MALFORMED_BODY', 'an ErrorResponse is no Hello');
});

t.test('request codes are stable and named', async (t) => {
  t.same(p.request_codes, {
    HELLO: 1,
    SEND: 10,
    PULL: 11,
    QUERY_MESSAGE: 12,
    QUERY_CONSUMER_OFFSET: 14,
    COMMIT_CONSUMER_OFFSET: 15,
    CREATE_TOPIC: 17,
    GET_ALL_TOPIC_CONFIG: 21,
    GET_MAX_OFFSET: 30,
    GET_MIN_OFFSET: 31,
    GET_MESSAGE: 33,
    HEARTBEAT: 34,
    UNREGISTER_CLIENT: 35,
    CONSUMER_SEND_BACK: 36,
    END_TRANSACTION: 37,
    GET_CONSUMER_LIST: 38,
    ACL_UPDATE_ACCOUNT: 50,
    ACL_DELETE_ACCOUNT: 51,
    ACL_LIST: 52,
    GET_ALL_CONSUMER_OFFSET: 43,
    CHECK_TRANSACTION_STATE: 39,
    REGISTER_BROKER: 103,
    UNREGISTER_BROKER: 104,
    GET_ROUTE: 105,
    GET_CLUSTER_INFO: 106,
    GET_CONSUMER_CONNECTION_LIST: 203,
    GET_TOPIC_LIST: 206,
    DELETE_TOPIC_IN_NAMESRV: 216,
    SEND_BATCH: 320,
    BROKER_HEARTBEAT: 904,
    SUBSCRIBE_ROUTE: 1001,
    UNSUBSCRIBE_ROUTE: 1002,
    ROUTE_CHANGED: 1003,
    RESEND_DEAD_LETTER: 1004,
    GET_BROKER_ENDPOINTS: 1005,
    NS_VOTE: 1101,
    NS_BEAT: 1102,
    NS_FETCH: 1103,
    NS_ACK: 1104,
    NS_FORWARD: 1105,
    NS_STATUS: 1106,
  });
  t.equal(p.requestCodeName(10), 'SEND');
  t.equal(p.requestCodeName(904), 'BROKER_HEARTBEAT');
  t.equal(p.requestCodeName(12), 'QUERY_MESSAGE');
  t.equal(p.requestCodeName(13), undefined);
  t.equal(p.isKnownRequestCode(320), true);
  t.equal(p.isKnownRequestCode(0), false);
  t.equal(p.isKnownRequestCode(-10), false);
});

t.test('apiCodecs finds every API of each version by code, and refuses unknown codes and versions', async (t) => {
  const since_v2 = new Set<string>(p.apis_since_v2);
  const since_v3 = new Set<string>(p.apis_since_v3);
  for (const [name, code] of Object.entries(p.request_codes)) {
    const in_v1 = p.apiCodecs(code, 1);
    if (since_v2.has(name) || since_v3.has(name)) {
      t.equal(in_v1.ok ? 'ok' : in_v1.error.code, 'UNKNOWN_REQUEST_CODE', `${name} is not in version 1`);
      t.match(in_v1.ok ? '' : in_v1.error.message, /later protocol version/);
    } else {
      t.ok(in_v1.ok, `${name} in version 1`);
      if (in_v1.ok) t.equal(in_v1.value, p.schemas_v1.apis[name as keyof typeof p.schemas_v1.apis], `${name} codecs of version 1`);
    }
    const in_v2 = p.apiCodecs(code, 2);
    if (since_v3.has(name)) {
      t.equal(in_v2.ok ? 'ok' : in_v2.error.code, 'UNKNOWN_REQUEST_CODE', `${name} is not in version 2`);
    } else {
      t.ok(in_v2.ok, `${name} in version 2`);
      if (in_v2.ok) t.equal(in_v2.value, p.schemas_v2.apis[name as keyof typeof p.schemas_v2.apis], `${name} codecs of version 2`);
    }
    const in_v3 = p.apiCodecs(code, 3);
    t.ok(in_v3.ok, `${name} in version 3`);
    if (in_v3.ok) t.equal(in_v3.value, p.schemas_v3.apis[name as p.RequestCodeName], `${name} codecs of version 3`);
  }
  // What changed in version 2, and what did not.
  const heartbeat = p.apiCodecs(p.request_codes.HEARTBEAT, 2);
  t.equal(heartbeat.ok && heartbeat.value.request, p.heartbeat_request_v2);
  const cluster = p.apiCodecs(p.request_codes.GET_CLUSTER_INFO, 1);
  t.equal(cluster.ok && cluster.value.response, p.cluster_info_v1);
  const send = p.apiCodecs(p.request_codes.SEND, 2);
  t.equal(send.ok && send.value.request, p.send_request_v1);
  const unknown_code = p.apiCodecs(999, 1);
  t.equal(unknown_code.ok ? 'ok' : unknown_code.error.code, 'UNKNOWN_REQUEST_CODE');
  const unknown_version = p.apiCodecs(p.request_codes.SEND, 4);
  t.equal(unknown_version.ok ? 'ok' : unknown_version.error.code, 'UNSUPPORTED_VERSION');
  t.equal(p.schemas_by_version.get(1), p.schemas_v1);
  t.equal(p.schemas_by_version.get(2), p.schemas_v2);
  t.equal(p.schemas_by_version.get(3), p.schemas_v3);
  t.equal(p.schemas_v1.error, p.error_response_v1);
});

t.test('version 2 records read by a version 1 peer, and version 1 records read as version 2', async (t) => {
  // A v2 heartbeat written for a v1 connection leaves the assignment out; v1 bytes decode with an empty one.
  const for_v1 = p.encodeHeartbeatRequest(v.heartbeat_request_v2, 1);
  t.same(for_v1, p.encodeHeartbeatRequest(v.heartbeat_request, 1), 'the v1 bytes carry no assignment');
  const back = p.decodeHeartbeatRequest(for_v1, 1);
  t.same(back.ok && back.value.consumerGroups.map((group) => group.assignedQueues), [[], []]);
  // Cluster info the registry wrote as v2, re-encoded for a v1 connection, reads as v1.
  const for_old = p.clusterInfoForVersion(p.encodeClusterInfo(v.cluster_info_v2, 2), 1);
  t.ok(for_old.ok);
  const old_view = for_old.ok ? p.decodeClusterInfo(for_old.value, 1) : undefined;
  t.same(old_view?.ok && old_view.value.groups[0]?.members.map((member) => [member.address, member.maxOffset, member.inSync]),
    [['10.0.0.9:10911', 0, false], ['10.0.0.10:10911', 0, false]]);
  const same = p.clusterInfoForVersion(p.encodeClusterInfo(v.cluster_info_v2, 2), 2);
  t.same(same.ok && p.decodeClusterInfo(same.value, 2), p.decodeClusterInfo(p.encodeClusterInfo(v.cluster_info_v2, 2), 2));
  // Decoding v2 bytes as v1 (a confused peer) fails or gives other brokers: never silently
  // the brokers that were sent. (A v1 decode always says maxOffset 0, so compare the rest.)
  const confused = p.decodeClusterInfo(p.encodeClusterInfo(v.cluster_info_v2, 2), 1);
  const v1_fields = (info: p.ClusterInfo) => info.groups.map((group) => [group.brokerName, group.members.map((member) => [member.brokerId, member.address, member.haAddress, member.epoch, member.dataVersion, member.lastHeartbeatMs])]);
  t.notOk(confused.ok && JSON.stringify(v1_fields(confused.value)) === JSON.stringify(v1_fields(v.cluster_info_v2)), 'v2 bytes do not read as the same brokers in v1');
});

function sampleSend(): p.SendRequest {
  return {
    topic: 'OrderEvents',
    queueId: 0,
    tag: 'a',
    keys: [],
    properties: {},
    bornTimestamp: 1,
    bornHost: 'h:1',
    flags: 0,
    delayMs: null,
    deliverAtMs: null,
    reconsumeTimes: 0,
    producerGroup: null,
    body: Buffer.alloc(0),
  };
}

function sampleResult(): p.SendResult {
  return { status: 'SEND_OK', msgId: 'm', brokerName: 'b', queueId: 0, queueOffset: 0, commitLogOffset: 0 };
}

/**
 * The lowest protocol version whose table has `codec` (the error record is in every one);
 * 1 for records outside the request tables (the HA stream's, the registry log's), which
 * have versions of their own.
 */
function firstVersionUsing(codec: p.AvroCodec<unknown>): number {
  for (const [version, schemas] of [...p.schemas_by_version].sort(([a], [b]) => a - b)) {
    const apis = Object.values(schemas.apis) as p.ApiCodecs[];
    if (schemas.error === codec || apis.some((api) => api.request === codec || api.response === codec)) return version;
  }
  return 1;
}
