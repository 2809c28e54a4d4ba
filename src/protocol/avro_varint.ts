/**
 * Avro's variable-length zigzag integers, read from untrusted bytes with a bound on every
 * step, and written for the hand-assembled parts of a frame (envelope.ts).
 *
 * The reader reproduces avsc's arithmetic exactly (integer maths for the first four bytes,
 * then floating point), so that a value the guard accepts is the value avsc will decode.
 */

/** A position in untrusted bytes; `end` is exclusive and never beyond `bytes.length`. */
export interface ByteCursor {
  bytes: Uint8Array;
  pos: number;
  end: number;
}

/** An Avro long takes at most ten bytes (64 bits in 7-bit groups). */
export const long_varint_bytes_max = 10;
/** An Avro int takes at most five bytes (32 bits in 7-bit groups). */
export const int_varint_bytes_max = 5;

/**
 * Largest magnitude of a long on this wire: 2^52. avsc accepts up to about 2^53 but its
 * writer computes the zigzag value (2|n| or 2|n|-1) in floating point, so a negative long
 * below -2^52 loses its lowest bit and is written as a *positive* number (measured:
 * -8018747716785387 arrives as 8018747716785386). Readers refuse larger magnitudes, which
 * turns such a corrupted value into an error instead of a wrong number, and encoders check
 * their output the same way (avro_codec.ts). Offsets, timestamps and ids stay far below.
 */
export const long_magnitude_max = 2 ** 52;

const int32_min = -2147483648;
const int32_max = 2147483647;

/**
 * Reads one zigzag varint of at most `bytes_max` bytes. Returns undefined when the varint
 * runs past the cursor's end or is longer than allowed; the cursor position is then
 * unspecified (the caller abandons the input).
 */
export function readVarint(cursor: ByteCursor, bytes_max: number): number | undefined {
  const { bytes, end } = cursor;
  let pos = cursor.pos;
  const limit = Math.min(end, pos + bytes_max);
  let n = 0;
  let shift = 0;
  let byte = 0;
  // First four bytes: 28 bits fit a 32-bit integer.
  do {
    if (pos >= limit) return undefined;
    byte = bytes[pos++]!;
    n |= (byte & 0x7f) << shift;
    shift += 7;
  } while (byte & 0x80 && shift < 28);
  if (!(byte & 0x80)) {
    cursor.pos = pos;
    return (n >> 1) ^ -(n & 1);
  }
  // Longer: switch to floating point, as avsc does, so values agree bit for bit.
  let f = n;
  let scale = 268435456; // 2 ** 28
  do {
    if (pos >= limit) return undefined;
    byte = bytes[pos++]!;
    f += (byte & 0x7f) * scale;
    scale *= 128;
  } while (byte & 0x80);
  cursor.pos = pos;
  return (f % 2 ? -(f + 1) : f) / 2;
}

/** Reads an Avro long; undefined if malformed or beyond `long_magnitude_max`. */
export function readLong(cursor: ByteCursor): number | undefined {
  const value = readVarint(cursor, long_varint_bytes_max);
  if (value === undefined || value > long_magnitude_max || value < -long_magnitude_max) return undefined;
  return value;
}

/** Reads an Avro int; undefined if malformed or outside the 32-bit range. */
export function readInt(cursor: ByteCursor): number | undefined {
  const value = readVarint(cursor, int_varint_bytes_max);
  if (value === undefined || value > int32_max || value < int32_min) return undefined;
  return value;
}

/** Bytes that `writeLongVarint` uses for a non-negative safe integer. */
export function longVarintBytes(value: number): number {
  let zigzag = value * 2; // non-negative values only: zigzag is 2n
  let count = 1;
  while (zigzag >= 128) {
    zigzag = Math.floor(zigzag / 128);
    count++;
  }
  return count;
}

/**
 * Writes a non-negative safe integer as an Avro long at `pos`; returns the position after
 * it. Used for lengths, which are never negative. Floating-point division keeps values
 * above 2^30 exact, where 32-bit shifts would overflow.
 */
export function writeLongVarint(value: number, target: Uint8Array, pos: number): number {
  let zigzag = value * 2;
  while (zigzag >= 128) {
    target[pos++] = (zigzag % 128) | 0x80;
    zigzag = Math.floor(zigzag / 128);
  }
  target[pos++] = zigzag;
  return pos;
}
