/**
 * DELETE_TOPIC_IN_NAMESRV: an admin removes a topic from a nameserver's routes (RocketMQ's
 * request of the same name). It does not touch brokers: delete the topic on the brokers
 * first, or their next registration lists it again.
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';

export const delete_topic_protocol_version = 1;

export interface DeleteTopicRequest {
  topic: string;
}

/** Empty in version 1; a record so that later versions can add fields. */
export type DeleteTopicResponse = Record<string, never>;

export const delete_topic_request_v1 = defineCodec<DeleteTopicRequest>({
  protocol_version: 1,
  schema: { type: 'record', name: 'DeleteTopicRequest', fields: [{ name: 'topic', type: 'string' }] },
});

export const delete_topic_response_v1 = defineCodec<DeleteTopicResponse>({
  protocol_version: 1,
  schema: { type: 'record', name: 'DeleteTopicResponse', fields: [] },
});

export const DeleteTopicRequestType = delete_topic_request_v1.type;
export const DeleteTopicResponseType = delete_topic_response_v1.type;

export function encodeDeleteTopicRequest(value: DeleteTopicRequest): Buffer {
  return delete_topic_request_v1.encode(value);
}
export function decodeDeleteTopicRequest(bytes: Uint8Array): Result<DeleteTopicRequest> {
  return delete_topic_request_v1.decode(bytes);
}
export function encodeDeleteTopicResponse(value: DeleteTopicResponse): Buffer {
  return delete_topic_response_v1.encode(value);
}
export function decodeDeleteTopicResponse(bytes: Uint8Array): Result<DeleteTopicResponse> {
  return delete_topic_response_v1.decode(bytes);
}
