import { assert } from '../runtime/assert.js';
import { MqError } from '../runtime/errors.js';
import { logger, type Logger } from '../runtime/log.js';
import { DurableFile, durable_content_bytes_max, type DurableWriteStep } from './durable_file.js';

/**
 * Consumer-group offsets: for each (group, topic, queue id) the next queue offset the group
 * will consume. RocketMQ calls it ConsumerOffsetManager.
 *
 * In memory it is a table the owner changes at will; `persist()` writes the whole table with
 * DurableFile (all or nothing), `load()` reads it back at start. The owning actor persists
 * every `persist_interval_ms` and on shutdown; the `dirty` flag lets a quiet broker write
 * nothing. After a crash the offsets are those of the last completed persist: consumers
 * re-read at most `persist_interval_ms` worth of messages (at-least-once).
 *
 * Owned by one thread (the offset store actor); nothing here is shared.
 *
 * File content, version 1 (big-endian; names are UTF-8):
 *
 *     ┌────────────┬─────────────────────────────────┐
 *     │ groups u32 │ group × groups                  │
 *     └────────────┴─────────────────────────────────┘
 *     group:
 *     ┌─────────────┬────────────┬────────────┬──────────────────────┐
 *     │ name_len u8 │ name bytes │ topics u32 │ topic × topics       │
 *     └─────────────┴────────────┴────────────┴──────────────────────┘
 *     topic:
 *     ┌─────────────┬────────────┬────────────┬──────────────────────────────────────────────┐
 *     │ name_len u8 │ name bytes │ queues u32 │ (queue_id u32, offset_high u32, offset_low u32)│
 *     │             │            │            │  × queues                                     │
 *     └─────────────┴────────────┴────────────┴──────────────────────────────────────────────┘
 *
 * Why this and not JSON or Avro: the table can hold a quarter of a million entries, and the
 * layout writes each group and topic name once and 12 fixed bytes per queue, in one buffer
 * sized up front. JSON would repeat or escape names, parse through a generic object tree and
 * be about 3× larger; Avro (avsc) would be as compact but decodes into class instances that
 * are then copied into the maps anyway. The decoder checks every count against the bytes
 * left before looping, so a bad file cannot make it loop or allocate beyond its own size.
 */

export const offset_table_content_version = 1;
export const offset_file_kind = 'OFFS';

export const offset_store_limits = {
  /** (group, topic, queue id) entries tracked: 1,000 groups × 262 queues, or any mix. */
  entries_max_default: 262_144,
  /** The owning actor persists this often (and on shutdown) when the table is dirty. */
  persist_interval_ms_default: 5_000,
  /** Longest group or topic name in UTF-8 bytes: contract names are ≤127 ASCII characters,
   *  a group's retry topic `%RETRY%<group>` up to 134. */
  name_bytes_max: 134,
} as const;

/** group → topic → queue id → offset */
export type OffsetTable = Map<string, Map<string, Map<number, number>>>;

export interface OffsetEntry {
  topic: string;
  queue_id: number;
  offset: number;
}

export interface OffsetStoreOptions {
  /** The offsets file (storage_paths.offsetsPath(data_dir)). */
  path: string;
  entries_max?: number;
  log?: Logger;
  /** Passed to DurableFile: tests stop a persist at a chosen step. */
  fault_probe?: (step: DurableWriteStep) => void;
}

const queue_id_max = 0xffff_ffff;
const two_to_32 = 2 ** 32;
const queue_entry_bytes = 12;
const count_bytes = 4;
const name_length_bytes = 1;
/** The most bytes one entry can take: its own group and topic, both with longest names, and the queue. */
const entry_bytes_worst = 2 * (name_length_bytes + offset_store_limits.name_bytes_max + count_bytes) + queue_entry_bytes;

export class OffsetStore {
  readonly entries_max: number;
  private table: OffsetTable = new Map();
  private entries = 0;
  private is_dirty = false;
  private readonly file: DurableFile;
  private readonly log: Logger;

  constructor(options: OffsetStoreOptions) {
    this.entries_max = options.entries_max ?? offset_store_limits.entries_max_default;
    assert(Number.isInteger(this.entries_max) && this.entries_max > 0, `OffsetStore: entries_max ${this.entries_max} must be a positive integer`);
    assert(
      count_bytes + this.entries_max * entry_bytes_worst <= durable_content_bytes_max,
      `OffsetStore: entries_max ${this.entries_max} could encode beyond the ${durable_content_bytes_max}-byte durable file limit`,
    );
    this.log = options.log ?? logger('offset_store', { file: options.path });
    this.file = new DurableFile({ path: options.path, kind: offset_file_kind, log: this.log, ...(options.fault_probe ? { fault_probe: options.fault_probe } : {}) });
  }

  /** True when the table changed since the last persist or load: only then does `persist` write. */
  get dirty(): boolean {
    return this.is_dirty;
  }

  /** (group, topic, queue id) entries tracked. */
  get size(): number {
    return this.entries;
  }

  /**
   * Records that `group` has consumed `topic`/`queue_id` up to `offset` (the next offset to
   * read). Offsets only move forward: a smaller one (a late commit from a consumer that lost
   * the queue in a rebalance) is ignored. Returns whether the stored offset changed.
   */
  commit(group: string, topic: string, queue_id: number, offset: number): boolean {
    checkKey(group, topic, queue_id);
    checkOffset(offset);
    const current = this.query(group, topic, queue_id);
    if (offset <= current) return false;
    this.set(group, topic, queue_id, offset);
    return true;
  }

  /** Sets the offset whatever it was (an operator's reset, backwards or forwards). */
  reset(group: string, topic: string, queue_id: number, offset: number): void {
    checkKey(group, topic, queue_id);
    checkOffset(offset);
    if (this.query(group, topic, queue_id) === offset) return;
    this.set(group, topic, queue_id, offset);
  }

  /** The committed offset, or -1 when the group has none for that queue. */
  query(group: string, topic: string, queue_id: number): number {
    return this.table.get(group)?.get(topic)?.get(queue_id) ?? -1;
  }

  /** The group's offsets, sorted by topic then queue id. */
  listGroup(group: string): OffsetEntry[] {
    const topics = this.table.get(group);
    if (topics === undefined) return [];
    const entries: OffsetEntry[] = [];
    for (const [topic, queues] of topics) for (const [queue_id, offset] of queues) entries.push({ topic, queue_id, offset });
    return entries.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.queue_id - b.queue_id));
  }

  /** The groups that have offsets, sorted. */
  groups(): string[] {
    return [...this.table.keys()].sort();
  }

  /** Forgets every offset of the group; returns whether it had any. */
  removeGroup(group: string): boolean {
    const topics = this.table.get(group);
    if (topics === undefined) return false;
    for (const queues of topics.values()) this.entries -= queues.size;
    this.table.delete(group);
    this.is_dirty = true;
    return true;
  }

  /**
   * Writes the whole table durably if it changed since the last persist; returns whether it
   * wrote. When it returns true, a crash from then on loads exactly this table. If the write
   * throws, the table stays dirty and the previous file stays in place.
   */
  persist(): boolean {
    if (!this.is_dirty) return false;
    this.file.write(encodeOffsetTable(this.table), offset_table_content_version);
    this.is_dirty = false;
    return true;
  }

  /** Replaces the table with the file's; returns the entries loaded (0 when there is no file yet). */
  load(): number {
    const read = this.file.read();
    if (read === undefined) {
      this.table = new Map();
      this.entries = 0;
      this.is_dirty = false;
      return 0;
    }
    if (read.content_version !== offset_table_content_version) {
      throw new MqError(
        'INTERNAL',
        `${this.file.path} holds consumer offsets in format version ${read.content_version}; this mq-node reads version ${offset_table_content_version}. ` +
          'It was written by another mq-node version: run that version, or move the file away to start with no committed offsets.',
      );
    }
    const decoded = decodeOffsetTable(read.content);
    this.table = decoded.table;
    this.entries = decoded.entries;
    // Loaded from the backup: the damaged main file is rewritten at the next persist.
    this.is_dirty = read.source === 'backup';
    if (this.entries > this.entries_max) {
      this.log.warn({ entries: this.entries, entries_max: this.entries_max }, 'offsets file holds more entries than the limit: all are kept, new (group, topic, queue) entries are refused until groups are removed or the limit is raised');
    }
    return this.entries;
  }

  private set(group: string, topic: string, queue_id: number, offset: number): void {
    let topics = this.table.get(group);
    let queues = topics?.get(topic);
    if (queues === undefined || !queues.has(queue_id)) {
      if (this.entries >= this.entries_max) {
        // BUSY names "a bounded structure is full"; not retriable, because waiting frees
        // nothing: an operator has to remove groups or raise the limit.
        throw new MqError(
          'BUSY',
          `offset store full: ${this.entries} (group, topic, queue) entries tracked, limit ${this.entries_max}; ` +
            `cannot track ${group}/${topic}/${queue_id}. Remove consumer groups no longer used, or raise the offset store's entries_max.`,
          { retriable: false },
        );
      }
      if (topics === undefined) {
        topics = new Map();
        this.table.set(group, topics);
      }
      if (queues === undefined) {
        queues = new Map();
        topics.set(topic, queues);
      }
      this.entries++;
    }
    queues.set(queue_id, offset);
    this.is_dirty = true;
  }
}

function checkKey(group: string, topic: string, queue_id: number): void {
  checkName('group', group);
  checkName('topic', topic);
  if (!Number.isInteger(queue_id) || queue_id < 0 || queue_id > queue_id_max) {
    throw new MqError('BAD_REQUEST', `queue id ${queue_id} is not an integer in 0..${queue_id_max}`);
  }
}

function checkName(what: string, name: string): void {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes === 0 || bytes > offset_store_limits.name_bytes_max) {
    throw new MqError('BAD_REQUEST', `${what} name ${JSON.stringify(name.slice(0, 40))} has ${bytes} UTF-8 bytes; it must have 1..${offset_store_limits.name_bytes_max}`);
  }
}

function checkOffset(offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new MqError('BAD_REQUEST', `offset ${offset} is not a non-negative integer below 2^53`);
  }
}

/** The table in the layout above, version 1. Pure. */
export function encodeOffsetTable(table: OffsetTable): Buffer {
  // First pass: the exact size, with every name encoded once.
  const names = new Map<string, Buffer>();
  const nameBytes = (name: string): Buffer => {
    let bytes = names.get(name);
    if (bytes === undefined) {
      bytes = Buffer.from(name, 'utf8');
      assert(bytes.length > 0 && bytes.length <= offset_store_limits.name_bytes_max, `offset table name of ${bytes.length} bytes`);
      names.set(name, bytes);
    }
    return bytes;
  };
  let size_bytes = count_bytes;
  for (const [group, topics] of table) {
    size_bytes += name_length_bytes + nameBytes(group).length + count_bytes;
    for (const [topic, queues] of topics) size_bytes += name_length_bytes + nameBytes(topic).length + count_bytes + queues.size * queue_entry_bytes;
  }
  const out = Buffer.allocUnsafe(size_bytes);
  let at = out.writeUInt32BE(table.size, 0);
  const writeName = (name: string): void => {
    const bytes = nameBytes(name);
    at = out.writeUInt8(bytes.length, at);
    at += bytes.copy(out, at);
  };
  for (const [group, topics] of table) {
    writeName(group);
    at = out.writeUInt32BE(topics.size, at);
    for (const [topic, queues] of topics) {
      writeName(topic);
      at = out.writeUInt32BE(queues.size, at);
      for (const [queue_id, offset] of queues) {
        at = out.writeUInt32BE(queue_id, at);
        at = out.writeUInt32BE(Math.floor(offset / two_to_32), at);
        at = out.writeUInt32BE(offset % two_to_32, at);
      }
    }
  }
  assert(at === size_bytes, `encodeOffsetTable wrote ${at} bytes, sized ${size_bytes}`);
  return out;
}

/**
 * Reads a version 1 table. The bytes passed the file's CRC, so a problem here means a bug
 * or a file from another format: it throws MqError INTERNAL with what was wrong.
 */
export function decodeOffsetTable(bytes: Buffer): { table: OffsetTable; entries: number } {
  const reader = new TableReader(bytes);
  const table: OffsetTable = new Map();
  let entries = 0;
  const group_count = reader.count('groups', name_length_bytes + 1 + count_bytes);
  for (let g = 0; g < group_count; g++) {
    const group = reader.name('group');
    if (table.has(group)) reader.fail(`group ${JSON.stringify(group)} appears twice`);
    const topics = new Map<string, Map<number, number>>();
    table.set(group, topics);
    const topic_count = reader.count(`topics of group ${group}`, name_length_bytes + 1 + count_bytes);
    for (let t = 0; t < topic_count; t++) {
      const topic = reader.name('topic');
      if (topics.has(topic)) reader.fail(`topic ${JSON.stringify(topic)} appears twice in group ${JSON.stringify(group)}`);
      const queues = new Map<number, number>();
      topics.set(topic, queues);
      const queue_count = reader.count(`queues of ${group}/${topic}`, queue_entry_bytes);
      for (let q = 0; q < queue_count; q++) {
        const queue_id = reader.u32();
        const offset = reader.u32() * two_to_32 + reader.u32();
        if (!Number.isSafeInteger(offset)) reader.fail(`offset of ${group}/${topic}/${queue_id} is beyond 2^53`);
        if (queues.has(queue_id)) reader.fail(`queue ${group}/${topic}/${queue_id} appears twice`);
        queues.set(queue_id, offset);
      }
      entries += queue_count;
    }
  }
  if (reader.remaining() !== 0) reader.fail(`${reader.remaining()} bytes after the last group`);
  return { table, entries };
}

/** A bounds-checked cursor over the table bytes. */
class TableReader {
  private at = 0;
  constructor(private readonly bytes: Buffer) {}

  remaining(): number {
    return this.bytes.length - this.at;
  }

  fail(problem: string): never {
    throw new MqError('INTERNAL', `offsets file content is malformed at byte ${this.at}: ${problem}. Move the file away to start with no committed offsets, or restore it from a copy.`);
  }

  u32(): number {
    if (this.remaining() < 4) this.fail('the content ends inside a number');
    const value = this.bytes.readUInt32BE(this.at);
    this.at += 4;
    return value;
  }

  /** A count, checked against the bytes left so that the loop it drives is bounded by the content. */
  count(what: string, min_item_bytes: number): number {
    const value = this.u32();
    if (value * min_item_bytes > this.remaining()) this.fail(`${value} ${what} announced, the ${this.remaining()} bytes left cannot hold them`);
    return value;
  }

  name(what: string): string {
    if (this.remaining() < 1) this.fail(`the content ends before a ${what} name`);
    const length = this.bytes.readUInt8(this.at);
    this.at += 1;
    if (length === 0) this.fail(`empty ${what} name`);
    if (length > this.remaining()) this.fail(`a ${what} name of ${length} bytes with ${this.remaining()} left`);
    const name = this.bytes.toString('utf8', this.at, this.at + length);
    this.at += length;
    return name;
  }
}
