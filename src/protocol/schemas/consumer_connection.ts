/**
 * GET_CONSUMER_CONNECTION_LIST (protocol 2): a consumer group as one broker sees it, for the
 * operator's view: each live member with its subscriptions and the queues of this broker it
 * reads (from the member's last heartbeat; RocketMQ's GET_CONSUMER_CONNECTION_LIST). Not for
 * rebalancing: members divide queues from GET_CONSUMER_LIST.
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';
import type { AssignedQueue, ConsumeFromWhere, ConsumeMode, Subscription } from './heartbeat.js';
import { assigned_queue_schema, consume_from_wheres, consume_modes, subscription_schema } from './heartbeat.js';

export const consumer_connection_protocol_version = 2;

export interface GetConsumerConnectionListRequest {
  group: string;
}

export interface ConsumerConnection {
  clientId: string;
  /** `host:port` of the member's connection to this broker ("" when it is not connected now). */
  remoteAddress: string;
  /** Wall-clock time of its last heartbeat (ms since the epoch). */
  lastHeartbeatMs: number;
  mode: ConsumeMode;
  fromWhere: ConsumeFromWhere;
  subscriptions: Subscription[];
  /** Queues of this broker the member reads, from its last heartbeat. */
  assignedQueues: AssignedQueue[];
  /** False for a member speaking protocol 1: its heartbeats carry no queues, so `assignedQueues` says nothing. */
  assignmentKnown: boolean;
}

export interface GetConsumerConnectionListResponse {
  /** Sorted by client id; as many as fit the broker's answer budget. */
  connections: ConsumerConnection[];
  /** Members beyond that budget, not listed. */
  connectionsLeftOut: number;
}

export const get_consumer_connection_list_request_v2 = defineCodec<GetConsumerConnectionListRequest>({
  protocol_version: 2,
  schema: { type: 'record', name: 'GetConsumerConnectionListRequest', fields: [{ name: 'group', type: 'string' }] },
});

export const get_consumer_connection_list_response_v2 = defineCodec<GetConsumerConnectionListResponse>({
  protocol_version: 2,
  schema: {
    type: 'record',
    name: 'GetConsumerConnectionListResponse',
    fields: [
      {
        name: 'connections',
        type: {
          type: 'array',
          items: {
            type: 'record',
            name: 'ConsumerConnection',
            fields: [
              { name: 'clientId', type: 'string' },
              { name: 'remoteAddress', type: 'string' },
              { name: 'lastHeartbeatMs', type: 'long' },
              { name: 'mode', type: { type: 'enum', name: 'ConsumeMode', symbols: [...consume_modes] } },
              { name: 'fromWhere', type: { type: 'enum', name: 'ConsumeFromWhere', symbols: [...consume_from_wheres] } },
              { name: 'subscriptions', type: { type: 'array', items: subscription_schema } },
              { name: 'assignedQueues', type: { type: 'array', items: assigned_queue_schema } },
              { name: 'assignmentKnown', type: 'boolean' },
            ],
          },
        },
      },
      { name: 'connectionsLeftOut', type: 'int' },
    ],
  },
});

export function encodeGetConsumerConnectionListRequest(value: GetConsumerConnectionListRequest): Buffer {
  return get_consumer_connection_list_request_v2.encode(value);
}
export function decodeGetConsumerConnectionListRequest(bytes: Uint8Array): Result<GetConsumerConnectionListRequest> {
  return get_consumer_connection_list_request_v2.decode(bytes);
}
export function encodeGetConsumerConnectionListResponse(value: GetConsumerConnectionListResponse): Buffer {
  return get_consumer_connection_list_response_v2.encode(value);
}
export function decodeGetConsumerConnectionListResponse(bytes: Uint8Array): Result<GetConsumerConnectionListResponse> {
  return get_consumer_connection_list_response_v2.decode(bytes);
}
