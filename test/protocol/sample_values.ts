/**
 * Realistic fixed values of every schema, for round trips and golden encodings. Fixed
 * (no clock, no randomness) so that their encodings can be pinned as hex.
 */
import type {
  BrokerHeartbeatRequest,
  BrokerHeartbeatResponse,
  CommitConsumerOffsetRequest,
  CreateTopicRequest,
  ErrorResponse,
  GetOffsetRequest,
  GetOffsetResponse,
  GetRouteRequest,
  HeartbeatRequest,
  Hello,
  HelloAck,
  PullRequest,
  PullResponse,
  QueryConsumerOffsetRequest,
  QueryConsumerOffsetResponse,
  RegisterBrokerRequest,
  RegisterBrokerResponse,
  SendBatchRequest,
  SendBatchResponse,
  SendRequest,
  SendResult,
  TopicRouteData,
  UnregisterBrokerRequest,
} from '../../src/protocol/index.js';
import type {
  AclAccountRecord,
  ClusterInfo,
  GetConsumerConnectionListRequest,
  GetConsumerConnectionListResponse,
  QueryMessageRequest,
  DeleteTopicRequest,
  GetClusterInfoRequest,
  GetTopicListRequest,
  RouteChangedNotification,
  SubscribeRouteRequest,
  SubscribeRouteResponse,
  TopicList,
} from '../../src/protocol/index.js';

const born_ms = 1_767_225_600_123; // 2026-01-01T00:00:00.123Z

export const hello: Hello = { versionMin: 1, versionMax: 1, clientId: 'app-host@4242', clientKind: 'PRODUCER' };
export const hello_ack: HelloAck = { version: 1, serverId: 'broker-a@10911', frameBytesMax: 8650752 };

export const send_request: SendRequest = {
  topic: 'OrderEvents',
  queueId: -1,
  tag: 'created',
  keys: ['order-1001', 'customer-77'],
  properties: { traceId: 'abc123', region: 'eu-west' },
  bornTimestamp: born_ms,
  bornHost: '10.0.0.5:53122',
  flags: 0,
  delayMs: 30_000,
  deliverAtMs: null,
  reconsumeTimes: 0,
  producerGroup: 'order-producers',
  body: Buffer.from('{"orderId":1001,"total":"42.50"}'),
};

export const send_result: SendResult = {
  status: 'SEND_OK',
  msgId: '0A000005000029BF0000000000001F40',
  brokerName: 'broker-a',
  queueId: 3,
  queueOffset: 1234,
  commitLogOffset: 8_000_000_123,
};

export const send_batch_request: SendBatchRequest = {
  messages: [
    send_request,
    { ...send_request, queueId: 2, tag: null, keys: [], properties: {}, delayMs: null, body: Buffer.from([0, 1, 2, 255]) },
  ],
};

export const send_batch_response: SendBatchResponse = {
  results: [send_result, { ...send_result, status: 'FLUSH_DISK_TIMEOUT', queueOffset: 1235, commitLogOffset: 8_000_000_300 }],
};

export const pull_request: PullRequest = {
  consumerGroup: 'billing',
  topic: 'OrderEvents',
  queueId: 3,
  queueOffset: 1200,
  maxCount: 32,
  maxBytes: 1_048_576,
  tagExpression: 'created||paid',
  longPollTimeoutMs: 15_000,
  commitOffset: 1199,
};

export const pull_response: PullResponse = {
  status: 'FOUND',
  nextOffset: 1202,
  minOffset: 0,
  maxOffset: 1235,
  messages: [
    {
      msgId: '0A000005000029BF0000000000001F40',
      topic: 'OrderEvents',
      queueId: 3,
      queueOffset: 1200,
      commitLogOffset: 7_999_000_000,
      tag: 'created',
      keys: ['order-999'],
      properties: { traceId: 'zz9' },
      bornTimestamp: born_ms,
      bornHost: '10.0.0.5:53122',
      storeTimestamp: born_ms + 3,
      storeHost: '10.0.0.9:10911',
      reconsumeTimes: 0,
      flags: 0,
      bodyCrc32: 3_735_928_559,
      body: Buffer.from('first'),
    },
    {
      msgId: '0A000005000029BF0000000000002000',
      topic: 'OrderEvents',
      queueId: 3,
      queueOffset: 1201,
      commitLogOffset: 7_999_000_200,
      tag: null,
      keys: [],
      properties: {},
      bornTimestamp: born_ms + 10,
      bornHost: '10.0.0.6:40000',
      storeTimestamp: born_ms + 12,
      storeHost: '10.0.0.9:10911',
      reconsumeTimes: 2,
      flags: 1,
      bodyCrc32: 0,
      body: Buffer.alloc(0),
    },
  ],
};

export const query_consumer_offset_request: QueryConsumerOffsetRequest = {
  group: 'billing',
  topic: 'OrderEvents',
  queueId: 3,
};
export const query_consumer_offset_response: QueryConsumerOffsetResponse = { offset: 1202 };
export const commit_consumer_offset_request: CommitConsumerOffsetRequest = {
  group: 'billing',
  topic: 'OrderEvents',
  queueId: 3,
  offset: 1202,
};

export const get_offset_request: GetOffsetRequest = { topic: 'OrderEvents', queueId: 3 };
export const get_offset_response: GetOffsetResponse = { offset: 1235 };

export const get_route_request: GetRouteRequest = { topic: 'OrderEvents' };
export const topic_route_data: TopicRouteData = {
  topic: 'OrderEvents',
  routeVersion: 17,
  brokers: [
    { cluster: 'DefaultCluster', brokerName: 'broker-a', addresses: { '0': '10.0.0.9:10911', '1': '10.0.0.10:10911' } },
    { cluster: 'DefaultCluster', brokerName: 'broker-b', addresses: { '0': '10.0.0.11:10911' } },
  ],
  queues: [
    { brokerName: 'broker-a', readQueues: 8, writeQueues: 8, perm: 6 },
    { brokerName: 'broker-b', readQueues: 4, writeQueues: 4, perm: 4 },
  ],
};

export const heartbeat_request: HeartbeatRequest = {
  clientId: 'app-host@4242',
  producerGroups: ['order-producers'],
  consumerGroups: [
    {
      group: 'billing',
      mode: 'CLUSTERING',
      fromWhere: 'LAST',
      subscriptions: [
        { topic: 'OrderEvents', expression: 'created||paid' },
        { topic: '%RETRY%billing', expression: '*' },
      ],
      assignedQueues: [],
    },
    { group: 'audit', mode: 'BROADCASTING', fromWhere: 'FIRST', subscriptions: [{ topic: 'OrderEvents', expression: '*' }], assignedQueues: [] },
  ],
};

/** Version 2: the same member, reading two queues of the broker it heartbeats. */
export const heartbeat_request_v2: HeartbeatRequest = {
  ...heartbeat_request,
  consumerGroups: heartbeat_request.consumerGroups.map((group, index) => ({
    ...group,
    assignedQueues: index === 0 ? [{ topic: 'OrderEvents', queueId: 0 }, { topic: '%RETRY%billing', queueId: 3 }] : [],
  })),
};

export const register_broker_request: RegisterBrokerRequest = {
  cluster: 'DefaultCluster',
  brokerName: 'broker-a',
  brokerId: 0,
  address: '10.0.0.9:10911',
  haAddress: '10.0.0.9:10912',
  epoch: 3,
  dataVersion: 42,
  topics: [
    { topic: 'OrderEvents', readQueues: 8, writeQueues: 8, perm: 6 },
    { topic: '%RETRY%billing', readQueues: 1, writeQueues: 1, perm: 6 },
  ],
  maxOffset: 1_048_576,
  inSyncSlaves: [1, 2],
};
export const register_broker_response: RegisterBrokerResponse = { masterAddress: null, masterHaAddress: null, epoch: 3, master: true };

export const broker_heartbeat_request: BrokerHeartbeatRequest = {
  cluster: 'DefaultCluster',
  brokerName: 'broker-a',
  brokerId: 1,
  address: '10.0.0.10:10911',
  epoch: 3,
  dataVersion: 42,
  maxOffset: 65_536,
  inSyncSlaves: [],
};
export const broker_heartbeat_response: BrokerHeartbeatResponse = {
  registrationNeeded: false,
  masterAddress: '10.0.0.9:10911',
  masterHaAddress: '10.0.0.9:10912',
  epoch: 3,
  master: false,
};

export const unregister_broker_request: UnregisterBrokerRequest = {
  cluster: 'DefaultCluster',
  brokerName: 'broker-a',
  brokerId: 1,
  address: '10.0.0.10:10911',
};

export const create_topic_request: CreateTopicRequest = { topic: 'OrderEvents', queues: 8, perm: 6 };

export const error_response: ErrorResponse = {
  code: 'TOPIC_NOT_FOUND',
  message: 'topic "Nope" does not exist; create it with `mq-node admin topic create`',
  retriable: false,
};

export const get_message_request = { msgId: '0000018BCFE5AA000A00000529BF00000001DCD6F5C0' };
export const get_consumer_list_request = { group: 'order-processors' };
export const get_consumer_list_response = { clientIds: ['10.0.0.5@4242', '10.0.0.6@777'] };

export const get_cluster_info_request: GetClusterInfoRequest = {};
export const cluster_info: ClusterInfo = {
  dataVersion: 57,
  groups: [
    {
      cluster: 'DefaultCluster',
      brokerName: 'broker-a',
      members: [
        { brokerId: 0, address: '10.0.0.9:10911', haAddress: '10.0.0.9:10912', epoch: 3, dataVersion: 42, lastHeartbeatMs: born_ms, maxOffset: 0, inSync: false },
        { brokerId: 1, address: '10.0.0.10:10911', haAddress: '10.0.0.10:10912', epoch: 3, dataVersion: 42, lastHeartbeatMs: born_ms + 5, maxOffset: 0, inSync: false },
      ],
    },
  ],
};

/** Version 2: with each broker's CommitLog end and the slave in sync. */
export const cluster_info_v2: ClusterInfo = {
  ...cluster_info,
  groups: cluster_info.groups.map((group) => ({
    ...group,
    members: group.members.map((member) => ({ ...member, maxOffset: member.brokerId === 0 ? 1_073_741_824 : 1_073_000_000, inSync: member.brokerId !== 0 })),
  })),
};

export const get_consumer_connection_list_request: GetConsumerConnectionListRequest = { group: 'billing' };
export const get_consumer_connection_list_response: GetConsumerConnectionListResponse = {
  connections: [
    {
      clientId: 'app-host@4242',
      remoteAddress: '10.0.0.20:53122',
      lastHeartbeatMs: born_ms + 9,
      mode: 'CLUSTERING',
      fromWhere: 'LAST',
      subscriptions: [{ topic: 'OrderEvents', expression: 'created||paid' }],
      assignedQueues: [{ topic: 'OrderEvents', queueId: 0 }, { topic: 'OrderEvents', queueId: 1 }],
      assignmentKnown: true,
    },
  ],
  connectionsLeftOut: 3,
};

export const query_message_request: QueryMessageRequest = { topic: 'OrderEvents', key: 'order-1001', maxCount: 32, beginMs: 0, endMs: born_ms + 60_000 };
export const get_topic_list_request: GetTopicListRequest = { cluster: 'DefaultCluster' };
export const topic_list: TopicList = { dataVersion: 57, topics: ['%RETRY%billing', 'OrderEvents'] };
export const delete_topic_request: DeleteTopicRequest = { topic: 'OrderEvents' };
export const subscribe_route_request: SubscribeRouteRequest = { topics: ['OrderEvents', '%RETRY%billing'] };
export const subscribe_route_response: SubscribeRouteResponse = { subscribedTopics: 2 };
export const route_changed_notification: RouteChangedNotification = { topic: 'OrderEvents', routeVersion: 57, brokerNames: ['broker-a', 'broker-b'] };
export const unregister_client_request = { clientId: '10.0.0.5@4242', consumerGroups: ['order-processors'] };
export const broker_endpoints = { brokerName: 'broker-a', brokerId: 0, grpcAddress: '10.0.0.5:8081' };
export const send_back_request = { group: 'order-processors', commitLogOffset: 123_456_789, msgId: '0000018BCFE5AA000A00000529BF00000001DCD6F5C0', maxReconsumeTimes: 16 };
export const send_back_result = { destination: 'RETRY' as const, topic: '%RETRY%order-processors', reconsumeTimes: 3, deliverAtMs: born_ms + 60_000, msgId: '0000018BCFE5AA000A00000529BF0000000275D0F5C0' };
export const resend_dead_letter_request = { commitLogOffset: 987_654_321 };
export const end_transaction_request = { producerGroup: 'order-tx', commitLogOffset: 8_000_000_123, msgId: '0000018BCFE5AA000A00000529BF00000001DCD6F5C0', outcome: 'COMMIT' as const, fromCheck: false };
export const end_transaction_response = { result: 'COMMITTED' as const };

export const ha_hello_request = { version: 1, cluster: 'DefaultCluster', brokerName: 'broker-a', brokerId: 1, epoch: 3, maxOffset: 1_073_741_824 + 4_096, segmentBytes: 1_073_741_824 };
export const ha_hello_response = { epoch: 3, epochs: [{ epoch: 3, startOffset: 4_096 }], startOffset: 1_073_741_824, masterOffset: 1_073_741_824 + 65_536 };
export const all_topic_config = { dataVersion: 7, topics: [{ topic: 'Orders', readQueues: 8, writeQueues: 8, perm: 6 }] };
export const all_consumer_offset = { entries: [{ group: 'billing', topic: 'Orders', queueId: 3, offset: 1_000 }] };

export const ns_vote_request = { term: 7, candidate: '10.0.0.2:9876', lastSeq: 123_456, lastTerm: 6 };
export const ns_beat_request = {
  term: 7, leader: '10.0.0.1:9876', upstream: '10.0.0.2:9876', tail: '10.0.0.3:9876', chain: ['10.0.0.1:9876', '10.0.0.2:9876', '10.0.0.3:9876'], commitSeq: 123_450,
};
export const ns_fetch_request = { term: 7, follower: '10.0.0.3:9876', fromSeq: 123_451, prevTerm: 7, waitMs: 500 };
export const ns_fetch_response = {
  kind: 'entries' as const,
  entries: [{ seq: 123_451, term: 7, command: Buffer.from([0x00, 0x02, 0x04]) }, { seq: 123_452, term: 7, command: Buffer.from([0x0a, 0x0b]) }],
  snapshotSeq: 0, snapshotTerm: 0, snapshot: Buffer.alloc(0),
};
export const ns_status = {
  self: '10.0.0.1:9876', role: 'leader', mode: 'sync', term: 7, leader: '10.0.0.1:9876', lastSeq: 123_456, lastTerm: 7, commitSeq: 123_450,
  chain: ['10.0.0.1:9876', '10.0.0.2:9876'], snapshotsInstalled: 1, resumedFromSeq: 100, semiSyncFallbacks: 2, snapshotSeq: 0, snapshot: Buffer.from([1, 2, 3]),
};

export const acl_account: AclAccountRecord = {
  accessKey: 'orders-app',
  secretKey: 'secret-of-orders',
  admin: false,
  allowAddresses: ['10.1.0.0/16'],
  defaultTopicPerm: 'DENY',
  defaultGroupPerm: 'SUB',
  topicPerms: { Orders: 'PUB|SUB' },
  groupPerms: { billing: 'SUB' },
  limits: { heldPulls: 2048 },
};
