import fs from 'node:fs';
import { assert } from '../runtime/assert.js';
import { MappedFile } from './mapped_file.js';
import { KeyIndexFileDamage, checkKeyIndexGeometry, entry_field, header_field, keyIndexFileBytes, key_index_file_limits, key_index_file_magic, key_index_file_version } from './key_index_layout.js';
import { readU64, writeU64 } from './record.js';

/**
 * One key index file (the layout, fields and limits are in key_index_layout.ts): adds
 * entries, walks a slot's chain for lookups, takes entries back after a CommitLog cut, and
 * repairs its tail after a crash.
 *
 * Why a mapping (mapped_file.ts) and not plain reads and writes: an add touches three
 * places (the entry, a random slot, the header count), a lookup hops through a chain of
 * random entries. Mapped, each is a memory access and the kernel writes pages back; with
 * pread/pwrite each would be a system call (~3 per key added). The pages of a mapping
 * survive a kill -9 of the process (they are the page cache), and `flush` (fdatasync)
 * makes them survive a power loss. Files are created sparse: untouched slots and entries
 * take no disk space.
 *
 * Ownership: the key index actor's thread (key_index.ts owns the files); nothing else maps
 * them, so nothing runs concurrently with any method here.
 */

const { header_bytes, slot_bytes, entry_bytes } = key_index_file_limits;

/** What `add` did: `added`; `full` (no entry left); `time_span_exceeded` (the store time is
 *  too far past the file's begin time for a u32 delta). On the last two the caller rolls. */
export type KeyIndexAddStatus = 'added' | 'full' | 'time_span_exceeded';

export interface KeyIndexLookup {
  hash: number;
  /** Stop once `out` holds this many offsets. */
  limit: number;
  /** Inclusive store-time bounds. */
  begin_ms: number;
  end_ms: number;
  /** Offsets found are pushed here, newest first. */
  out: number[];
  /** Entries this walk may still visit, over all files; decremented. */
  budget: { entries: number };
}

export interface KeyIndexFileInfo {
  name_offset: number;
  entries: number;
  entries_max: number;
  slots: number;
  covered_offset: number;
  begin_store_ms: number;
  end_store_ms: number;
}

/** What `repairTail` found wrong in the newest file after a crash, and fixed. */
export interface KeyIndexRepair {
  /** Entries at the end that were not whole (zeros, offsets going backwards): dropped. */
  entries_dropped: number;
  /** The slot table was rebuilt from the entries (a slot pointed past the entry count). */
  slots_rebuilt: boolean;
}

export class KeyIndexFile {
  private count: number;
  private begin_ms: number;
  private end_ms: number;
  /** Where re-indexing would start now; written to the header at the next flush. */
  private pending_covered: number;
  private dirty = false;

  private constructor(
    private readonly file: MappedFile,
    readonly slots: number,
    readonly entries_max: number,
    readonly first_commit_offset: number,
  ) {
    const buffer = file.buffer;
    this.count = buffer.readUInt32LE(header_field.entry_count);
    this.begin_ms = readU64(buffer, header_field.begin_store_ms);
    this.end_ms = readU64(buffer, header_field.end_store_ms);
    this.pending_covered = readU64(buffer, header_field.covered_offset);
  }

  /** Creates a new file (sparse) with its header, made durable before it is used. */
  static create(path: string, options: { first_commit_offset: number; slots: number; entries_max: number }): KeyIndexFile {
    checkKeyIndexGeometry(options.slots, options.entries_max);
    assert(!fs.existsSync(path), `key index file ${path} exists already`);
    const file = MappedFile.create(path, options.first_commit_offset, keyIndexFileBytes(options.slots, options.entries_max));
    const buffer = file.buffer;
    buffer.writeUInt32LE(key_index_file_magic, header_field.magic);
    buffer.writeUInt32LE(key_index_file_version, header_field.version);
    buffer.writeUInt32LE(options.slots, header_field.slots);
    buffer.writeUInt32LE(options.entries_max, header_field.entries_max);
    writeU64(buffer, header_field.first_commit_offset, options.first_commit_offset);
    writeU64(buffer, header_field.covered_offset, options.first_commit_offset);
    file.flush();
    return new KeyIndexFile(file, options.slots, options.entries_max, options.first_commit_offset);
  }

  /**
   * Opens an existing file after checking its header against itself and the file's size;
   * throws KeyIndexFileDamage when they do not agree. The geometry is the file's own, so
   * files written with other slot or entry counts stay readable after a config change.
   */
  static open(path: string): KeyIndexFile {
    const header = Buffer.alloc(header_bytes);
    let size: number;
    const fd = fs.openSync(path, 'r');
    try {
      size = fs.fstatSync(fd).size;
      if (size < header_bytes) throw new KeyIndexFileDamage(path, `${size} bytes, less than a header`);
      fs.readSync(fd, header, 0, header_bytes, 0);
    } finally {
      fs.closeSync(fd);
    }
    const magic = header.readUInt32LE(header_field.magic);
    if (magic !== key_index_file_magic) throw new KeyIndexFileDamage(path, `bad magic 0x${magic.toString(16)}`);
    const version = header.readUInt32LE(header_field.version);
    if (version !== key_index_file_version) throw new KeyIndexFileDamage(path, `version ${version}, this broker reads ${key_index_file_version}`);
    const slots = header.readUInt32LE(header_field.slots);
    const entries_max = header.readUInt32LE(header_field.entries_max);
    try {
      checkKeyIndexGeometry(slots, entries_max);
    } catch (error) {
      throw new KeyIndexFileDamage(path, `header geometry: ${(error as Error).message}`);
    }
    if (size !== keyIndexFileBytes(slots, entries_max)) throw new KeyIndexFileDamage(path, `${size} bytes, its header (${slots} slots, ${entries_max} entries) says ${keyIndexFileBytes(slots, entries_max)}`);
    const count = header.readUInt32LE(header_field.entry_count);
    if (count > entries_max) throw new KeyIndexFileDamage(path, `entry count ${count} is above its capacity ${entries_max}`);
    const first_commit_offset = readU64(header, header_field.first_commit_offset);
    const covered = readU64(header, header_field.covered_offset);
    if (covered < first_commit_offset) throw new KeyIndexFileDamage(path, `covered offset ${covered} is below its first offset ${first_commit_offset}`);
    return new KeyIndexFile(MappedFile.open(path, first_commit_offset, size, 'read-write'), slots, entries_max, first_commit_offset);
  }

  get path(): string {
    return this.file.path;
  }

  get entry_count(): number {
    return this.count;
  }

  get free_entries(): number {
    return this.entries_max - this.count;
  }

  /** Where re-indexing starts: every record below is indexed (in this file or older ones). */
  get covered_offset(): number {
    return this.pending_covered;
  }

  /** The covered offset as the header holds it (what a restart would read). */
  get durable_covered_offset(): number {
    return readU64(this.file.buffer, header_field.covered_offset);
  }

  get begin_store_ms(): number {
    return this.begin_ms;
  }

  get end_store_ms(): number {
    return this.end_ms;
  }

  /** The CommitLog offset of the newest entry's record; undefined when the file is empty. */
  get last_commit_offset(): number | undefined {
    return this.count === 0 ? undefined : this.entryOffset(this.count);
  }

  /** Whether a store time fits this file's time span (always true for an empty file). */
  fitsTime(store_ms: number): boolean {
    return this.count === 0 || store_ms - this.begin_ms <= key_index_file_limits.store_time_delta_ms_max;
  }

  add(hash: number, commit_offset: number, store_ms: number): KeyIndexAddStatus {
    assert(Number.isInteger(hash) && hash >= 0 && hash <= 0xffff_ffff, `key hash ${hash} is not a u32`);
    assert(Number.isSafeInteger(commit_offset) && commit_offset >= this.first_commit_offset, `commit offset ${commit_offset} is below the file's first offset ${this.first_commit_offset}`);
    if (this.count === this.entries_max) return 'full';
    if (!this.fitsTime(store_ms)) return 'time_span_exceeded';
    const buffer = this.file.buffer;
    if (this.count === 0) {
      this.begin_ms = this.end_ms = store_ms;
      writeU64(buffer, header_field.begin_store_ms, store_ms);
    }
    const number = this.count + 1;
    const slot_at = this.slotPosition(hash);
    const at = this.entryPosition(number);
    // Order matters for a kill between two of these writes: the entry first, then the slot,
    // then the count. repairTail finds a slot pointing one past the count and fixes it.
    buffer.writeUInt32LE(hash, at + entry_field.hash);
    writeU64(buffer, at + entry_field.commit_offset, commit_offset);
    buffer.writeUInt32LE(Math.max(0, store_ms - this.begin_ms), at + entry_field.store_time_delta_ms);
    buffer.writeUInt32LE(buffer.readUInt32LE(slot_at), at + entry_field.prev);
    buffer.writeUInt32LE(number, slot_at);
    buffer.writeUInt32LE(number, header_field.entry_count);
    this.count = number;
    if (store_ms > this.end_ms) {
      this.end_ms = store_ms;
      writeU64(buffer, header_field.end_store_ms, store_ms);
    }
    this.dirty = true;
    return 'added';
  }

  /**
   * Walks the slot chain of `query.hash`, newest first, pushing the CommitLog offsets of
   * entries with that hash and a store time within the bounds. A chain that points forward
   * or past the entry count is damage: the walk stops there (what it found is kept).
   */
  lookup(query: KeyIndexLookup): void {
    if (this.count === 0 || this.end_ms < query.begin_ms || this.begin_ms > query.end_ms) return;
    const buffer = this.file.buffer;
    let number = buffer.readUInt32LE(this.slotPosition(query.hash));
    while (number !== 0 && query.out.length < query.limit && query.budget.entries > 0) {
      if (number > this.count) return;
      query.budget.entries--;
      const at = this.entryPosition(number);
      if (buffer.readUInt32LE(at + entry_field.hash) === query.hash) {
        const store_ms = this.begin_ms + buffer.readUInt32LE(at + entry_field.store_time_delta_ms);
        if (store_ms >= query.begin_ms && store_ms <= query.end_ms) query.out.push(readU64(buffer, at + entry_field.commit_offset));
      }
      const prev = buffer.readUInt32LE(at + entry_field.prev);
      if (prev >= number) return;
      number = prev;
    }
  }

  /** The hashes of the newest entries whose record is at `commit_offset` (re-indexing a record
   *  that was being indexed when the process died adds only its missing keys). */
  trailingHashes(commit_offset: number): number[] {
    const hashes: number[] = [];
    for (let number = this.count; number > 0 && this.entryOffset(number) === commit_offset; number--) {
      hashes.push(this.file.buffer.readUInt32LE(this.entryPosition(number) + entry_field.hash));
    }
    return hashes;
  }

  /**
   * Takes back every entry whose record is at or past `end_offset` (the CommitLog was cut
   * there), newest first: each slot gets back the head it had before. Returns how many.
   */
  undoFrom(end_offset: number): number {
    const buffer = this.file.buffer;
    let removed = 0;
    while (this.count > 0 && this.entryOffset(this.count) >= end_offset) {
      const at = this.entryPosition(this.count);
      const slot_at = this.slotPosition(buffer.readUInt32LE(at + entry_field.hash));
      if (buffer.readUInt32LE(slot_at) === this.count) buffer.writeUInt32LE(buffer.readUInt32LE(at + entry_field.prev), slot_at);
      buffer.fill(0, at, at + entry_bytes);
      this.count--;
      buffer.writeUInt32LE(this.count, header_field.entry_count);
      removed++;
    }
    if (this.count === 0) {
      this.begin_ms = this.end_ms = 0;
      writeU64(buffer, header_field.begin_store_ms, 0);
      writeU64(buffer, header_field.end_store_ms, 0);
    }
    if (removed > 0) this.dirty = true;
    return removed;
  }

  /**
   * After a crash, makes the newest file whole again: drops entries at the end that are not
   * whole (an offset below the file's first or below the entry before it: zeros a power loss
   * left, or an entry being written), and rebuilds the slot table from the entries when a
   * slot points past the count (a kill between writing a slot and the count) or entries were
   * dropped. O(entries + slots): run once, at start, on the newest file only (older files
   * were made durable whole when the index rolled past them).
   */
  repairTail(): KeyIndexRepair {
    const buffer = this.file.buffer;
    let valid = 0;
    let previous_offset = this.first_commit_offset;
    let end_ms = 0;
    for (let number = 1; number <= this.count; number++) {
      const at = this.entryPosition(number);
      const offset = readU64(buffer, at + entry_field.commit_offset);
      const prev = buffer.readUInt32LE(at + entry_field.prev);
      // An entry of all zeros after the first is a page the count reached disk before (a
      // power loss), not an entry: a real one would need a key of the log's very first
      // record hashing to 0 (a 2^-32 chance). A zero first entry is kept: it costs a slot
      // and a record read that the store's check turns away, never a wrong answer.
      const hole = number > 1 && offset === 0 && prev === 0 && buffer.readUInt32LE(at + entry_field.hash) === 0 && buffer.readUInt32LE(at + entry_field.store_time_delta_ms) === 0;
      if (hole || offset < previous_offset || prev >= number) break;
      previous_offset = offset;
      end_ms = Math.max(end_ms, this.begin_ms + buffer.readUInt32LE(at + entry_field.store_time_delta_ms));
      valid = number;
    }
    const entries_dropped = this.count - valid;
    let slots_rebuilt = entries_dropped > 0;
    if (!slots_rebuilt) {
      for (let slot = 0; slot < this.slots; slot++) {
        if (buffer.readUInt32LE(header_bytes + slot * slot_bytes) > valid) {
          slots_rebuilt = true;
          break;
        }
      }
    }
    // Whatever lies past the count (an entry being written at the kill) is overwritten whole
    // by the next add; nothing reads it before.
    if (slots_rebuilt) this.rebuildSlots(valid);
    this.count = valid;
    buffer.writeUInt32LE(valid, header_field.entry_count);
    this.end_ms = valid === 0 ? 0 : end_ms;
    writeU64(buffer, header_field.end_store_ms, this.end_ms);
    if (valid === 0) {
      this.begin_ms = 0;
      writeU64(buffer, header_field.begin_store_ms, 0);
    }
    if (entries_dropped > 0 || slots_rebuilt) this.dirty = true;
    return { entries_dropped, slots_rebuilt };
  }

  setCovered(offset: number): void {
    assert(Number.isSafeInteger(offset) && offset >= 0, `covered offset ${offset} is not a non-negative safe integer`);
    if (offset === this.pending_covered) return;
    this.pending_covered = Math.max(offset, this.first_commit_offset);
    this.dirty = true;
  }

  /**
   * Makes the entries durable (fdatasync), then records the covered offset they cover in the
   * header: on disk the header never claims more than the entries hold. The header itself
   * reaches the disk with the next flush (or the kernel's write-back); until then a restart
   * re-indexes from the older covered offset, and KeyIndex skips what is there already.
   */
  flush(): void {
    if (!this.dirty) return;
    const covered = this.pending_covered;
    this.dirty = false;
    this.file.flush();
    writeU64(this.file.buffer, header_field.covered_offset, covered);
  }

  /**
   * The same with fdatasync on libuv's thread pool, so the owner's thread keeps turning (it
   * may add meanwhile: those entries wait for the next flush). The header's covered offset
   * only moves forward here; the caller must not close the file before this settles.
   */
  async flushAsync(): Promise<void> {
    if (!this.dirty) return;
    const covered = this.pending_covered;
    this.dirty = false;
    try {
      await this.file.flushAsync();
    } catch (error) {
      this.dirty = true;
      throw error;
    }
    if (!this.file.closed && covered > this.durable_covered_offset) writeU64(this.file.buffer, header_field.covered_offset, covered);
  }

  /** flush, then the header too: for a file the index rolls past, and at close. */
  seal(): void {
    this.flush();
    this.file.flush();
  }

  get needs_flush(): boolean {
    return this.dirty;
  }

  info(): KeyIndexFileInfo {
    return {
      name_offset: this.first_commit_offset,
      entries: this.count,
      entries_max: this.entries_max,
      slots: this.slots,
      covered_offset: this.pending_covered,
      begin_store_ms: this.begin_ms,
      end_store_ms: this.end_ms,
    };
  }

  close(): void {
    this.file.close();
  }

  /** Closes and removes the file. */
  destroy(): void {
    this.file.destroy();
  }

  private rebuildSlots(entries: number): void {
    const buffer = this.file.buffer;
    buffer.fill(0, header_bytes, header_bytes + this.slots * slot_bytes);
    for (let number = 1; number <= entries; number++) {
      const at = this.entryPosition(number);
      const slot_at = this.slotPosition(buffer.readUInt32LE(at + entry_field.hash));
      buffer.writeUInt32LE(buffer.readUInt32LE(slot_at), at + entry_field.prev);
      buffer.writeUInt32LE(number, slot_at);
    }
  }

  private entryOffset(number: number): number {
    return readU64(this.file.buffer, this.entryPosition(number) + entry_field.commit_offset);
  }

  private slotPosition(hash: number): number {
    return header_bytes + (hash % this.slots) * slot_bytes;
  }

  private entryPosition(number: number): number {
    return header_bytes + this.slots * slot_bytes + (number - 1) * entry_bytes;
  }
}
