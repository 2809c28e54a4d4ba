import fs from 'node:fs';
import path from 'node:path';
import { assert } from '../runtime/assert.js';
import type { Logger } from '../runtime/log.js';
import { KeyIndexFile, type KeyIndexFileInfo } from './key_index_file.js';
import { KeyIndexFileDamage, key_index_file_limits } from './key_index_layout.js';
import { parseSegmentFileName, segmentFileName } from './storage_paths.js';

export const key_index_limits = {
  /** Most CommitLog offsets one lookup returns (RocketMQ's default maxNum is 32; its cap 64). */
  lookup_results_max: 64,
  /** Entries one lookup may visit over all files: a hot slot (many keys, one chain) costs at
   *  most this; the lookup returns what it found by then. */
  lookup_entries_visited_max: 20_000,
  /** Keys of one record that are indexed (its first distinct ones); a record holds at most
   *  32 KB of properties, so without a bound one record could fill a small file. */
  keys_per_record_max: 64,
  /** Files listed in `describe` (the newest); the count covers them all. */
  files_described_max: 16,
} as const;

/** Inclusive store-time bounds of a lookup (ms since the epoch). */
export interface KeyIndexTimeRange {
  begin_ms: number;
  end_ms: number;
}

export interface KeyIndexOptions {
  dir: string;
  /** Geometry of files created from now on; existing files keep their own. */
  slots_per_file?: number;
  entries_per_file?: number;
  log: Logger;
}

export interface KeyIndexDescription {
  covered_offset: number | undefined;
  files: number;
  entries: number;
  /** The newest `files_described_max` files, newest first. */
  newest: KeyIndexFileInfo[];
}

const fnv_offset_basis = 0x811c9dc5;
const fnv_prime = 0x01000193;

/**
 * The 32-bit hash a key is indexed under: FNV-1a over the topic's bytes, a 0 byte, the key's
 * UTF-8 bytes, then murmur3's finalizer (FNV's low bits alone spread poorly over `mod slots`).
 * Topic names cannot hold a 0 byte, so (topic, key) pairs never run into each other; two
 * pairs may still share a hash, which is why the store checks each record it reads.
 */
export function keyIndexHash(topic: string, key: string): number {
  let hash = fnvString(fnv_offset_basis, topic);
  hash = Math.imul(hash ^ 0, fnv_prime);
  hash = fnvString(hash, key);
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> 0;
}

function fnvString(start: number, text: string): number {
  let hash = start;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    // ASCII (nearly every key) is hashed straight from the string, without encoding.
    if (code >= 0x80) {
      for (const byte of Buffer.from(text.slice(index), 'utf8')) hash = Math.imul(hash ^ byte, fnv_prime);
      return hash;
    }
    hash = Math.imul(hash ^ code, fnv_prime);
  }
  return hash;
}

/**
 * The key index of one store: message keys (a record's `KEYS` property) to the CommitLog
 * offsets of the records that carry them, in fixed-size files under `<data>/index/`
 * (key_index_file.ts), each named by the CommitLog offset it starts indexing at. Records are
 * added in CommitLog order; when the newest file is full (or its time span would overflow)
 * the next record goes into a new file. A record's keys never straddle two files.
 *
 * Durability and recovery: the newest file's header holds the covered offset, written only
 * after the entries below it are durable; a restart re-indexes from there. Re-adding a
 * record that is already indexed adds nothing — a record below the newest entry's is skipped,
 * and of the newest entry's record only keys that are missing are added — so re-indexing
 * after a kill -9 is exact: nothing lost, nothing twice. A damaged file is dropped with a log
 * line: the newest one's records are re-indexed (the older file's covered offset is where it
 * rolled), an older one's keys are lost to lookups.
 *
 * Retention: `removeBefore` deletes whole files whose records all lie below the CommitLog's
 * min offset; the newest file is always kept (it holds the covered offset).
 *
 * Ownership: the key index actor's thread. Not shared; no method runs concurrently.
 */
export class KeyIndex {
  private readonly dir: string;
  private readonly slots_per_file: number;
  private readonly entries_per_file: number;
  private readonly log: Logger;
  /** Oldest first. */
  private files: KeyIndexFile[] = [];
  private loaded = false;

  constructor(options: KeyIndexOptions) {
    this.dir = options.dir;
    this.slots_per_file = options.slots_per_file ?? key_index_file_limits.slots_per_file_default;
    this.entries_per_file = options.entries_per_file ?? key_index_file_limits.entries_per_file_default;
    this.log = options.log;
  }

  /**
   * Opens the files, drops damaged ones (with a log line), and repairs the newest one's tail
   * (key_index_file.ts, repairTail). Never throws for what it finds on disk.
   */
  load(): this {
    assert(!this.loaded, `key index ${this.dir} is already loaded`);
    this.loaded = true;
    fs.mkdirSync(this.dir, { recursive: true });
    const starts = fs
      .readdirSync(this.dir)
      .map((name) => parseSegmentFileName(name))
      .filter((start): start is number => start !== undefined)
      .sort((a, b) => a - b);
    for (const start of starts) {
      const file_path = this.pathOf(start);
      try {
        const file = KeyIndexFile.open(file_path);
        if (file.first_commit_offset !== start) {
          file.close();
          throw new KeyIndexFileDamage(file_path, `its header says it starts at ${file.first_commit_offset}, its name ${start}`);
        }
        this.files.push(file);
      } catch (error) {
        if (!(error instanceof KeyIndexFileDamage)) throw error;
        this.log.warn({ file: file_path, reason: error.reason }, 'key index file damaged: dropped (a newest file is re-indexed from the CommitLog; the keys of an older one are lost to lookups)');
        fs.rmSync(file_path, { force: true });
      }
    }
    const newest = this.newest;
    if (newest !== undefined) {
      const repair = newest.repairTail();
      if (repair.entries_dropped > 0 || repair.slots_rebuilt) this.log.warn({ file: newest.path, ...repair }, 'key index: the newest file was not whole after a crash; repaired, its records are re-indexed');
    }
    return this;
  }

  /** Where re-indexing starts: every record below is indexed. Undefined with no file yet. */
  get covered_offset(): number | undefined {
    return this.newest?.covered_offset;
  }

  /** The CommitLog offset of the newest entry's record, over all files. */
  get last_commit_offset(): number | undefined {
    for (let index = this.files.length - 1; index >= 0; index--) {
      const last = (this.files[index] as KeyIndexFile).last_commit_offset;
      if (last !== undefined) return last;
    }
    return undefined;
  }

  get file_count(): number {
    return this.files.length;
  }

  get entry_count(): number {
    return this.files.reduce((sum, file) => sum + file.entry_count, 0);
  }

  /** Indexes one key of the record at `commit_offset`. Returns the entries added (0 or 1). */
  add(topic: string, key: string, commit_offset: number, store_ms: number): number {
    return this.addRecord(topic, [key], commit_offset, store_ms);
  }

  /**
   * Indexes the keys of the record at `commit_offset` (its first `keys_per_record_max`
   * distinct ones). Records must come in CommitLog order; one already indexed adds nothing
   * (see the class comment). Returns the entries added.
   */
  addRecord(topic: string, keys: readonly string[], commit_offset: number, store_ms: number): number {
    const last = this.last_commit_offset;
    if (last !== undefined && commit_offset < last) return 0;
    const distinct = [...new Set(keys)].filter((key) => key !== '').slice(0, Math.min(key_index_limits.keys_per_record_max, this.entries_per_file));
    let hashes = distinct.map((key) => keyIndexHash(topic, key));
    if (last === commit_offset) hashes = withoutPresent(hashes, this.lastNonEmpty()?.trailingHashes(commit_offset) ?? []);
    if (hashes.length === 0) return 0;
    let file = this.newest;
    if (file === undefined || file.free_entries < hashes.length || !file.fitsTime(store_ms)) file = this.roll(commit_offset);
    for (const hash of hashes) {
      const status = file.add(hash, commit_offset, store_ms);
      assert(status === 'added', `key index: a fresh or roomy file refused an entry (${status})`);
    }
    return hashes.length;
  }

  /** Records below `offset` are all indexed; a restart re-indexes from here. */
  setCovered(offset: number): void {
    (this.newest ?? this.roll(offset)).setCovered(offset);
  }

  /**
   * CommitLog offsets of records of `topic` that carry `key`, newest first, at most `limit`
   * (and at most `lookup_results_max`), optionally only those stored within `range`. They are
   * candidates: another (topic, key) with the same hash matches too, and a record may have
   * been deleted by retention since; the caller reads and checks each.
   */
  lookup(topic: string, key: string, limit: number, range?: KeyIndexTimeRange): number[] {
    const wanted = Math.min(limit, key_index_limits.lookup_results_max);
    const out: number[] = [];
    if (wanted < 1) return out;
    const query = {
      hash: keyIndexHash(topic, key),
      limit: wanted,
      begin_ms: range?.begin_ms ?? 0,
      end_ms: range?.end_ms ?? Number.MAX_SAFE_INTEGER,
      out,
      budget: { entries: key_index_limits.lookup_entries_visited_max },
    };
    for (let index = this.files.length - 1; index >= 0 && out.length < wanted && query.budget.entries > 0; index--) (this.files[index] as KeyIndexFile).lookup(query);
    // Two keys of one record with the same hash give the record twice.
    return [...new Set(out)];
  }

  /**
   * The CommitLog was cut at `end_offset` (recovery after a power loss, a slave truncated to
   * its master): entries of records at or past it are taken back, newest first, files left
   * empty past it are deleted, and the covered offset moves back — durably, before any new
   * record is indexed. Returns the entries taken back.
   */
  truncateTo(end_offset: number): number {
    let removed = 0;
    for (let index = this.files.length - 1; index >= 0; index--) {
      const file = this.files[index] as KeyIndexFile;
      const last = file.last_commit_offset;
      if (last !== undefined && last < end_offset) break;
      removed += file.undoFrom(end_offset);
    }
    while (this.files.length > 0) {
      const newest = this.newest as KeyIndexFile;
      if (newest.entry_count > 0 || newest.first_commit_offset < end_offset) break;
      newest.destroy();
      this.files.pop();
    }
    const newest = this.newest;
    if (newest !== undefined) {
      if (newest.covered_offset > end_offset) newest.setCovered(end_offset);
      for (const file of this.files) file.seal();
    }
    return removed;
  }

  /** Deletes the oldest files whose records all lie below `min_offset` (CommitLog retention),
   *  never the newest. Returns how many were deleted. */
  removeBefore(min_offset: number): number {
    let removed = 0;
    while (this.files.length > 1) {
      const oldest = this.files[0] as KeyIndexFile;
      const last = oldest.last_commit_offset;
      if (last !== undefined && last >= min_offset) break;
      oldest.destroy();
      this.files.shift();
      removed++;
    }
    return removed;
  }

  /**
   * Makes what was added durable, and then the covered offset (key_index_file.ts, flush),
   * off this thread (fdatasync on libuv's pool). While it runs the owner may add,
   * roll and look up, but must not call `removeBefore`, `truncateTo` or `close`: they may
   * close a file it flushes.
   */
  async flushAsync(): Promise<void> {
    await Promise.all(this.files.filter((file) => file.needs_flush).map((file) => file.flushAsync()));
  }

  describe(): KeyIndexDescription {
    return {
      covered_offset: this.covered_offset,
      files: this.files.length,
      entries: this.entry_count,
      newest: this.files
        .slice(-key_index_limits.files_described_max)
        .reverse()
        .map((file) => file.info()),
    };
  }

  close(): void {
    for (const file of this.files) {
      file.seal();
      file.close();
    }
    this.files = [];
  }

  private get newest(): KeyIndexFile | undefined {
    return this.files[this.files.length - 1];
  }

  private lastNonEmpty(): KeyIndexFile | undefined {
    for (let index = this.files.length - 1; index >= 0; index--) {
      if ((this.files[index] as KeyIndexFile).entry_count > 0) return this.files[index];
    }
    return undefined;
  }

  /**
   * A new newest file that starts at `commit_offset`. The file it follows records that it
   * covers everything below, and is made durable whole: should the new file be damaged
   * later, re-indexing starts exactly there.
   */
  private roll(commit_offset: number): KeyIndexFile {
    // An empty file (of an older geometry too small for this record) stays until retention
    // removes it (it holds nothing below any offset): a flush may be running on it now.
    const previous = this.newest;
    if (previous !== undefined) {
      previous.setCovered(Math.max(previous.covered_offset, commit_offset));
      previous.seal();
    }
    const file = KeyIndexFile.create(this.pathOf(commit_offset), { first_commit_offset: commit_offset, slots: this.slots_per_file, entries_max: this.entries_per_file });
    this.files.push(file);
    return file;
  }

  private pathOf(start: number): string {
    return path.join(this.dir, segmentFileName(start));
  }
}

/** `hashes` less one occurrence of each hash in `present` (a multiset difference). */
function withoutPresent(hashes: number[], present: readonly number[]): number[] {
  const left = new Map<number, number>();
  for (const hash of present) left.set(hash, (left.get(hash) ?? 0) + 1);
  return hashes.filter((hash) => {
    const count = left.get(hash) ?? 0;
    if (count === 0) return true;
    left.set(hash, count - 1);
    return false;
  });
}
