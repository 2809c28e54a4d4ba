/**
 * The HA link: a slave broker replicating its master's CommitLog, over the master's HA port.
 * Every message is a frame (frame_codec.ts) with its own code; the link has no generic HELLO:
 * HA_HELLO is its handshake.
 *
 *   slave                                             master
 *     | HA_HELLO  { who, epoch, maxOffset, segment size } |
 *     |   (signed, headers as request_signature.ts)       |
 *     | ------------------------------------------------> |   checks the signature (ACL on), group, epoch, segment size
 *     | <------------------------------------------------ |   HA_HELLO response { epoch, startOffset, masterOffset }
 *     |                                                   |   (or an error: ACCESS_DENIED, NOT_MASTER, BAD_REQUEST)
 *     | <---- HA_PUSH  correlationId = offset, body = CommitLog bytes [offset, offset + n)
 *     | <---- HA_PUSH  ... (an empty body: a keep-alive)
 *     | ----> HA_ACK   correlationId = the slave's CommitLog end (what it holds), no body
 *
 * HA_PUSH carries raw CommitLog bytes as the envelope body, which the frame codec writes and
 * reads without copying: the master sends straight from its mapped segment, the slave checks
 * the records and copies them once, into its own segment. A chunk never crosses a segment end
 * and is cut at record boundaries (storage/replica_chunk.ts). Offsets travel in the
 * envelope's correlation id (an Avro long), so pushes and acks need no body codec.
 *
 * `startOffset` is where the master streams from: the slave's own end, or lower when the
 * slave holds bytes the master does not — a returning old master, whose last epoch ended
 * earlier in the new master's history — and must cut its log there first. `epoch` in the
 * request is the last master epoch the slave knows; a master that knows only an older one
 * is stale itself and refuses (NOT_MASTER).
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';

export const ha_protocol_version = 1;

/**
 * The HA port's own codes (not request_codes: HA_PUSH and HA_ACK carry raw bytes or nothing,
 * not Avro records, and the HA port serves nothing else).
 */
export const ha_codes = {
  /** Slave -> master: the handshake; answered with HaHelloResponse or an error. */
  HA_HELLO: 2001,
  /** Master -> slave, one-way: CommitLog bytes at the offset in the correlation id (empty: keep-alive). */
  HA_PUSH: 2002,
  /** Slave -> master, one-way: the slave holds the CommitLog up to the offset in the correlation id. */
  HA_ACK: 2003,
} as const;

export interface HaHelloRequest {
  /** The slave's HA protocol version (ha_protocol_version). */
  version: number;
  cluster: string;
  brokerName: string;
  brokerId: number;
  /** The highest master epoch the slave knows. */
  epoch: number;
  /** The end of the slave's CommitLog: the master streams from here. */
  maxOffset: number;
  /** Replicas are byte-for-byte copies: both sides must use the same segment size. */
  segmentBytes: number;
}

export interface HaEpoch {
  epoch: number;
  /** Where that epoch's master began writing. */
  startOffset: number;
}

export interface HaHelloResponse {
  /** The master's epoch. */
  epoch: number;
  /** The master's epoch history (storage/epoch_history.ts): the slave keeps it as its own. */
  epochs: HaEpoch[];
  /** Where the master streams from; below the slave's maxOffset, the slave cuts its log there first. */
  startOffset: number;
  /** The master's CommitLog end when it answered. */
  masterOffset: number;
}

export const ha_hello_request_v1 = defineCodec<HaHelloRequest>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'HaHelloRequest',
    fields: [
      { name: 'version', type: 'int' },
      { name: 'cluster', type: 'string' },
      { name: 'brokerName', type: 'string' },
      { name: 'brokerId', type: 'long' },
      { name: 'epoch', type: 'long' },
      { name: 'maxOffset', type: 'long' },
      { name: 'segmentBytes', type: 'long' },
    ],
  },
});

export const ha_hello_response_v1 = defineCodec<HaHelloResponse>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'HaHelloResponse',
    fields: [
      { name: 'epoch', type: 'long' },
      {
        name: 'epochs',
        type: { type: 'array', items: { type: 'record', name: 'HaEpoch', fields: [{ name: 'epoch', type: 'long' }, { name: 'startOffset', type: 'long' }] } },
      },
      { name: 'startOffset', type: 'long' },
      { name: 'masterOffset', type: 'long' },
    ],
  },
});

export function encodeHaHelloRequest(value: HaHelloRequest): Buffer {
  return ha_hello_request_v1.encode(value);
}
export function decodeHaHelloRequest(bytes: Uint8Array): Result<HaHelloRequest> {
  return ha_hello_request_v1.decode(bytes);
}
export function encodeHaHelloResponse(value: HaHelloResponse): Buffer {
  return ha_hello_response_v1.encode(value);
}
export function decodeHaHelloResponse(bytes: Uint8Array): Result<HaHelloResponse> {
  return ha_hello_response_v1.decode(bytes);
}
