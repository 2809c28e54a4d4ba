/**
 * SEND_BATCH: several messages in one request, one SendResult per message, in order.
 * Each message is a whole SendRequest record (same topic for all, checked by the broker).
 * Unlike a single SendRequest, batch bodies are copied by avsc when decoded.
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';
import { send_request_schema_v1, send_result_schema_v1, type SendRequest, type SendResult } from './send.js';

export const send_batch_protocol_version = 1;

export interface SendBatchRequest {
  messages: SendRequest[];
}

export interface SendBatchResponse {
  /** `results[i]` belongs to `messages[i]`. */
  results: SendResult[];
}

export const send_batch_request_v1 = defineCodec<SendBatchRequest>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'SendBatchRequest',
    fields: [{ name: 'messages', type: { type: 'array', items: send_request_schema_v1 } }],
  },
});

export const send_batch_response_v1 = defineCodec<SendBatchResponse>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'SendBatchResponse',
    fields: [{ name: 'results', type: { type: 'array', items: send_result_schema_v1 } }],
  },
});

export const SendBatchRequestType = send_batch_request_v1.type;
export const SendBatchResponseType = send_batch_response_v1.type;

export function encodeSendBatchRequest(value: SendBatchRequest): Buffer {
  return send_batch_request_v1.encode(value);
}
export function decodeSendBatchRequest(bytes: Uint8Array): Result<SendBatchRequest> {
  return send_batch_request_v1.decode(bytes);
}
export function encodeSendBatchResponse(value: SendBatchResponse): Buffer {
  return send_batch_response_v1.encode(value);
}
export function decodeSendBatchResponse(bytes: Uint8Array): Result<SendBatchResponse> {
  return send_batch_response_v1.decode(bytes);
}
