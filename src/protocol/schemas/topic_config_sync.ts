/**
 * GET_ALL_TOPIC_CONFIG: a slave broker copies its master's topic configs (RocketMQ's
 * SlaveSynchronize), so that it serves pulls of the same topics and, once promoted, takes
 * sends for them.
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';
import { topic_config_schema, type TopicConfig } from './broker_registration.js';

export type GetAllTopicConfigRequest = Record<string, never>;

export interface AllTopicConfig {
  /** The master's topic-config version: unchanged means nothing to copy. */
  dataVersion: number;
  topics: TopicConfig[];
}

export const get_all_topic_config_request_v1 = defineCodec<GetAllTopicConfigRequest>({
  protocol_version: 1,
  schema: { type: 'record', name: 'GetAllTopicConfigRequest', fields: [] },
});

export const all_topic_config_v1 = defineCodec<AllTopicConfig>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'AllTopicConfig',
    fields: [
      { name: 'dataVersion', type: 'long' },
      { name: 'topics', type: { type: 'array', items: topic_config_schema } },
    ],
  },
});

export function encodeGetAllTopicConfigRequest(value: GetAllTopicConfigRequest): Buffer {
  return get_all_topic_config_request_v1.encode(value);
}
export function decodeGetAllTopicConfigRequest(bytes: Uint8Array): Result<GetAllTopicConfigRequest> {
  return get_all_topic_config_request_v1.decode(bytes);
}
export function encodeAllTopicConfig(value: AllTopicConfig): Buffer {
  return all_topic_config_v1.encode(value);
}
export function decodeAllTopicConfig(bytes: Uint8Array): Result<AllTopicConfig> {
  return all_topic_config_v1.decode(bytes);
}
