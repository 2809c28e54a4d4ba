/**
 * GET_ROUTE: which broker groups serve a topic and how many queues each has. The route
 * version grows whenever the namesrv's view of the topic changes, so a client can tell a
 * fresh route from a stale cached one.
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';

export const route_protocol_version = 1;

/** Permission bits of a topic on a broker group (RocketMQ's PermName values). */
export const perm_read = 1 << 2;
export const perm_write = 1 << 1;
export const perm_inherit = 1 << 0;

/** The `addresses` key of a broker group's master (brokerId 0). */
export const master_broker_id = '0';

export interface GetRouteRequest {
  topic: string;
}

export interface BrokerData {
  cluster: string;
  brokerName: string;
  /** brokerId (decimal string; "0" is the master) -> `host:port`. */
  addresses: Record<string, string>;
}

export interface QueueData {
  brokerName: string;
  readQueues: number;
  writeQueues: number;
  /** Bit set of `perm_read`, `perm_write`, `perm_inherit`. */
  perm: number;
}

export interface TopicRouteData {
  topic: string;
  routeVersion: number;
  brokers: BrokerData[];
  queues: QueueData[];
}

export const get_route_request_v1 = defineCodec<GetRouteRequest>({
  protocol_version: 1,
  schema: { type: 'record', name: 'GetRouteRequest', fields: [{ name: 'topic', type: 'string' }] },
});

export const topic_route_data_v1 = defineCodec<TopicRouteData>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'TopicRouteData',
    fields: [
      { name: 'topic', type: 'string' },
      { name: 'routeVersion', type: 'long' },
      {
        name: 'brokers',
        type: {
          type: 'array',
          items: {
            type: 'record',
            name: 'BrokerData',
            fields: [
              { name: 'cluster', type: 'string' },
              { name: 'brokerName', type: 'string' },
              { name: 'addresses', type: { type: 'map', values: 'string' } },
            ],
          },
        },
      },
      {
        name: 'queues',
        type: {
          type: 'array',
          items: {
            type: 'record',
            name: 'QueueData',
            fields: [
              { name: 'brokerName', type: 'string' },
              { name: 'readQueues', type: 'int' },
              { name: 'writeQueues', type: 'int' },
              { name: 'perm', type: 'int' },
            ],
          },
        },
      },
    ],
  },
});

export const GetRouteRequestType = get_route_request_v1.type;
export const TopicRouteDataType = topic_route_data_v1.type;

export function encodeGetRouteRequest(value: GetRouteRequest): Buffer {
  return get_route_request_v1.encode(value);
}
export function decodeGetRouteRequest(bytes: Uint8Array): Result<GetRouteRequest> {
  return get_route_request_v1.decode(bytes);
}
export function encodeTopicRouteData(value: TopicRouteData): Buffer {
  return topic_route_data_v1.encode(value);
}
export function decodeTopicRouteData(bytes: Uint8Array): Result<TopicRouteData> {
  return topic_route_data_v1.decode(bytes);
}
