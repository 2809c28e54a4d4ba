/**
 * ErrorResponse: the body of every response with the error flag set, whatever the request.
 * `code` is one of contract.md's MqError codes (BAD_REQUEST, TOPIC_NOT_FOUND, ...), kept a
 * string so that new codes reach old clients readably; `retriable` tells the client whether
 * the same request may succeed later.
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';

export const error_protocol_version = 1;

export interface ErrorResponse {
  code: string;
  /** What was wrong and what to do, for a human. */
  message: string;
  retriable: boolean;
}

export const error_response_v1 = defineCodec<ErrorResponse>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'ErrorResponse',
    fields: [
      { name: 'code', type: 'string' },
      { name: 'message', type: 'string' },
      { name: 'retriable', type: 'boolean' },
    ],
  },
});

export const ErrorResponseType = error_response_v1.type;

export function encodeErrorResponse(value: ErrorResponse): Buffer {
  return error_response_v1.encode(value);
}
export function decodeErrorResponse(bytes: Uint8Array): Result<ErrorResponse> {
  return error_response_v1.decode(bytes);
}
