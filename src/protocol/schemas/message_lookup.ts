/**
 * GET_MESSAGE: one stored message by its message id (RocketMQ's VIEW_MESSAGE_BY_ID). The id
 * carries the store host and CommitLog offset, so the broker that wrote the message can read
 * it back without an index.
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';
import { stored_message_schema_v1, type StoredMessage } from './pull.js';

export const message_lookup_protocol_version = 1;

export interface GetMessageRequest {
  msgId: string;
}

export const get_message_request_v1 = defineCodec<GetMessageRequest>({
  protocol_version: 1,
  schema: { type: 'record', name: 'GetMessageRequest', fields: [{ name: 'msgId', type: 'string' }] },
});
export const get_message_response_v1 = defineCodec<StoredMessage>({
  protocol_version: 1,
  schema: stored_message_schema_v1,
});

export function encodeGetMessageRequest(value: GetMessageRequest): Buffer {
  return get_message_request_v1.encode(value);
}
export function decodeGetMessageRequest(bytes: Uint8Array): Result<GetMessageRequest> {
  return get_message_request_v1.decode(bytes);
}
export function encodeGetMessageResponse(value: StoredMessage): Buffer {
  return get_message_response_v1.encode(value);
}
export function decodeGetMessageResponse(bytes: Uint8Array): Result<StoredMessage> {
  return get_message_response_v1.decode(bytes);
}
