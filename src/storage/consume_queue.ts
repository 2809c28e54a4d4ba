import fs from 'node:fs';
import { assert } from '../runtime/assert.js';
import { MqError } from '../runtime/errors.js';
import {
  asBuffer,
  assertEntryValues,
  consume_queue_entry_bytes as entry_bytes,
  entryCommitLogOffset,
  entrySize,
  entryTagHash,
  writeEntry,
  type ConsumeQueueEntry,
} from './consume_queue_entry.js';
import type { MappedFile } from './mapped_file.js';
import { SegmentSet } from './segment_set.js';
import { consumeQueueDir } from './storage_paths.js';

export const consume_queue_limits = {
  /** Entries per segment file (RocketMQ's default): 300,000 × 20 bytes = 6 MB. */
  entries_per_segment_default: 300_000,
} as const;

export interface ConsumeQueueOptions {
  data_dir: string;
  topic: string;
  queue_id: number;
  entries_per_segment?: number;
}

/**
 * What `append` did with an entry:
 * - `appended`: it was new and is now written;
 * - `already_present`: an equal entry was there (re-dispatch after a crash): nothing written;
 * - `below_min`: the queue offset is below the queue's min offset (its CommitLog record is
 *   gone by retention): nothing written, nothing to compare with.
 */
export type ConsumeQueueAppendStatus = 'appended' | 'already_present' | 'below_min';

/**
 * The ConsumeQueue of one (topic, queue), write side: fixed 20-byte entries
 * (consume_queue_entry.ts) in fixed-size segments of its own directory. Queue offset N is the
 * entry at byte N × 20, so segment arithmetic finds any offset.
 *
 * Positions (queue offsets): entries [min_offset, max_offset) are readable once the owner has
 * published max_offset; entries below min_offset point into CommitLog segments deleted by
 * retention. A queue whose directory holds no entry is fresh: its first entry may have any
 * queue offset (a queue rebuilt from a CommitLog whose head was deleted by retention starts
 * where the CommitLog's oldest record of that queue is), and that offset becomes its min.
 *
 * Ownership: one instance per queue, owned by the ConsumeQueue actor's thread; it is the
 * queue's only writer. Readers on any thread use ConsumeQueueReader over their own mappings,
 * bounded by the positions the owner publishes; nothing here is shared with them but the
 * files. `flushAsync` may be pending while `append` runs; `truncateToCommitLog`,
 * `removeBefore` and `close` must wait for it (they may close a segment it flushes).
 */
export class ConsumeQueue {
  readonly dir: string;
  readonly topic: string;
  readonly queue_id: number;
  readonly entries_per_segment: number;
  readonly segment_bytes: number;
  private segments: SegmentSet;
  /** The segment that holds (or will hold) the next entry, when it exists. */
  private current: MappedFile | undefined;
  private min_queue_offset = 0;
  private next_queue_offset = 0;
  private flushed_queue_offset = 0;
  /** CommitLog offset just past the record of entry next - 1 (0 when there is none). */
  private last_entry_end = 0;
  /** No entry in any kept segment: the next append fixes where the queue starts. */
  private fresh = true;
  private loaded = false;
  /** One entry, packed, for `append`: single appends go through the batch path. */
  private readonly single = Buffer.alloc(entry_bytes);

  constructor(options: ConsumeQueueOptions) {
    this.topic = options.topic;
    this.queue_id = options.queue_id;
    this.dir = consumeQueueDir(options.data_dir, options.topic, options.queue_id);
    this.entries_per_segment = options.entries_per_segment ?? consume_queue_limits.entries_per_segment_default;
    assert(Number.isInteger(this.entries_per_segment) && this.entries_per_segment > 0, `entries per segment must be a positive integer, got ${this.entries_per_segment}`);
    this.segment_bytes = this.entries_per_segment * entry_bytes;
    this.segments = new SegmentSet(this.dir, this.segment_bytes, 'read-write');
  }

  /**
   * Maps the queue's segments and finds its ends: the last entry with a non-zero size (one
   * writer writes entries whole and in order, so everything after it is unwritten) and the
   * first one. Call `removeBefore(commit log min offset)` next, to move min past entries
   * whose records retention deleted, and `truncateToCommitLog` after a crash.
   *
   * Entries loaded count as not yet flushed: after a process crash they may sit only in the
   * page cache, so the first `flush` makes all of them durable.
   */
  load(): this {
    assert(!this.loaded, `ConsumeQueue ${this.name} is already loaded`);
    this.loaded = true;
    this.segments.load();
    const last = this.segments.last;
    const first_start = this.segments.min_offset;
    if (last === undefined) return this;
    const end_bytes = this.findWrittenEnd(first_start, last.start_offset);
    if (end_bytes === undefined) {
      // Segments with no entry at all (a crash between creating a segment and writing it):
      // the queue is still fresh.
      this.min_queue_offset = this.next_queue_offset = this.flushed_queue_offset = first_start / entry_bytes;
      return this;
    }
    this.fresh = false;
    this.next_queue_offset = end_bytes / entry_bytes;
    this.min_queue_offset = this.findFirstEntry(first_start, end_bytes) / entry_bytes;
    this.flushed_queue_offset = this.min_queue_offset;
    this.last_entry_end = this.entryEndBefore(this.next_queue_offset);
    this.current = this.segments.find(end_bytes);
    return this;
  }

  get name(): string {
    return `${this.topic}/${this.queue_id}`;
  }

  /** The oldest queue offset whose record still exists. */
  get min_offset(): number {
    return this.min_queue_offset;
  }

  /** The next queue offset: entries [min_offset, max_offset) are written. */
  get max_offset(): number {
    return this.next_queue_offset;
  }

  /** Entries below this queue offset are durable (fdatasync'ed). */
  get flushed_offset(): number {
    return this.flushed_queue_offset;
  }

  /** The CommitLog offset just past the last entry's record (0 when the queue has none):
   *  re-dispatch for this queue must start there. */
  get coverage_end(): number {
    return this.last_entry_end;
  }

  /**
   * Writes the entry for `queue_offset`. Idempotent, for re-dispatch after a crash: an entry
   * already written there is checked to be the same and skipped; a different one is an
   * INTERNAL error (the queue and the CommitLog disagree). A queue offset past `max_offset`
   * (a gap) is an INTERNAL error too.
   */
  append(queue_offset: number, commit_log_offset: number, size: number, tag_hash: number): ConsumeQueueAppendStatus {
    assertEntryValues(commit_log_offset, size, tag_hash);
    writeEntry(this.single, 0, commit_log_offset, size, tag_hash);
    if (queue_offset < this.min_queue_offset && !this.fresh) return 'below_min';
    return this.appendBatch(queue_offset, this.single) === 1 ? 'appended' : 'already_present';
  }

  /**
   * Writes entries for queue offsets first_queue_offset, +1, ... from `packed` (n × 20 bytes
   * in the entry layout). The same rules as `append`, entry by entry: entries below the min
   * are skipped, entries already written are compared (all of them before anything is
   * written), the rest must start exactly at `max_offset`. Copies: the new entries' bytes
   * are copied once, into the mapped segments. Returns how many entries were new.
   */
  appendBatch(first_queue_offset: number, packed: Uint8Array): number {
    assert(this.loaded, `ConsumeQueue ${this.name}: load() before appending`);
    assert(Number.isSafeInteger(first_queue_offset) && first_queue_offset >= 0, `queue offset ${first_queue_offset} is not a non-negative safe integer`);
    assert(packed.length % entry_bytes === 0, `a batch of entries is a multiple of ${entry_bytes} bytes, got ${packed.length}`);
    const bytes = asBuffer(packed);
    const count = bytes.length / entry_bytes;
    if (count === 0) return 0;
    const end = first_queue_offset + count;
    if (this.fresh) this.startAt(first_queue_offset);
    const checked_from = Math.max(first_queue_offset, this.min_queue_offset);
    const checked_to = Math.min(end, this.next_queue_offset);
    if (checked_from < checked_to) this.checkSame(checked_from, checked_to, bytes, first_queue_offset);
    if (end <= this.next_queue_offset) return 0;
    if (first_queue_offset > this.next_queue_offset) {
      throw new MqError('INTERNAL', `ConsumeQueue ${this.name}: an entry for queue offset ${first_queue_offset} came while the queue ends at ${this.next_queue_offset}; queue offsets must be dispatched without gaps (the dispatcher skipped records, or the CommitLog's queue offsets jump)`);
    }
    const new_from = this.next_queue_offset;
    const source_from = (new_from - first_queue_offset) * entry_bytes;
    this.checkNew(bytes, source_from);
    let queue_offset = new_from;
    let source = source_from;
    while (queue_offset < end) {
      const segment = this.segmentForWrite(queue_offset * entry_bytes);
      const position = queue_offset * entry_bytes - segment.start_offset;
      const entries = Math.min(end - queue_offset, (segment.size_bytes - position) / entry_bytes);
      bytes.copy(segment.buffer, position, source, source + entries * entry_bytes);
      queue_offset += entries;
      source += entries * entry_bytes;
    }
    const last_position = bytes.length - entry_bytes;
    this.last_entry_end = entryCommitLogOffset(bytes, last_position) + entrySize(bytes, last_position);
    this.next_queue_offset = end;
    return end - new_from;
  }

  /**
   * Drops trailing entries whose record would end past `commit_log_end` (where CommitLog
   * recovery cut the log): their bytes are zeroed and made durable, later segments are
   * deleted, and the queue continues from the first dropped offset. Returns how many were
   * dropped.
   */
  truncateToCommitLog(commit_log_end: number): number {
    assert(this.loaded, `ConsumeQueue ${this.name}: load() before truncating`);
    const cut = this.firstOffsetWhere(this.min_queue_offset, this.next_queue_offset, (position, source) => entryCommitLogOffset(source, position) + entrySize(source, position) > commit_log_end);
    if (cut === this.next_queue_offset) return 0;
    const cut_bytes = cut * entry_bytes;
    const segment = this.segments.find(cut_bytes);
    assert(segment !== undefined, `ConsumeQueue ${this.name}: no segment holds written queue offset ${cut}`);
    const position = cut_bytes - segment.start_offset;
    segment.buffer.fill(0, position, Math.min(segment.size_bytes, this.next_queue_offset * entry_bytes - segment.start_offset));
    segment.flush();
    this.segments.removeAfter(cut_bytes);
    const dropped = this.next_queue_offset - cut;
    this.next_queue_offset = cut;
    this.flushed_queue_offset = Math.min(this.flushed_queue_offset, cut);
    this.last_entry_end = this.entryEndBefore(cut);
    this.current = segment;
    return dropped;
  }

  /** Makes every written entry durable; returns the flushed queue offset. */
  flush(): number {
    const target = this.next_queue_offset;
    if (this.flushed_queue_offset >= target) return this.flushed_queue_offset;
    for (const segment of this.segments.range(this.flushed_queue_offset * entry_bytes, target * entry_bytes)) segment.flush();
    this.flushed_queue_offset = target;
    return target;
  }

  /** The same on libuv's thread pool; appends may go on meanwhile (they are flushed next time). */
  async flushAsync(): Promise<number> {
    const target = this.next_queue_offset;
    if (this.flushed_queue_offset >= target) return this.flushed_queue_offset;
    const segments = this.segments.range(this.flushed_queue_offset * entry_bytes, target * entry_bytes);
    await Promise.all(segments.map((segment) => segment.flushAsync()));
    this.flushed_queue_offset = Math.max(this.flushed_queue_offset, Math.min(target, this.next_queue_offset));
    return this.flushed_queue_offset;
  }

  /**
   * Retention: deletes whole segments whose entries all point below `commit_log_min_offset`
   * (their records are gone), oldest first, never the segment with the last entry; then moves
   * min_offset up to the first entry whose record still exists. Returns how many segments
   * were deleted.
   */
  removeBefore(commit_log_min_offset: number): number {
    assert(this.loaded, `ConsumeQueue ${this.name}: load() before retention`);
    if (this.fresh || this.next_queue_offset === 0) return 0;
    const last_entry_segment = this.segments.startOf((this.next_queue_offset - 1) * entry_bytes);
    const first_start = this.segments.min_offset;
    let keep_from = first_start;
    while (keep_from < last_entry_segment) {
      const segment = this.segments.find(keep_from);
      assert(segment !== undefined, `ConsumeQueue ${this.name}: segment ${keep_from} is missing`);
      // The segment is full (not the last), and CommitLog offsets grow with queue offsets:
      // its last entry points highest.
      if (entryCommitLogOffset(segment.buffer, segment.size_bytes - entry_bytes) >= commit_log_min_offset) break;
      keep_from += this.segment_bytes;
    }
    this.segments.removeBefore(keep_from);
    const from = Math.max(this.min_queue_offset, keep_from / entry_bytes);
    const first_alive = this.firstOffsetWhere(from, this.next_queue_offset, (position, source) => entryCommitLogOffset(source, position) >= commit_log_min_offset);
    this.min_queue_offset = first_alive;
    this.flushed_queue_offset = Math.max(this.flushed_queue_offset, first_alive);
    return (keep_from - first_start) / this.segment_bytes;
  }

  /** The entry at `queue_offset` when it is in [min_offset, max_offset). */
  entryAt(queue_offset: number): ConsumeQueueEntry | undefined {
    if (queue_offset < this.min_queue_offset || queue_offset >= this.next_queue_offset) return undefined;
    const { source, position } = this.locate(queue_offset);
    return { queue_offset, commit_log_offset: entryCommitLogOffset(source, position), size: entrySize(source, position), tag_hash: entryTagHash(source, position) };
  }

  close(): void {
    this.segments.close();
    this.current = undefined;
  }

  /** The fresh queue starts at `queue_offset`. Segments it has are all zeros; when the first
   *  one does not hold that offset they are deleted, so the queue's files start with it. */
  private startAt(queue_offset: number): void {
    const last = this.segments.last;
    if (last !== undefined && this.segments.startOf(queue_offset * entry_bytes) !== this.segments.min_offset) {
      const first_start = this.segments.min_offset;
      this.segments.close();
      for (let start = first_start; start <= last.start_offset; start += this.segment_bytes) fs.rmSync(this.segments.pathOf(start), { force: true });
      this.segments = new SegmentSet(this.dir, this.segment_bytes, 'read-write').load();
    }
    this.current = undefined;
    this.fresh = false;
    this.min_queue_offset = this.next_queue_offset = this.flushed_queue_offset = queue_offset;
    this.last_entry_end = 0;
  }

  /** Throws when entries [from, to) of the queue differ from the batch's. */
  private checkSame(from: number, to: number, batch: Buffer, batch_first: number): void {
    let queue_offset = from;
    while (queue_offset < to) {
      const { segment, position } = this.locate(queue_offset);
      const entries = Math.min(to - queue_offset, (segment.size_bytes - position) / entry_bytes);
      const batch_position = (queue_offset - batch_first) * entry_bytes;
      if (segment.buffer.compare(batch, batch_position, batch_position + entries * entry_bytes, position, position + entries * entry_bytes) !== 0) {
        for (let index = 0; index < entries; index++) {
          const stored = position + index * entry_bytes;
          const given = batch_position + index * entry_bytes;
          if (segment.buffer.compare(batch, given, given + entry_bytes, stored, stored + entry_bytes) !== 0) {
            throw new MqError('INTERNAL', `ConsumeQueue ${this.name}: queue offset ${queue_offset + index} holds ${describeEntry(segment.buffer, stored)} but the CommitLog's record gives ${describeEntry(batch, given)}: the queue and the CommitLog disagree; stop the broker and delete the whole consumequeue directory: every queue is rebuilt from the CommitLog at the next start`);
          }
        }
      }
      queue_offset += entries;
    }
  }

  /** New entries must be real (size > 0) and follow each other in the CommitLog. */
  private checkNew(batch: Buffer, from_position: number): void {
    let previous_end = this.last_entry_end;
    for (let position = from_position; position < batch.length; position += entry_bytes) {
      const offset = entryCommitLogOffset(batch, position);
      const size = entrySize(batch, position);
      assert(size > 0, `ConsumeQueue ${this.name}: an entry of size 0 for CommitLog offset ${offset}`);
      assert(offset >= previous_end, `ConsumeQueue ${this.name}: entry for CommitLog offset ${offset} overlaps or precedes the previous record, which ends at ${previous_end}`);
      previous_end = offset + size;
    }
  }

  private segmentForWrite(byte_offset: number): MappedFile {
    const current = this.current;
    if (current !== undefined && byte_offset >= current.start_offset && byte_offset < current.end_offset) return current;
    this.current = this.segments.find(byte_offset) ?? this.segments.createNext(this.segments.startOf(byte_offset));
    return this.current;
  }

  private locate(queue_offset: number): { segment: MappedFile; source: Buffer; position: number } {
    const byte_offset = queue_offset * entry_bytes;
    const segment = this.segments.find(byte_offset);
    assert(segment !== undefined, `ConsumeQueue ${this.name}: no segment holds queue offset ${queue_offset}`);
    return { segment, source: segment.buffer, position: byte_offset - segment.start_offset };
  }

  /** Binary search in [from, to) for the first queue offset whose entry satisfies `test`,
   *  given that entries failing it all come first (CommitLog offsets grow with queue offsets). */
  private firstOffsetWhere(from: number, to: number, test: (position: number, source: Buffer) => boolean): number {
    let low = from;
    let high = to;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      const { source, position } = this.locate(middle);
      if (test(position, source)) high = middle;
      else low = middle + 1;
    }
    return low;
  }

  /** The CommitLog end of entry queue_offset - 1, or 0 when there is none. */
  private entryEndBefore(queue_offset: number): number {
    if (queue_offset === 0) return 0;
    const byte_offset = (queue_offset - 1) * entry_bytes;
    const segment = this.segments.find(byte_offset);
    if (segment === undefined) return 0;
    const position = byte_offset - segment.start_offset;
    const size = entrySize(segment.buffer, position);
    return size === 0 ? 0 : entryCommitLogOffset(segment.buffer, position) + size;
  }

  /** Byte offset just past the last entry with a non-zero size, scanning back from the end. */
  private findWrittenEnd(first_start: number, last_start: number): number | undefined {
    for (let start = last_start; start >= first_start; start -= this.segment_bytes) {
      const segment = this.segments.find(start);
      assert(segment !== undefined, `ConsumeQueue ${this.name}: segment ${start} is missing`);
      for (let position = segment.size_bytes - entry_bytes; position >= 0; position -= entry_bytes) {
        if (entrySize(segment.buffer, position) !== 0) return start + position + entry_bytes;
      }
    }
    return undefined;
  }

  /** Byte offset of the first entry with a non-zero size (zeros precede it only in a queue
   *  that started fresh at a later offset). */
  private findFirstEntry(first_start: number, end_bytes: number): number {
    for (let byte_offset = first_start; byte_offset < end_bytes; byte_offset += entry_bytes) {
      const { source, position } = this.locate(byte_offset / entry_bytes);
      if (entrySize(source, position) !== 0) return byte_offset;
    }
    return end_bytes;
  }
}

function describeEntry(source: Buffer, position: number): string {
  return `(CommitLog offset ${entryCommitLogOffset(source, position)}, size ${entrySize(source, position)}, tag hash ${entryTagHash(source, position)})`;
}
