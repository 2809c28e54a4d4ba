/**
 * GET_CONSUMER_LIST: the live members of a consumer group as one broker sees them (from
 * their heartbeats), sorted, so every member computes the same queue assignment
 * (RocketMQ's GET_CONSUMER_LIST_BY_GROUP).
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';

export const consumer_list_protocol_version = 1;

export interface GetConsumerListRequest {
  group: string;
}

export interface GetConsumerListResponse {
  /** Client ids, sorted. */
  clientIds: string[];
}

export const get_consumer_list_request_v1 = defineCodec<GetConsumerListRequest>({
  protocol_version: 1,
  schema: { type: 'record', name: 'GetConsumerListRequest', fields: [{ name: 'group', type: 'string' }] },
});
export const get_consumer_list_response_v1 = defineCodec<GetConsumerListResponse>({
  protocol_version: 1,
  schema: { type: 'record', name: 'GetConsumerListResponse', fields: [{ name: 'clientIds', type: { type: 'array', items: 'string' } }] },
});

export function encodeGetConsumerListRequest(value: GetConsumerListRequest): Buffer {
  return get_consumer_list_request_v1.encode(value);
}
export function decodeGetConsumerListRequest(bytes: Uint8Array): Result<GetConsumerListRequest> {
  return get_consumer_list_request_v1.decode(bytes);
}
export function encodeGetConsumerListResponse(value: GetConsumerListResponse): Buffer {
  return get_consumer_list_response_v1.encode(value);
}
export function decodeGetConsumerListResponse(bytes: Uint8Array): Result<GetConsumerListResponse> {
  return get_consumer_list_response_v1.decode(bytes);
}
