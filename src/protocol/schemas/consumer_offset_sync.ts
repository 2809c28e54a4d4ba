/**
 * GET_ALL_CONSUMER_OFFSET: a slave broker copies its master's consumer-group offsets
 * (RocketMQ's SlaveSynchronize), so that consumers keep their positions after a failover.
 * The answer is bounded by the offset store's own entry limit.
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';

export type GetAllConsumerOffsetRequest = Record<string, never>;

export interface ConsumerOffsetEntry {
  group: string;
  topic: string;
  queueId: number;
  offset: number;
}

export interface AllConsumerOffset {
  entries: ConsumerOffsetEntry[];
}

export const get_all_consumer_offset_request_v1 = defineCodec<GetAllConsumerOffsetRequest>({
  protocol_version: 1,
  schema: { type: 'record', name: 'GetAllConsumerOffsetRequest', fields: [] },
});

export const all_consumer_offset_v1 = defineCodec<AllConsumerOffset>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'AllConsumerOffset',
    fields: [
      {
        name: 'entries',
        type: {
          type: 'array',
          items: {
            type: 'record',
            name: 'ConsumerOffsetEntry',
            fields: [
              { name: 'group', type: 'string' },
              { name: 'topic', type: 'string' },
              { name: 'queueId', type: 'int' },
              { name: 'offset', type: 'long' },
            ],
          },
        },
      },
    ],
  },
});

export function encodeGetAllConsumerOffsetRequest(value: GetAllConsumerOffsetRequest): Buffer {
  return get_all_consumer_offset_request_v1.encode(value);
}
export function decodeGetAllConsumerOffsetRequest(bytes: Uint8Array): Result<GetAllConsumerOffsetRequest> {
  return get_all_consumer_offset_request_v1.decode(bytes);
}
export function encodeAllConsumerOffset(value: AllConsumerOffset): Buffer {
  return all_consumer_offset_v1.encode(value);
}
export function decodeAllConsumerOffset(bytes: Uint8Array): Result<AllConsumerOffset> {
  return all_consumer_offset_v1.decode(bytes);
}
