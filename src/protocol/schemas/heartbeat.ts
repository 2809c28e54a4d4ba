/**
 * HEARTBEAT: a client tells a broker, periodically, which producer and consumer groups it
 * belongs to and what each consumer group subscribes to. Brokers use it for liveness and
 * for the membership that consumer rebalancing divides queues by.
 *
 * Version 2 adds, per consumer group, the queues of this broker the member holds now
 * (`assignedQueues`): brokers keep no assignment of their own (members rebalance
 * themselves), and the operator's view of a group shows who reads which queue from this.
 */
import { defineCodec } from '../avro_codec.js';
import { ok, type Result } from '../protocol_error.js';

export const heartbeat_protocol_version = 2;

export const consume_modes = ['CLUSTERING', 'BROADCASTING'] as const;
export type ConsumeMode = (typeof consume_modes)[number];

export const consume_from_wheres = ['LAST', 'FIRST'] as const;
export type ConsumeFromWhere = (typeof consume_from_wheres)[number];

export interface Subscription {
  topic: string;
  /** Tag filter: `*` or `a||b`. */
  expression: string;
}

/** A queue of the broker the heartbeat goes to. */
export interface AssignedQueue {
  topic: string;
  queueId: number;
}

export interface ConsumerGroupData {
  group: string;
  mode: ConsumeMode;
  /** Where a group with no committed offset starts. */
  fromWhere: ConsumeFromWhere;
  subscriptions: Subscription[];
  /** Version 2: the queues of the receiving broker this member reads (empty from a version 1 client). */
  assignedQueues: AssignedQueue[];
}

export interface HeartbeatRequest {
  clientId: string;
  producerGroups: string[];
  consumerGroups: ConsumerGroupData[];
}

/** Empty in version 1; a record so that later versions can add fields. */
export type HeartbeatResponse = Record<string, never>;

/** Shared with consumer_connection.ts (the same records, named the same in both). */
export const subscription_schema = {
  type: 'record',
  name: 'Subscription',
  fields: [
    { name: 'topic', type: 'string' },
    { name: 'expression', type: 'string' },
  ],
};

export const assigned_queue_schema = {
  type: 'record',
  name: 'AssignedQueue',
  fields: [
    { name: 'topic', type: 'string' },
    { name: 'queueId', type: 'int' },
  ],
};

/** The fields of ConsumerGroupData in version 1; version 2 appends `assignedQueues`. */
function consumerGroupFieldsV1(): object[] {
  return [
    { name: 'group', type: 'string' },
    { name: 'mode', type: { type: 'enum', name: 'ConsumeMode', symbols: [...consume_modes] } },
    { name: 'fromWhere', type: { type: 'enum', name: 'ConsumeFromWhere', symbols: [...consume_from_wheres] } },
    { name: 'subscriptions', type: { type: 'array', items: subscription_schema } },
  ];
}

function heartbeatSchema(consumer_group_fields: object[]): object {
  return {
    type: 'record',
    name: 'HeartbeatRequest',
    fields: [
      { name: 'clientId', type: 'string' },
      { name: 'producerGroups', type: { type: 'array', items: 'string' } },
      { name: 'consumerGroups', type: { type: 'array', items: { type: 'record', name: 'ConsumerGroupData', fields: consumer_group_fields } } },
    ],
  };
}

/** Version 1 has no `assignedQueues`: encoding drops it, decoding gives an empty list. */
export const heartbeat_request_v1 = defineCodec<Omit<HeartbeatRequest, 'consumerGroups'> & { consumerGroups: Array<Omit<ConsumerGroupData, 'assignedQueues'>> }>({
  protocol_version: 1,
  schema: heartbeatSchema(consumerGroupFieldsV1()),
});

export const heartbeat_request_v2 = defineCodec<HeartbeatRequest>({
  protocol_version: 2,
  schema: heartbeatSchema([
    ...consumerGroupFieldsV1(),
    {
      name: 'assignedQueues',
      type: { type: 'array', items: assigned_queue_schema },
    },
  ]),
});

export const heartbeat_response_v1 = defineCodec<HeartbeatResponse>({
  protocol_version: 1,
  schema: { type: 'record', name: 'HeartbeatResponse', fields: [] },
});

export const HeartbeatRequestType = heartbeat_request_v2.type;
export const HeartbeatResponseType = heartbeat_response_v1.type;

/** Encodes for a connection of `protocol_version`; version 1 leaves the assignment out. */
export function encodeHeartbeatRequest(value: HeartbeatRequest, protocol_version: number): Buffer {
  return protocol_version >= 2 ? heartbeat_request_v2.encode(value) : heartbeat_request_v1.encode(value);
}
export function decodeHeartbeatRequest(bytes: Uint8Array, protocol_version: number): Result<HeartbeatRequest> {
  if (protocol_version >= 2) return heartbeat_request_v2.decode(bytes);
  const decoded = heartbeat_request_v1.decode(bytes);
  if (!decoded.ok) return decoded;
  return ok({ ...decoded.value, consumerGroups: decoded.value.consumerGroups.map((group) => ({ ...group, assignedQueues: [] })) });
}
export function encodeHeartbeatResponse(value: HeartbeatResponse): Buffer {
  return heartbeat_response_v1.encode(value);
}
export function decodeHeartbeatResponse(bytes: Uint8Array): Result<HeartbeatResponse> {
  return heartbeat_response_v1.decode(bytes);
}
