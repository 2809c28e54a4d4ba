/**
 * Wire-format limits. Every bound the protocol enforces is named here, qualifier last and
 * units in the name, so a reader can find what a peer may send and what it may not.
 *
 * The message limits (body, properties) are the defaults of contract.md; the broker may be
 * configured with other values and passes them to `checkMessageSize` (validation.ts). The
 * frame limit is what one peer accepts from another before it has read the frame at all.
 */

const kibibyte = 1024;
const mebibyte = 1024 * kibibyte;

/** Bytes of the big-endian length that starts every frame. */
export const frame_length_prefix_bytes = 4;

/** Largest message body a producer may send (contract.md). */
export const body_bytes_max = 4 * mebibyte;

/** Largest sum of property key and value bytes (UTF-8) on one message (contract.md). */
export const properties_bytes_max = 32 * kibibyte;

/** Longest topic or consumer/producer group name, in characters (contract.md). */
export const name_chars_max = 127;

/**
 * Room in a frame for what travels around the message bodies: the envelope, its headers,
 * the request fields, properties and per-message metadata of a batch or pull response.
 */
export const frame_overhead_bytes_max = 256 * kibibyte;

/**
 * Largest frame (the bytes after the length prefix) a decoder accepts by default: two
 * maximal bodies' worth, so that a batch or a pull response may carry more than one large
 * message, plus the overhead room. A peer that declares more is refused before any of its
 * payload is buffered.
 */
export const frame_bytes_max = 2 * body_bytes_max + frame_overhead_bytes_max;

/**
 * Deepest nesting of Avro values (records in arrays in maps ...) the guard walks. Our
 * schemas nest four levels; the bound exists so that a recursive schema fed hostile bytes
 * cannot exhaust the stack.
 */
export const avro_nesting_depth_max = 32;

/**
 * Bytes a frame decoder reserves first when a frame spans chunks; it then doubles up to
 * the declared frame length. Memory held for a partial frame therefore stays within twice
 * the bytes actually received, not what the peer merely declared.
 */
export const frame_reassembly_bytes_initial = 64 * kibibyte;

/**
 * Encoders write into one reusable scratch buffer (per thread), then copy the result out:
 * avsc's own `toBuffer` has a 1 KiB scratch, so every larger value (a 1 KiB body already)
 * was written twice and into a zero-filled buffer, about 2.8x slower (measured here). The
 * scratch starts at the initial size and grows to fit; values larger than the maximum are
 * encoded into a buffer of their own so that one large message does not pin memory.
 */
export const encode_scratch_bytes_initial = 64 * kibibyte;
export const encode_scratch_bytes_max = 1 * mebibyte;
