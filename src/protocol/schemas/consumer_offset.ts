/**
 * QUERY_CONSUMER_OFFSET and COMMIT_CONSUMER_OFFSET: a consumer group's position in one
 * queue, read and written.
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';

export const consumer_offset_protocol_version = 1;

/** `offset` of a QueryConsumerOffsetResponse when the group has committed nothing yet. */
export const offset_none = -1;

export interface QueryConsumerOffsetRequest {
  group: string;
  topic: string;
  queueId: number;
}

export interface QueryConsumerOffsetResponse {
  /** The committed offset, or `offset_none` (-1). */
  offset: number;
}

export interface CommitConsumerOffsetRequest {
  group: string;
  topic: string;
  queueId: number;
  /** The next offset the group will consume. */
  offset: number;
}

/** Empty in version 1; a record so that later versions can add fields. */
export type CommitConsumerOffsetResponse = Record<string, never>;

const queue_fields = [
  { name: 'group', type: 'string' },
  { name: 'topic', type: 'string' },
  { name: 'queueId', type: 'int' },
];

export const query_consumer_offset_request_v1 = defineCodec<QueryConsumerOffsetRequest>({
  protocol_version: 1,
  schema: { type: 'record', name: 'QueryConsumerOffsetRequest', fields: queue_fields },
});
export const query_consumer_offset_response_v1 = defineCodec<QueryConsumerOffsetResponse>({
  protocol_version: 1,
  schema: { type: 'record', name: 'QueryConsumerOffsetResponse', fields: [{ name: 'offset', type: 'long' }] },
});
export const commit_consumer_offset_request_v1 = defineCodec<CommitConsumerOffsetRequest>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'CommitConsumerOffsetRequest',
    fields: [...queue_fields, { name: 'offset', type: 'long' }],
  },
});
export const commit_consumer_offset_response_v1 = defineCodec<CommitConsumerOffsetResponse>({
  protocol_version: 1,
  schema: { type: 'record', name: 'CommitConsumerOffsetResponse', fields: [] },
});

export const QueryConsumerOffsetRequestType = query_consumer_offset_request_v1.type;
export const QueryConsumerOffsetResponseType = query_consumer_offset_response_v1.type;
export const CommitConsumerOffsetRequestType = commit_consumer_offset_request_v1.type;
export const CommitConsumerOffsetResponseType = commit_consumer_offset_response_v1.type;

export function encodeQueryConsumerOffsetRequest(value: QueryConsumerOffsetRequest): Buffer {
  return query_consumer_offset_request_v1.encode(value);
}
export function decodeQueryConsumerOffsetRequest(bytes: Uint8Array): Result<QueryConsumerOffsetRequest> {
  return query_consumer_offset_request_v1.decode(bytes);
}
export function encodeQueryConsumerOffsetResponse(value: QueryConsumerOffsetResponse): Buffer {
  return query_consumer_offset_response_v1.encode(value);
}
export function decodeQueryConsumerOffsetResponse(bytes: Uint8Array): Result<QueryConsumerOffsetResponse> {
  return query_consumer_offset_response_v1.decode(bytes);
}
export function encodeCommitConsumerOffsetRequest(value: CommitConsumerOffsetRequest): Buffer {
  return commit_consumer_offset_request_v1.encode(value);
}
export function decodeCommitConsumerOffsetRequest(bytes: Uint8Array): Result<CommitConsumerOffsetRequest> {
  return commit_consumer_offset_request_v1.decode(bytes);
}
export function encodeCommitConsumerOffsetResponse(value: CommitConsumerOffsetResponse): Buffer {
  return commit_consumer_offset_response_v1.encode(value);
}
export function decodeCommitConsumerOffsetResponse(bytes: Uint8Array): Result<CommitConsumerOffsetResponse> {
  return commit_consumer_offset_response_v1.decode(bytes);
}
