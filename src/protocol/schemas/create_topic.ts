/**
 * CREATE_TOPIC: an admin creates (or updates) a topic on a broker group, with the same
 * number of read and write queues.
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';

export const create_topic_protocol_version = 1;

export interface CreateTopicRequest {
  topic: string;
  /** Read and write queues on this broker group. */
  queues: number;
  /** Bit set of perm_read / perm_write / perm_inherit (route.ts). */
  perm: number;
}

/** Empty in version 1; a record so that later versions can add fields. */
export type CreateTopicResponse = Record<string, never>;

export const create_topic_request_v1 = defineCodec<CreateTopicRequest>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'CreateTopicRequest',
    fields: [
      { name: 'topic', type: 'string' },
      { name: 'queues', type: 'int' },
      { name: 'perm', type: 'int' },
    ],
  },
});

export const create_topic_response_v1 = defineCodec<CreateTopicResponse>({
  protocol_version: 1,
  schema: { type: 'record', name: 'CreateTopicResponse', fields: [] },
});

export const CreateTopicRequestType = create_topic_request_v1.type;
export const CreateTopicResponseType = create_topic_response_v1.type;

export function encodeCreateTopicRequest(value: CreateTopicRequest): Buffer {
  return create_topic_request_v1.encode(value);
}
export function decodeCreateTopicRequest(bytes: Uint8Array): Result<CreateTopicRequest> {
  return create_topic_request_v1.decode(bytes);
}
export function encodeCreateTopicResponse(value: CreateTopicResponse): Buffer {
  return create_topic_response_v1.encode(value);
}
export function decodeCreateTopicResponse(bytes: Uint8Array): Result<CreateTopicResponse> {
  return create_topic_response_v1.decode(bytes);
}
