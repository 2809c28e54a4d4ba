/**
 * The envelope: what every frame carries. A frame on the wire is
 *
 *   0               4                                                     4 + length
 *   +---------------+-----------------------------------------------------+
 *   | length        | envelope (Avro binary, `length` bytes)              |
 *   | u32 big-endian|                                                     |
 *   +---------------+-----------------------------------------------------+
 *
 * and the envelope, field by field (Avro: ints and longs are zigzag varints, a map is
 * blocks of `count, (key, value)*` ended by a zero count, bytes are `length, raw`):
 *
 *   +--------+---------------+--------+---------------------+---------------------------+
 *   | code   | correlationId | flags  | headers             | body                      |
 *   | int    | long          | int    | map<string>         | bytes: length, then raw   |
 *   | 1-5 B  | 1-10 B        | 1-5 B  | 1+ B                | 1-10 B + length           |
 *   +--------+---------------+--------+---------------------+---------------------------+
 *
 * `body` comes last on purpose: its raw bytes end exactly where the frame ends, so a
 * decoder can hand it out as a view into the frame (no copy), and an encoder can write a
 * large body as a separate chunk (see `encodeFrameChunks` in frame_codec.ts). avsc itself
 * would copy a `bytes` field (its `Tap.readFixed` allocates from a pool and copies), so the
 * fields before the body are decoded by avsc and the body is sliced here.
 *
 * A response reuses the request's code and correlation id with the response flag set; an
 * error response also sets the error flag and its body is an ErrorResponse (schemas/error.ts).
 */
import avro from 'avsc';
import { asBuffer, avroTypeOptions, encodeWith } from './avro_codec.js';
import { guardFor } from './avro_guard.js';
import { readInt, readLong, longVarintBytes, writeLongVarint, type ByteCursor } from './avro_varint.js';
import { failed, ok, ProtocolError, type Result } from './protocol_error.js';

export interface Envelope {
  /** The request code (codes.ts); a response carries its request's code. */
  code: number;
  /** Chosen by the requester, unique among its requests in flight; echoed by the response. */
  correlationId: number;
  /** Bit set of `flag_*` below. Unknown bits are ignored, so later versions may add some. */
  flags: number;
  /** Small string metadata (trace ids, the sender's protocol version, ...). */
  headers: Record<string, string>;
  /** The Avro-encoded request or response record. Decoded envelopes give a view into the frame. */
  body: Uint8Array;
}

/** Bit 0: this envelope answers the request with the same correlation id. */
export const flag_response = 1 << 0;
/** Bit 1: the requester expects no response (one-way send). */
export const flag_oneway = 1 << 1;
/** Bit 2: with `flag_response`, the body is an ErrorResponse rather than the normal response. */
export const flag_error = 1 << 2;

const envelope_head_fields = [
  { name: 'code', type: 'int' },
  { name: 'correlationId', type: 'long' },
  { name: 'flags', type: 'int' },
  { name: 'headers', type: { type: 'map', values: 'string' } },
];

/** The whole envelope as one Avro record: the definition of the wire format. */
export const envelope_type = avro.Type.forSchema(
  { type: 'record', name: 'Envelope', fields: [...envelope_head_fields, { name: 'body', type: 'bytes' }] } as never,
  avroTypeOptions(),
);

/** Every field but the body: what avsc encodes and decodes; the body is handled here. */
const envelope_head_type = avro.Type.forSchema(
  { type: 'record', name: 'EnvelopeHead', fields: envelope_head_fields } as never,
  avroTypeOptions(),
);

const envelope_guard = guardFor(envelope_type);
const envelope_head_guard = guardFor(envelope_head_type);

/**
 * The envelope's bytes in two parts: `head` (every field, then the body's length) and the
 * body itself, untouched. Concatenated they are exactly `envelope_type.toBuffer(envelope)`.
 * `head_bytes_reserved` leaves room at the start of `head` (for a frame's length prefix).
 */
export function encodeEnvelopeParts(
  envelope: Envelope,
  head_bytes_reserved = 0,
): { head: Buffer; body: Uint8Array } {
  if (!(envelope.body instanceof Uint8Array)) {
    throw new ProtocolError('INVALID_VALUE', 'cannot encode Envelope: body must be a Buffer or Uint8Array');
  }
  const fields = encodeWith(envelope_head_type, 'Envelope', envelope, envelope_head_guard);
  const body_length = envelope.body.byteLength;
  const head = Buffer.allocUnsafe(head_bytes_reserved + fields.length + longVarintBytes(body_length));
  fields.copy(head, head_bytes_reserved);
  writeLongVarint(body_length, head, head_bytes_reserved + fields.length);
  return { head, body: envelope.body };
}

/** The envelope as one buffer (without a frame's length prefix). Copies the body once. */
export function encodeEnvelope(envelope: Envelope): Buffer {
  const { head, body } = encodeEnvelopeParts(envelope);
  return Buffer.concat([head, body], head.length + body.byteLength);
}

/**
 * Decodes one envelope from exactly `bytes` (untrusted). Never throws. On success the body
 * is a view into `bytes`: the caller must not overwrite that memory while the body is used.
 */
export function decodeEnvelope(bytes: Uint8Array): Result<Envelope> {
  const reason = envelope_guard.check(bytes);
  if (reason !== undefined) {
    return failed(
      new ProtocolError('MALFORMED_FRAME', `frame of ${bytes.byteLength} bytes is not a valid envelope: ${reason}`, {
        ...correlationIdOf(bytes),
      }),
    );
  }
  try {
    const buffer = asBuffer(bytes);
    const head = envelope_head_type.decode(buffer, 0);
    const cursor: ByteCursor = { bytes: buffer, pos: head.offset, end: buffer.length };
    // The guard accepted the bytes, so the length is present and fits exactly.
    const body_length = readLong(cursor)!;
    const fields = head.value as Omit<Envelope, 'body'>;
    return ok({
      code: fields.code,
      correlationId: fields.correlationId,
      flags: fields.flags,
      headers: fields.headers,
      body: buffer.subarray(cursor.pos, cursor.pos + body_length),
    });
  } catch (thrown) {
    // Unreachable if the guard is right; kept so that a guard bug costs one frame, not a process.
    const message = thrown instanceof Error ? thrown.message : String(thrown);
    return failed(new ProtocolError('MALFORMED_FRAME', `envelope could not be decoded: ${message}`));
  }
}

/**
 * The correlation id of a frame that failed to decode, when its first two fields are
 * readable, so that the server can still answer that request with an error.
 */
function correlationIdOf(bytes: Uint8Array): { correlationId?: number } {
  const cursor: ByteCursor = { bytes, pos: 0, end: bytes.byteLength };
  if (readInt(cursor) === undefined) return {};
  const correlation_id = readLong(cursor);
  return correlation_id === undefined ? {} : { correlationId: correlation_id };
}

export function isResponse(envelope: Pick<Envelope, 'flags'>): boolean {
  return (envelope.flags & flag_response) !== 0;
}

export function isOneway(envelope: Pick<Envelope, 'flags'>): boolean {
  return (envelope.flags & flag_oneway) !== 0;
}

export function isError(envelope: Pick<Envelope, 'flags'>): boolean {
  return (envelope.flags & flag_error) !== 0;
}

/** How a response ended: OK (the body is the API's response record) or ERROR (an ErrorResponse). */
export type ResponseStatus = 'OK' | 'ERROR';

export function responseStatus(envelope: Pick<Envelope, 'flags'>): ResponseStatus {
  return isError(envelope) ? 'ERROR' : 'OK';
}

/** A request envelope. */
export function requestEnvelope(
  code: number,
  correlation_id: number,
  body: Uint8Array,
  options: { oneway?: boolean; headers?: Record<string, string> } = {},
): Envelope {
  return { code, correlationId: correlation_id, flags: options.oneway ? flag_oneway : 0, headers: options.headers ?? {}, body };
}

/** The OK response to `request`, carrying the API's encoded response record. */
export function responseEnvelope(request: Pick<Envelope, 'code' | 'correlationId'>, body: Uint8Array): Envelope {
  return { code: request.code, correlationId: request.correlationId, flags: flag_response, headers: {}, body };
}

/** The error response to `request`; `body` is an encoded ErrorResponse (schemas/error.ts). */
export function errorEnvelope(request: Pick<Envelope, 'code' | 'correlationId'>, body: Uint8Array): Envelope {
  return { code: request.code, correlationId: request.correlationId, flags: flag_response | flag_error, headers: {}, body };
}
