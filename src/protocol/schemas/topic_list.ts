/**
 * GET_TOPIC_LIST: the names of the topics a nameserver routes, optionally only those served
 * by broker groups of one cluster. A topic whose brokers all left is still listed (its
 * route answers NO_ROUTE until a broker serves it again or it is deleted).
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';

export const topic_list_protocol_version = 1;

export interface GetTopicListRequest {
  /** Only topics with queues on a broker group of this cluster; null for every topic. */
  cluster: string | null;
}

export interface TopicList {
  /** The nameserver's global registry version when the list was taken. */
  dataVersion: number;
  /** Sorted. */
  topics: string[];
}

export const get_topic_list_request_v1 = defineCodec<GetTopicListRequest>({
  protocol_version: 1,
  schema: { type: 'record', name: 'GetTopicListRequest', fields: [{ name: 'cluster', type: ['null', 'string'], default: null }] },
});

export const topic_list_v1 = defineCodec<TopicList>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'TopicList',
    fields: [
      { name: 'dataVersion', type: 'long' },
      { name: 'topics', type: { type: 'array', items: 'string' } },
    ],
  },
});

export const GetTopicListRequestType = get_topic_list_request_v1.type;
export const TopicListType = topic_list_v1.type;

export function encodeGetTopicListRequest(value: GetTopicListRequest): Buffer {
  return get_topic_list_request_v1.encode(value);
}
export function decodeGetTopicListRequest(bytes: Uint8Array): Result<GetTopicListRequest> {
  return get_topic_list_request_v1.decode(bytes);
}
export function encodeTopicList(value: TopicList): Buffer {
  return topic_list_v1.encode(value);
}
export function decodeTopicList(bytes: Uint8Array): Result<TopicList> {
  return topic_list_v1.decode(bytes);
}
