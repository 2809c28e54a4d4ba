/**
 * PULL: a consumer asks for messages of one queue from an offset; the broker may hold the
 * request up to `longPollTimeoutMs` when nothing is there yet. The response carries the
 * messages as StoredMessage records and the offsets the consumer continues from.
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';

export const pull_protocol_version = 1;

export interface PullRequest {
  consumerGroup: string;
  topic: string;
  queueId: number;
  /** First queue offset wanted. */
  queueOffset: number;
  /** At most this many messages. */
  maxCount: number;
  /** At most about this many body bytes (at least one message is returned if any matches). */
  maxBytes: number;
  /** Tag filter: `*` for all, or `a||b`. */
  tagExpression: string;
  /** Hold the request up to this long when no message is there; 0 answers at once. */
  longPollTimeoutMs: number;
  /** The group's offset to commit with this pull, or null. */
  commitOffset: number | null;
}

export const pull_statuses = ['FOUND', 'NO_NEW_MSG', 'OFFSET_MOVED', 'NO_MATCHED_MSG'] as const;
export type PullStatus = (typeof pull_statuses)[number];

/** A message as the broker stored it, as a consumer receives it. */
export interface StoredMessage {
  msgId: string;
  topic: string;
  queueId: number;
  queueOffset: number;
  commitLogOffset: number;
  tag: string | null;
  keys: string[];
  properties: Record<string, string>;
  bornTimestamp: number;
  bornHost: string;
  storeTimestamp: number;
  storeHost: string;
  reconsumeTimes: number;
  flags: number;
  /** CRC32 of the body as stored, so the consumer can check the bytes end to end. */
  bodyCrc32: number;
  body: Buffer;
}

export interface PullResponse {
  status: PullStatus;
  /** The offset to pull from next. */
  nextOffset: number;
  /** The queue's oldest offset. */
  minOffset: number;
  /** The queue's next offset to be assigned. */
  maxOffset: number;
  messages: StoredMessage[];
}

export const stored_message_schema_v1 = {
  type: 'record',
  name: 'StoredMessage',
  fields: [
    { name: 'msgId', type: 'string' },
    { name: 'topic', type: 'string' },
    { name: 'queueId', type: 'int' },
    { name: 'queueOffset', type: 'long' },
    { name: 'commitLogOffset', type: 'long' },
    { name: 'tag', type: ['null', 'string'], default: null },
    { name: 'keys', type: { type: 'array', items: 'string' } },
    { name: 'properties', type: { type: 'map', values: 'string' } },
    { name: 'bornTimestamp', type: 'long' },
    { name: 'bornHost', type: 'string' },
    { name: 'storeTimestamp', type: 'long' },
    { name: 'storeHost', type: 'string' },
    { name: 'reconsumeTimes', type: 'int' },
    { name: 'flags', type: 'int' },
    { name: 'bodyCrc32', type: 'long' },
    { name: 'body', type: 'bytes' },
  ],
};

export const pull_request_v1 = defineCodec<PullRequest>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'PullRequest',
    fields: [
      { name: 'consumerGroup', type: 'string' },
      { name: 'topic', type: 'string' },
      { name: 'queueId', type: 'int' },
      { name: 'queueOffset', type: 'long' },
      { name: 'maxCount', type: 'int' },
      { name: 'maxBytes', type: 'int' },
      { name: 'tagExpression', type: 'string' },
      { name: 'longPollTimeoutMs', type: 'int' },
      { name: 'commitOffset', type: ['null', 'long'], default: null },
    ],
  },
});

export const pull_response_v1 = defineCodec<PullResponse>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'PullResponse',
    fields: [
      { name: 'status', type: { type: 'enum', name: 'PullStatus', symbols: [...pull_statuses] } },
      { name: 'nextOffset', type: 'long' },
      { name: 'minOffset', type: 'long' },
      { name: 'maxOffset', type: 'long' },
      { name: 'messages', type: { type: 'array', items: stored_message_schema_v1 } },
    ],
  },
});

export const PullRequestType = pull_request_v1.type;
export const PullResponseType = pull_response_v1.type;

export function encodePullRequest(value: PullRequest): Buffer {
  return pull_request_v1.encode(value);
}
export function decodePullRequest(bytes: Uint8Array): Result<PullRequest> {
  return pull_request_v1.decode(bytes);
}
export function encodePullResponse(value: PullResponse): Buffer {
  return pull_response_v1.encode(value);
}
/** Message bodies are copies (avsc copies `bytes` inside arrays). */
export function decodePullResponse(bytes: Uint8Array): Result<PullResponse> {
  return pull_response_v1.decode(bytes);
}
