/**
 * HELLO: the first request on every connection. The client offers the range of protocol
 * versions it speaks; the server answers with the one both will use (handshake.ts picks it)
 * and the largest frame it accepts, which the client must not exceed.
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';

export const handshake_protocol_version = 1;

export const client_kinds = ['CLIENT', 'PRODUCER', 'CONSUMER', 'ADMIN', 'BROKER', 'NAMESRV'] as const;
export type ClientKind = (typeof client_kinds)[number];

export interface Hello {
  /** Oldest protocol version the client speaks. */
  versionMin: number;
  /** Newest protocol version the client speaks. */
  versionMax: number;
  /** Stable per process (e.g. `host@pid`), shown in admin views and logs. */
  clientId: string;
  clientKind: ClientKind;
}

export interface HelloAck {
  /** The protocol version both sides use from the next frame on. */
  version: number;
  serverId: string;
  /** Largest frame (bytes after the length prefix) the server accepts. */
  frameBytesMax: number;
}

export const hello_v1 = defineCodec<Hello>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'Hello',
    fields: [
      { name: 'versionMin', type: 'int' },
      { name: 'versionMax', type: 'int' },
      { name: 'clientId', type: 'string' },
      { name: 'clientKind', type: { type: 'enum', name: 'ClientKind', symbols: [...client_kinds] } },
    ],
  },
});

export const hello_ack_v1 = defineCodec<HelloAck>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'HelloAck',
    fields: [
      { name: 'version', type: 'int' },
      { name: 'serverId', type: 'string' },
      { name: 'frameBytesMax', type: 'int' },
    ],
  },
});

export const HelloType = hello_v1.type;
export const HelloAckType = hello_ack_v1.type;

export function encodeHello(value: Hello): Buffer {
  return hello_v1.encode(value);
}
export function decodeHello(bytes: Uint8Array): Result<Hello> {
  return hello_v1.decode(bytes);
}
export function encodeHelloAck(value: HelloAck): Buffer {
  return hello_ack_v1.encode(value);
}
export function decodeHelloAck(bytes: Uint8Array): Result<HelloAck> {
  return hello_ack_v1.decode(bytes);
}
