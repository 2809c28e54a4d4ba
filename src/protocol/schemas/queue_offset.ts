/**
 * GET_MIN_OFFSET and GET_MAX_OFFSET: the range of offsets one queue holds. Both requests
 * share these records; the request code says which end is wanted.
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';

export const queue_offset_protocol_version = 1;

export interface GetOffsetRequest {
  topic: string;
  queueId: number;
}

export interface GetOffsetResponse {
  /** GET_MIN_OFFSET: the oldest offset held; GET_MAX_OFFSET: the next offset to be assigned. */
  offset: number;
}

export const get_offset_request_v1 = defineCodec<GetOffsetRequest>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'GetOffsetRequest',
    fields: [
      { name: 'topic', type: 'string' },
      { name: 'queueId', type: 'int' },
    ],
  },
});
export const get_offset_response_v1 = defineCodec<GetOffsetResponse>({
  protocol_version: 1,
  schema: { type: 'record', name: 'GetOffsetResponse', fields: [{ name: 'offset', type: 'long' }] },
});

export const GetOffsetRequestType = get_offset_request_v1.type;
export const GetOffsetResponseType = get_offset_response_v1.type;

export function encodeGetOffsetRequest(value: GetOffsetRequest): Buffer {
  return get_offset_request_v1.encode(value);
}
export function decodeGetOffsetRequest(bytes: Uint8Array): Result<GetOffsetRequest> {
  return get_offset_request_v1.decode(bytes);
}
export function encodeGetOffsetResponse(value: GetOffsetResponse): Buffer {
  return get_offset_response_v1.encode(value);
}
export function decodeGetOffsetResponse(bytes: Uint8Array): Result<GetOffsetResponse> {
  return get_offset_response_v1.decode(bytes);
}
