/**
 * SEND: one message from a producer to a broker, and the broker's SendResult.
 *
 * `body` is the last field of SendRequest so that a broker decodes it as a view into the
 * frame, without copying up to 4 MiB (avro_codec.ts, `tail_bytes_view`).
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';

export const send_protocol_version = 1;

/** `queueId` value that lets the broker pick the queue. */
export const queue_id_any = -1;

export interface SendRequest {
  topic: string;
  /** Target queue, or `queue_id_any` (-1) to let the broker pick. */
  queueId: number;
  /** One tag for server-side filtering, or null. */
  tag: string | null;
  /** Business keys for lookup by key. */
  keys: string[];
  /** User properties (limit: properties_bytes_max in limits.ts). */
  properties: Record<string, string>;
  /** Producer's wall clock at send, ms since the epoch. */
  bornTimestamp: number;
  /** Producer's `host:port`. */
  bornHost: string;
  /** Message system flags (transaction state, ...), stored with the record. */
  flags: number;
  /** Deliver after this delay (ms), or null. */
  delayMs: number | null;
  /** Deliver at this wall-clock time (ms since the epoch), or null. */
  deliverAtMs: number | null;
  /** How often this message was redelivered (retry topic sends); 0 for a first send. */
  reconsumeTimes: number;
  /** Producer group (needed for transaction check-backs), or null. */
  producerGroup: string | null;
  body: Buffer;
}

export const send_statuses = ['SEND_OK', 'FLUSH_DISK_TIMEOUT', 'FLUSH_SLAVE_TIMEOUT', 'SLAVE_NOT_AVAILABLE'] as const;
export type SendStatus = (typeof send_statuses)[number];

export interface SendResult {
  status: SendStatus;
  msgId: string;
  brokerName: string;
  queueId: number;
  queueOffset: number;
  commitLogOffset: number;
}

/** The SendRequest record schema, reused inside SendBatchRequest. */
export const send_request_schema_v1 = {
  type: 'record',
  name: 'SendRequest',
  fields: [
    { name: 'topic', type: 'string' },
    { name: 'queueId', type: 'int' },
    { name: 'tag', type: ['null', 'string'], default: null },
    { name: 'keys', type: { type: 'array', items: 'string' } },
    { name: 'properties', type: { type: 'map', values: 'string' } },
    { name: 'bornTimestamp', type: 'long' },
    { name: 'bornHost', type: 'string' },
    { name: 'flags', type: 'int' },
    { name: 'delayMs', type: ['null', 'long'], default: null },
    { name: 'deliverAtMs', type: ['null', 'long'], default: null },
    { name: 'reconsumeTimes', type: 'int' },
    { name: 'producerGroup', type: ['null', 'string'], default: null },
    { name: 'body', type: 'bytes' },
  ],
};

/** The SendResult record schema, reused inside SendBatchResponse. */
export const send_result_schema_v1 = {
  type: 'record',
  name: 'SendResult',
  fields: [
    { name: 'status', type: { type: 'enum', name: 'SendStatus', symbols: [...send_statuses] } },
    { name: 'msgId', type: 'string' },
    { name: 'brokerName', type: 'string' },
    { name: 'queueId', type: 'int' },
    { name: 'queueOffset', type: 'long' },
    { name: 'commitLogOffset', type: 'long' },
  ],
};

export const send_request_v1 = defineCodec<SendRequest>({
  protocol_version: 1,
  schema: send_request_schema_v1,
  tail_bytes_view: true,
});
export const send_result_v1 = defineCodec<SendResult>({ protocol_version: 1, schema: send_result_schema_v1 });

export const SendRequestType = send_request_v1.type;
export const SendResultType = send_result_v1.type;

export function encodeSendRequest(value: SendRequest): Buffer {
  return send_request_v1.encode(value);
}
/** The decoded body is a view into `bytes` (no copy). */
export function decodeSendRequest(bytes: Uint8Array): Result<SendRequest> {
  return send_request_v1.decode(bytes);
}
export function encodeSendResult(value: SendResult): Buffer {
  return send_result_v1.encode(value);
}
export function decodeSendResult(bytes: Uint8Array): Result<SendResult> {
  return send_result_v1.decode(bytes);
}
