/**
 * QUERY_MESSAGE (protocol 2): the messages of a topic stored with a business key, newest
 * first, found through the broker's key index (RocketMQ's QUERY_MESSAGE). A key is one of
 * the message's `keys`; the broker checks every candidate record, so a hash collision in the
 * index never returns another key's message.
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';
import { stored_message_schema_v1, type StoredMessage } from './pull.js';

export const message_query_protocol_version = 2;

export interface QueryMessageRequest {
  topic: string;
  key: string;
  /** At most this many messages (the broker also caps it). */
  maxCount: number;
  /** Store-time range, ms since the epoch, inclusive; 0 and 0 mean "any time". */
  beginMs: number;
  endMs: number;
}

export interface QueryMessageResponse {
  /** Newest first. */
  messages: StoredMessage[];
}

export const query_message_request_v2 = defineCodec<QueryMessageRequest>({
  protocol_version: 2,
  schema: {
    type: 'record',
    name: 'QueryMessageRequest',
    fields: [
      { name: 'topic', type: 'string' },
      { name: 'key', type: 'string' },
      { name: 'maxCount', type: 'int' },
      { name: 'beginMs', type: 'long' },
      { name: 'endMs', type: 'long' },
    ],
  },
});

export const query_message_response_v2 = defineCodec<QueryMessageResponse>({
  protocol_version: 2,
  schema: { type: 'record', name: 'QueryMessageResponse', fields: [{ name: 'messages', type: { type: 'array', items: stored_message_schema_v1 } }] },
});

export function encodeQueryMessageRequest(value: QueryMessageRequest): Buffer {
  return query_message_request_v2.encode(value);
}
export function decodeQueryMessageRequest(bytes: Uint8Array): Result<QueryMessageRequest> {
  return query_message_request_v2.decode(bytes);
}
export function encodeQueryMessageResponse(value: QueryMessageResponse): Buffer {
  return query_message_response_v2.encode(value);
}
export function decodeQueryMessageResponse(bytes: Uint8Array): Result<QueryMessageResponse> {
  return query_message_response_v2.decode(bytes);
}
