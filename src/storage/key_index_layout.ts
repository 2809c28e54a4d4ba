import { MqError } from '../runtime/errors.js';

/**
 * The layout of one key index file (RocketMQ's IndexFile idea; key_index_file.ts reads and
 * writes it): a hash table on disk from a key's hash to the CommitLog offsets of the
 * messages that carry the key. Little-endian, fixed size:
 *
 *   0        4        8        12       16       20       24                32
 *   +--------+--------+--------+--------+--------+--------+-----------------+
 *   | magic  | version| slots  | entries| entry  | (zero) | first commit    |
 *   |        |        |        | max    | count  |        | offset (u64)    |
 *   +--------+--------+--------+--------+--------+--------+-----------------+
 *   32                40                48                56                64
 *   +-----------------+-----------------+-----------------+-----------------+
 *   | covered offset  | begin store     | end store       | (zero)          |
 *   | (u64)           | time ms (u64)   | time ms (u64)   |                 |
 *   +-----------------+-----------------+-----------------+-----------------+
 *   64                       64 + slots × 4                 + entries max × 20
 *   +------------------------+-------------------------------+
 *   | slot table: u32 × slots| entries, 20 bytes each,       |
 *   | the newest entry number| append-only: entry n (from 1) |
 *   | of the slot; 0 = empty | at entries start + (n-1) × 20 |
 *   +------------------------+-------------------------------+
 *
 *   entry:
 *   0        4                 12       16       20
 *   +--------+-----------------+--------+--------+
 *   | key    | CommitLog       | store  | prev   |
 *   | hash   | offset (u64)    | time Δ | entry  |
 *   | (u32)  |                 | ms u32 | number |
 *   +--------+-----------------+--------+--------+
 *
 * - A key's slot is `hash mod slots`. Adding an entry writes it, points its `prev` at the
 *   slot's head, then makes it the head: a slot's entries form a chain, newest first, and a
 *   lookup walks one chain. Entries are appended in CommitLog order, so a chain runs from
 *   higher to lower CommitLog offsets, and `prev` is always smaller than the entry's number
 *   (a lookup stops at a `prev` that is not: the file is damaged there).
 * - store time Δ is the record's store time minus `begin store time` (the first entry's):
 *   a file spans at most `store_time_delta_ms_max` (~49.7 days); the index rolls to a new
 *   file before that. A store time before `begin` (the clock went back) is stored as 0.
 * - first commit offset: the CommitLog offset from which this file indexes records (its
 *   file name too). covered offset: every record below it is indexed in this file or an
 *   older one — where re-indexing starts after a restart. It is written only after the
 *   entries it covers were made durable (`flush`), so on disk it never runs ahead of them.
 * - end store time: the largest store time of an entry; with `begin` it lets a lookup with
 *   a time range skip the whole file.
 */

export const key_index_file_magic = 0x5844494b; // 'KIDX' read as a little-endian u32
export const key_index_file_version = 1;

export const key_index_file_limits = {
  header_bytes: 64,
  slot_bytes: 4,
  entry_bytes: 20,
  /** RocketMQ's defaults: 5 M slots and 20 M entries make a file of ~420 MB (sparse). */
  slots_per_file_default: 5_000_000,
  entries_per_file_default: 20_000_000,
  /** Entry numbers are u32 with 0 for "none"; the mapping must stay under 2 GiB anyway. */
  entries_per_file_max: 100_000_000,
  slots_per_file_max: 100_000_000,
  /** An entry's store time is a u32 millisecond delta from the file's begin time. */
  store_time_delta_ms_max: 0xffff_ffff,
  /** Mappings are 32-bit sized (mapped_file.ts). */
  file_bytes_max: 2 ** 31 - 1,
} as const;

export const header_field = {
  magic: 0,
  version: 4,
  slots: 8,
  entries_max: 12,
  entry_count: 16,
  first_commit_offset: 24,
  covered_offset: 32,
  begin_store_ms: 40,
  end_store_ms: 48,
} as const;

export const entry_field = {
  hash: 0,
  commit_offset: 4,
  store_time_delta_ms: 12,
  prev: 16,
} as const;

/** The size of a file of this geometry. */
export function keyIndexFileBytes(slots: number, entries_max: number): number {
  const { header_bytes, slot_bytes, entry_bytes } = key_index_file_limits;
  return header_bytes + slots * slot_bytes + entries_max * entry_bytes;
}

/**
 * Checks a configured geometry: a broker started with one that cannot be mapped must be told
 * at open, not crash its key index actor. Throws BAD_REQUEST, naming the options to change.
 */
export function checkKeyIndexGeometry(slots: number, entries_max: number): void {
  const limits = key_index_file_limits;
  if (!Number.isInteger(slots) || slots < 1 || slots > limits.slots_per_file_max) {
    throw new MqError('BAD_REQUEST', `key_index_slots_per_file must be an integer in [1, ${limits.slots_per_file_max}], got ${slots}`);
  }
  if (!Number.isInteger(entries_max) || entries_max < 1 || entries_max > limits.entries_per_file_max) {
    throw new MqError('BAD_REQUEST', `key_index_entries_per_file must be an integer in [1, ${limits.entries_per_file_max}], got ${entries_max}`);
  }
  const bytes = keyIndexFileBytes(slots, entries_max);
  if (bytes > limits.file_bytes_max) {
    throw new MqError('BAD_REQUEST', `a key index file of ${slots} slots and ${entries_max} entries is ${bytes} bytes; a file is mapped and must stay under 2 GiB: lower key_index_slots_per_file or key_index_entries_per_file`);
  }
}

/**
 * A key index file that cannot be trusted (bad magic, a size that does not match its
 * header, a header out of range): the caller drops it with a log line. The disk (a torn
 * create, a damaged block) causes this, not a bug, hence an MqError.
 */
export class KeyIndexFileDamage extends MqError {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super('INTERNAL', `key index file ${path} is damaged: ${reason}`);
  }
}

