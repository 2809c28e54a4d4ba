/**
 * Frames on a byte stream: a 4-byte big-endian length, then that many bytes of envelope
 * (envelope.ts has the diagram). `encodeFrame` writes one; `FrameDecoder` finds them in
 * whatever chunks a socket delivers.
 *
 * The decoder is pure and synchronous: `push(chunk)` returns the results that chunk
 * completed, in stream order (an array, possibly empty; no callbacks, so a caller's
 * exception cannot leave the decoder half-way through a chunk). It never throws, whatever
 * the input. Work per push is linear in the chunk's length, and the results per push are
 * at most one per 5 bytes of chunk (the shortest frame), so a caller bounds both by the
 * size of the chunks it reads.
 *
 * Copies: a frame that lies wholly inside one chunk is decoded in place, and its envelope
 * body is a view into that chunk (so the caller must not reuse a chunk's memory while the
 * bodies are in use; socket chunks are fresh allocations, which is fine). Only a frame
 * that spans chunks is copied, once, into a reassembly buffer that grows with the bytes
 * received (see `frame_reassembly_bytes_initial`), never to what a peer merely declared.
 *
 * Ownership: one decoder per connection, used by the one thread that reads the socket.
 */
import { encodeEnvelopeParts, decodeEnvelope, type Envelope } from './envelope.js';
import { frame_bytes_max, frame_length_prefix_bytes, frame_reassembly_bytes_initial } from './limits.js';
import { ProtocolError } from './protocol_error.js';

export type FrameResult = { ok: true; envelope: Envelope } | { ok: false; error: ProtocolError };

export interface FrameCodecOptions {
  /** Largest envelope, in bytes after the length prefix, to accept or produce. */
  frame_bytes_max?: number;
}

function checkedLimit(options: FrameCodecOptions): number {
  const limit = options.frame_bytes_max ?? frame_bytes_max;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 0xffffffff) {
    throw new RangeError(`frame_bytes_max must be an integer in 1..2^32-1 (the length prefix is 32 bits); got ${limit}`);
  }
  return limit;
}

function tooLarge(length: number, limit: number, fatal: boolean): ProtocolError {
  return new ProtocolError(
    'FRAME_TOO_LARGE',
    `frame of ${length} bytes exceeds frame_bytes_max ${limit}; ` +
      (fatal ? 'the stream cannot be resynchronised, close the connection' : 'send less per request (smaller batch or body)'),
    { fatal },
  );
}

/**
 * The frame as chunks to write in order (length prefix and envelope head in the first,
 * the body untouched in the second): lets a socket write a large body without copying it.
 * Throws ProtocolError FRAME_TOO_LARGE (not fatal) when the peer's limit would refuse it.
 */
export function encodeFrameChunks(envelope: Envelope, options: FrameCodecOptions = {}): [Buffer, Uint8Array] {
  const limit = checkedLimit(options);
  const { head, body } = encodeEnvelopeParts(envelope, frame_length_prefix_bytes);
  const length = head.length - frame_length_prefix_bytes + body.byteLength;
  if (length > limit) throw tooLarge(length, limit, false);
  head.writeUInt32BE(length, 0);
  return [head, body];
}

/** The frame as one buffer (length prefix, then the envelope). Copies the body once. */
export function encodeFrame(envelope: Envelope, options: FrameCodecOptions = {}): Buffer {
  const [head, body] = encodeFrameChunks(envelope, options);
  const frame = Buffer.allocUnsafe(head.length + body.byteLength);
  head.copy(frame, 0);
  frame.set(body, head.length);
  return frame;
}

/** Marks "reading the length prefix" in `FrameDecoder.frame_length`. */
const no_frame = -1;

export class FrameDecoder {
  readonly frame_bytes_max: number;
  /** Bytes of a length prefix split across chunks. */
  private readonly prefix = Buffer.alloc(frame_length_prefix_bytes);
  private prefix_filled = 0;
  /** Declared length of the frame being read, or `no_frame` while reading a prefix. */
  private frame_length = no_frame;
  /** Reassembly buffer of a frame that spans chunks; null while none does. */
  private partial: Buffer | null = null;
  private partial_filled = 0;
  /** Set by a fatal error; every later push answers DECODER_CLOSED. */
  private fatal_error: ProtocolError | null = null;

  constructor(options: FrameCodecOptions = {}) {
    this.frame_bytes_max = checkedLimit(options);
  }

  /** Bytes held for an incomplete frame (prefix and reassembly buffer). */
  get bufferedBytes(): number {
    return this.prefix_filled + this.partial_filled;
  }

  /** Reserved memory for an incomplete frame, in bytes (at most twice `bufferedBytes`). */
  get reservedBytes(): number {
    return this.partial?.length ?? 0;
  }

  /** True after a fatal error: the connection should be closed. */
  get closed(): boolean {
    return this.fatal_error !== null;
  }

  /** Consumes a chunk; returns the frames (or errors) it completed, in order. Never throws. */
  push(chunk: Uint8Array): FrameResult[] {
    if (this.fatal_error !== null) {
      return [
        {
          ok: false,
          error: new ProtocolError(
            'DECODER_CLOSED',
            `input refused: the decoder stopped after a fatal error (${this.fatal_error.code}); close the connection`,
            { fatal: true },
          ),
        },
      ];
    }
    const results: FrameResult[] = [];
    const end = chunk.byteLength;
    let pos = 0;
    // Every pass consumes at least one byte (a prefix byte or a frame byte), so the loop
    // ends within chunk-length passes; a zero-length frame is decoded in the pass that
    // read its prefix.
    for (;;) {
      if (this.frame_length === no_frame) {
        if (pos >= end) break;
        const prefix = this.readPrefix(chunk, pos);
        pos += prefix.consumed;
        if (prefix.length === undefined) break; // the prefix continues in the next chunk
        if (prefix.length > this.frame_bytes_max) {
          // Nothing of the payload is buffered: the decoder stops here for good.
          this.fatal_error = tooLarge(prefix.length, this.frame_bytes_max, true);
          results.push({ ok: false, error: this.fatal_error });
          return results;
        }
        this.frame_length = prefix.length;
      }
      if (this.partial === null && end - pos >= this.frame_length) {
        // The whole frame is in this chunk: decode in place, no copy.
        results.push(toFrameResult(decodeEnvelope(chunk.subarray(pos, pos + this.frame_length))));
        pos += this.frame_length;
        this.frame_length = no_frame;
        continue;
      }
      if (pos >= end) break;
      pos = this.appendPartial(chunk, pos);
      if (this.partial_filled < this.frame_length) break; // the frame continues in the next chunk
      results.push(toFrameResult(decodeEnvelope(this.partial!.subarray(0, this.frame_length))));
      // The decoded body is a view into the reassembly buffer, so that buffer is never reused.
      this.partial = null;
      this.partial_filled = 0;
      this.frame_length = no_frame;
    }
    return results;
  }

  /**
   * Call when the stream ends: TRUNCATED_FRAME if it ended inside a frame, else undefined.
   * Releases whatever was held for the incomplete frame.
   */
  end(): ProtocolError | undefined {
    const pending = this.bufferedBytes;
    const inside_frame = this.frame_length !== no_frame || this.prefix_filled > 0;
    this.prefix_filled = 0;
    this.partial = null;
    this.partial_filled = 0;
    this.frame_length = no_frame;
    if (this.fatal_error !== null || !inside_frame) return undefined;
    return new ProtocolError(
      'TRUNCATED_FRAME',
      `the stream ended inside a frame (${pending} bytes received of it); the peer closed mid-request`,
    );
  }

  /** Reads a length prefix starting at `pos`, from this chunk alone when it holds all four bytes. */
  private readPrefix(bytes: Uint8Array, pos: number): { length: number | undefined; consumed: number } {
    if (this.prefix_filled === 0 && bytes.byteLength - pos >= frame_length_prefix_bytes) {
      const length = bytes[pos]! * 0x1000000 + (bytes[pos + 1]! << 16) + (bytes[pos + 2]! << 8) + bytes[pos + 3]!;
      return { length, consumed: frame_length_prefix_bytes };
    }
    const take = Math.min(frame_length_prefix_bytes - this.prefix_filled, bytes.byteLength - pos);
    this.prefix.set(bytes.subarray(pos, pos + take), this.prefix_filled);
    this.prefix_filled += take;
    if (this.prefix_filled < frame_length_prefix_bytes) return { length: undefined, consumed: take };
    this.prefix_filled = 0;
    return { length: this.prefix.readUInt32BE(0), consumed: take };
  }

  /** Copies what this chunk holds of the current frame into the reassembly buffer. */
  private appendPartial(bytes: Uint8Array, pos: number): number {
    const take = Math.min(this.frame_length - this.partial_filled, bytes.byteLength - pos);
    const needed = this.partial_filled + take;
    if (this.partial === null || this.partial.length < needed) {
      // Grow by doubling, capped at the declared length: memory follows the bytes received.
      const capacity = Math.min(
        this.frame_length,
        Math.max(needed, frame_reassembly_bytes_initial, 2 * (this.partial?.length ?? 0)),
      );
      const grown = Buffer.allocUnsafe(capacity);
      if (this.partial !== null) this.partial.copy(grown, 0, 0, this.partial_filled);
      this.partial = grown;
    }
    this.partial.set(bytes.subarray(pos, pos + take), this.partial_filled);
    this.partial_filled += take;
    return pos + take;
  }
}

function toFrameResult(decoded: ReturnType<typeof decodeEnvelope>): FrameResult {
  return decoded.ok ? { ok: true, envelope: decoded.value } : { ok: false, error: decoded.error };
}
