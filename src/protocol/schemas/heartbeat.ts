/**
 * HEARTBEAT: a client tells a broker, periodically, which producer and consumer groups it
 * belongs to and what each consumer group subscribes to. Brokers use it for liveness and
 * for the membership that consumer rebalancing divides queues by.
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';

export const heartbeat_protocol_version = 1;

export const consume_modes = ['CLUSTERING', 'BROADCASTING'] as const;
export type ConsumeMode = (typeof consume_modes)[number];

export const consume_from_wheres = ['LAST', 'FIRST'] as const;
export type ConsumeFromWhere = (typeof consume_from_wheres)[number];

export interface Subscription {
  topic: string;
  /** Tag filter: `*` or `a||b`. */
  expression: string;
}

export interface ConsumerGroupData {
  group: string;
  mode: ConsumeMode;
  /** Where a group with no committed offset starts. */
  fromWhere: ConsumeFromWhere;
  subscriptions: Subscription[];
}

export interface HeartbeatRequest {
  clientId: string;
  producerGroups: string[];
  consumerGroups: ConsumerGroupData[];
}

/** Empty in version 1; a record so that later versions can add fields. */
export type HeartbeatResponse = Record<string, never>;

export const heartbeat_request_v1 = defineCodec<HeartbeatRequest>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'HeartbeatRequest',
    fields: [
      { name: 'clientId', type: 'string' },
      { name: 'producerGroups', type: { type: 'array', items: 'string' } },
      {
        name: 'consumerGroups',
        type: {
          type: 'array',
          items: {
            type: 'record',
            name: 'ConsumerGroupData',
            fields: [
              { name: 'group', type: 'string' },
              { name: 'mode', type: { type: 'enum', name: 'ConsumeMode', symbols: [...consume_modes] } },
              {
                name: 'fromWhere',
                type: { type: 'enum', name: 'ConsumeFromWhere', symbols: [...consume_from_wheres] },
              },
              {
                name: 'subscriptions',
                type: {
                  type: 'array',
                  items: {
                    type: 'record',
                    name: 'Subscription',
                    fields: [
                      { name: 'topic', type: 'string' },
                      { name: 'expression', type: 'string' },
                    ],
                  },
                },
              },
            ],
          },
        },
      },
    ],
  },
});

export const heartbeat_response_v1 = defineCodec<HeartbeatResponse>({
  protocol_version: 1,
  schema: { type: 'record', name: 'HeartbeatResponse', fields: [] },
});

export const HeartbeatRequestType = heartbeat_request_v1.type;
export const HeartbeatResponseType = heartbeat_response_v1.type;

export function encodeHeartbeatRequest(value: HeartbeatRequest): Buffer {
  return heartbeat_request_v1.encode(value);
}
export function decodeHeartbeatRequest(bytes: Uint8Array): Result<HeartbeatRequest> {
  return heartbeat_request_v1.decode(bytes);
}
export function encodeHeartbeatResponse(value: HeartbeatResponse): Buffer {
  return heartbeat_response_v1.encode(value);
}
export function decodeHeartbeatResponse(bytes: Uint8Array): Result<HeartbeatResponse> {
  return heartbeat_response_v1.decode(bytes);
}
