import { assert } from '../runtime/assert.js';
import { readU64, writeU64 } from './record.js';

/**
 * The ConsumeQueue entry: where one message of a (topic, queue) lies in the CommitLog.
 * 20 bytes, little-endian, 64-bit fields as two u32 halves (low first) as in record.ts.
 *
 *   0                          8            12                         20
 *   +--------------------------+------------+--------------------------+
 *   | CommitLog offset (u64)   | size (u32) | tag hash (u64)           |
 *   | where the record starts  | its bytes  | tag_hash.ts, or 0        |
 *   +--------------------------+------------+--------------------------+
 *
 * Queue offset N is the entry at byte N × 20 of the queue's log, so the segment holding it
 * is found by arithmetic (segment_set.ts). An all-zero entry (size 0) means "nothing written
 * here yet": every real record is at least a header long, so a written entry never has
 * size 0.
 */
export const consume_queue_entry_bytes = 20;

export const consume_queue_entry_field = {
  commit_log_offset: 0,
  size: 8,
  tag_hash: 12,
} as const;

/** One entry with its queue offset, as reads and tests see it. */
export interface ConsumeQueueEntry {
  queue_offset: number;
  commit_log_offset: number;
  size: number;
  tag_hash: number;
}

export function writeEntry(target: Uint8Array, position: number, commit_log_offset: number, size: number, tag_hash: number): void {
  const buffer = asBuffer(target);
  writeU64(buffer, position + consume_queue_entry_field.commit_log_offset, commit_log_offset);
  buffer.writeUInt32LE(size, position + consume_queue_entry_field.size);
  writeU64(buffer, position + consume_queue_entry_field.tag_hash, tag_hash);
}

export function entryCommitLogOffset(source: Buffer, position: number): number {
  return readU64(source, position + consume_queue_entry_field.commit_log_offset);
}

export function entrySize(source: Buffer, position: number): number {
  return source.readUInt32LE(position + consume_queue_entry_field.size);
}

export function entryTagHash(source: Buffer, position: number): number {
  return readU64(source, position + consume_queue_entry_field.tag_hash);
}

/** Checks the values of an entry to be written; a bad one is a bug of whoever dispatched it. */
export function assertEntryValues(commit_log_offset: number, size: number, tag_hash: number): void {
  assert(Number.isSafeInteger(commit_log_offset) && commit_log_offset >= 0, `ConsumeQueue entry: CommitLog offset ${commit_log_offset} is not a non-negative safe integer`);
  assert(Number.isInteger(size) && size > 0 && size <= 0xffff_ffff, `ConsumeQueue entry: size ${size} is not 1 .. 2^32-1`);
  assert(Number.isSafeInteger(tag_hash) && tag_hash >= 0, `ConsumeQueue entry: tag hash ${tag_hash} is not a non-negative safe integer`);
}

/** Packs entries into the byte layout above, back to back (the form `appendBatch` takes). */
export function packEntries(entries: readonly Omit<ConsumeQueueEntry, 'queue_offset'>[]): Buffer {
  const packed = Buffer.alloc(entries.length * consume_queue_entry_bytes);
  entries.forEach((entry, index) => writeEntry(packed, index * consume_queue_entry_bytes, entry.commit_log_offset, entry.size, entry.tag_hash));
  return packed;
}

/** A Buffer view over the same bytes (no copy), for the little-endian accessors. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
