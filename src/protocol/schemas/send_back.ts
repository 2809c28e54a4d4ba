/**
 * CONSUMER_SEND_BACK: a consumer whose listener failed a message hands it back to the broker
 * that stored it (RocketMQ's CONSUMER_SEND_MSG_BACK). The broker reads the message at
 * `commitLogOffset` and stores it again: in the group's retry topic `%RETRY%<group>` after a
 * delay that grows with the attempt, or, once the message was consumed `maxReconsumeTimes`
 * times, in the group's dead-letter topic `%DLQ%<group>`. Once the answer is OK the consumer
 * may ack the failed message: the broker has a durable copy.
 *
 * RESEND_DEAD_LETTER: an administrator sends a dead letter (by its CommitLog offset on that
 * broker) back to the topic it first failed in, with its attempt count reset.
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';
import { send_result_schema_v1, type SendResult } from './send.js';

export const send_back_protocol_version = 1;

export interface SendBackRequest {
  group: string;
  /** Where the failed message is stored on this broker (ReceivedMessage.commitLogOffset). */
  commitLogOffset: number;
  /** The message id the consumer saw: kept as ORIGIN_MESSAGE_ID when the message has none. */
  msgId: string;
  /** The consumer's bound: a message already consumed this often goes to the dead-letter topic. */
  maxReconsumeTimes: number;
}

export const send_back_destinations = ['RETRY', 'DLQ'] as const;
export type SendBackDestination = (typeof send_back_destinations)[number];

export interface SendBackResult {
  destination: SendBackDestination;
  /** `%RETRY%<group>` or `%DLQ%<group>`. */
  topic: string;
  /** The stored copy's attempt count (the failed message's plus one). */
  reconsumeTimes: number;
  /** When the retry is delivered (ms since the epoch); the store time for a dead letter. */
  deliverAtMs: number;
  /** Message id of the stored copy. */
  msgId: string;
}

export const send_back_request_v1 = defineCodec<SendBackRequest>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'SendBackRequest',
    fields: [
      { name: 'group', type: 'string' },
      { name: 'commitLogOffset', type: 'long' },
      { name: 'msgId', type: 'string' },
      { name: 'maxReconsumeTimes', type: 'int' },
    ],
  },
});

export const send_back_result_v1 = defineCodec<SendBackResult>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'SendBackResult',
    fields: [
      { name: 'destination', type: { type: 'enum', name: 'SendBackDestination', symbols: [...send_back_destinations] } },
      { name: 'topic', type: 'string' },
      { name: 'reconsumeTimes', type: 'int' },
      { name: 'deliverAtMs', type: 'long' },
      { name: 'msgId', type: 'string' },
    ],
  },
});

export interface ResendDeadLetterRequest {
  /** Where the dead letter is stored on this broker. */
  commitLogOffset: number;
}

export const resend_dead_letter_request_v1 = defineCodec<ResendDeadLetterRequest>({
  protocol_version: 1,
  schema: { type: 'record', name: 'ResendDeadLetterRequest', fields: [{ name: 'commitLogOffset', type: 'long' }] },
});
export const resend_dead_letter_response_v1 = defineCodec<SendResult>({ protocol_version: 1, schema: send_result_schema_v1 });

export function encodeSendBackRequest(value: SendBackRequest): Buffer {
  return send_back_request_v1.encode(value);
}
export function decodeSendBackRequest(bytes: Uint8Array): Result<SendBackRequest> {
  return send_back_request_v1.decode(bytes);
}
export function encodeSendBackResult(value: SendBackResult): Buffer {
  return send_back_result_v1.encode(value);
}
export function decodeSendBackResult(bytes: Uint8Array): Result<SendBackResult> {
  return send_back_result_v1.decode(bytes);
}
export function encodeResendDeadLetterRequest(value: ResendDeadLetterRequest): Buffer {
  return resend_dead_letter_request_v1.encode(value);
}
export function decodeResendDeadLetterRequest(bytes: Uint8Array): Result<ResendDeadLetterRequest> {
  return resend_dead_letter_request_v1.decode(bytes);
}
export function encodeResendDeadLetterResponse(value: SendResult): Buffer {
  return resend_dead_letter_response_v1.encode(value);
}
export function decodeResendDeadLetterResponse(bytes: Uint8Array): Result<SendResult> {
  return resend_dead_letter_response_v1.decode(bytes);
}
