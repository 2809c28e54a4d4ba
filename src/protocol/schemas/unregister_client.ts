/**
 * UNREGISTER_CLIENT: a client leaves consumer groups on a broker at once (on shutdown), so
 * the group rebalances now rather than when the member's heartbeats time out — which they
 * would not do at all while the client's connection stays open for other SDK objects.
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';

export const unregister_client_protocol_version = 1;

export interface UnregisterClientRequest {
  clientId: string;
  /** The consumer groups it leaves on this broker. */
  consumerGroups: string[];
}

export type UnregisterClientResponse = Record<string, never>;

export const unregister_client_request_v1 = defineCodec<UnregisterClientRequest>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'UnregisterClientRequest',
    fields: [
      { name: 'clientId', type: 'string' },
      { name: 'consumerGroups', type: { type: 'array', items: 'string' } },
    ],
  },
});
export const unregister_client_response_v1 = defineCodec<UnregisterClientResponse>({
  protocol_version: 1,
  schema: { type: 'record', name: 'UnregisterClientResponse', fields: [] },
});

export function encodeUnregisterClientRequest(value: UnregisterClientRequest): Buffer {
  return unregister_client_request_v1.encode(value);
}
export function decodeUnregisterClientRequest(bytes: Uint8Array): Result<UnregisterClientRequest> {
  return unregister_client_request_v1.decode(bytes);
}
export function encodeUnregisterClientResponse(value: UnregisterClientResponse): Buffer {
  return unregister_client_response_v1.encode(value);
}
export function decodeUnregisterClientResponse(bytes: Uint8Array): Result<UnregisterClientResponse> {
  return unregister_client_response_v1.decode(bytes);
}
