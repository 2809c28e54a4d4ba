import { assert } from '../runtime/assert.js';
import { MqError } from '../runtime/errors.js';
import { consume_queue_limits } from './consume_queue.js';
import { consume_queue_entry_bytes as entry_bytes, entryCommitLogOffset, entrySize, entryTagHash, type ConsumeQueueEntry } from './consume_queue_entry.js';
import { SegmentSet } from './segment_set.js';
import { consumeQueueDir } from './storage_paths.js';
import { tagFilterAccepts, type TagFilter } from './tag_hash.js';

export const consume_queue_read_limits = {
  /** Entries one read returns at most; a larger `max_count` is clamped to it. */
  read_entries_max: 4_096,
  /** Entries one read examines at most, matching or not, so that a read with a tag filter
   *  that matches little stays short (RocketMQ's maxFilterMessageCount). */
  read_scan_entries_max: 16_000,
} as const;

/** The queue's positions as its writer published them: the reader never goes past them. */
export interface ConsumeQueueWindow {
  min_offset: number;
  /** Entries below this queue offset are whole and may be read. */
  max_offset: number;
}

export interface ConsumeQueueReadOptions {
  /** Entries to return at most (clamped to read_entries_max). */
  max_count: number;
  /** Sum of record sizes to return at most; the first entry is returned whatever its size,
   *  so that a record larger than the limit never blocks the queue. */
  max_bytes?: number;
  tag_filter?: TagFilter;
}

/**
 * - `found`: entries were returned;
 * - `no_matched_message`: entries were examined but none passed the tag filter;
 * - `no_new_message`: the read starts at the window's max offset (wait for more);
 * - `offset_too_small`: the read starts below the min offset (retention deleted it);
 * - `offset_overflow`: the read starts past the max offset.
 * In every case `next_queue_offset` is where the next read should start.
 */
export type ConsumeQueueReadStatus = 'found' | 'no_matched_message' | 'no_new_message' | 'offset_too_small' | 'offset_overflow';

export interface ConsumeQueueRead {
  status: ConsumeQueueReadStatus;
  entries: ConsumeQueueEntry[];
  next_queue_offset: number;
}

/**
 * Reads ConsumeQueue entries on the reader's own thread, from its own read-only mappings of
 * the queue's segments (mapped on first use, so segments the writer adds later are found by
 * name). The window comes from the writer's published positions; entries past its max may be
 * half-written and are never read.
 *
 * Ownership: one per (reader thread, queue); not shared between threads. When retention moves
 * the window's min past segments this reader mapped, it drops its mappings (the binding unmaps
 * on collection), so deleted files do not stay mapped by a reader.
 */
export class ConsumeQueueReader {
  readonly dir: string;
  readonly segment_bytes: number;
  private segments: SegmentSet;
  /** Lowest segment start this reader may have mapped. */
  private mapped_from = 0;

  constructor(options: { data_dir: string; topic: string; queue_id: number; entries_per_segment?: number }) {
    this.dir = consumeQueueDir(options.data_dir, options.topic, options.queue_id);
    const entries_per_segment = options.entries_per_segment ?? consume_queue_limits.entries_per_segment_default;
    this.segment_bytes = entries_per_segment * entry_bytes;
    this.segments = new SegmentSet(this.dir, this.segment_bytes, 'read-only');
  }

  read(from_queue_offset: number, window: ConsumeQueueWindow, options: ConsumeQueueReadOptions): ConsumeQueueRead {
    assert(Number.isSafeInteger(from_queue_offset) && from_queue_offset >= 0, `queue offset ${from_queue_offset} is not a non-negative safe integer`);
    assert(window.min_offset <= window.max_offset, `window [${window.min_offset}, ${window.max_offset}) is inverted`);
    if (!Number.isInteger(options.max_count) || options.max_count < 1) {
      throw new MqError('BAD_REQUEST', `a read asks for ${options.max_count} entries; ask for 1 .. ${consume_queue_read_limits.read_entries_max}`);
    }
    if (from_queue_offset < window.min_offset) return { status: 'offset_too_small', entries: [], next_queue_offset: window.min_offset };
    if (from_queue_offset > window.max_offset) return { status: 'offset_overflow', entries: [], next_queue_offset: window.max_offset };
    if (from_queue_offset === window.max_offset) return { status: 'no_new_message', entries: [], next_queue_offset: from_queue_offset };
    this.releaseBelow(window.min_offset);
    const count_max = Math.min(options.max_count, consume_queue_read_limits.read_entries_max);
    const bytes_max = options.max_bytes ?? Number.POSITIVE_INFINITY;
    const filter = options.tag_filter ?? '*';
    const scan_end = Math.min(window.max_offset, from_queue_offset + consume_queue_read_limits.read_scan_entries_max);
    const entries: ConsumeQueueEntry[] = [];
    let bytes = 0;
    let queue_offset = from_queue_offset;
    while (queue_offset < scan_end && entries.length < count_max) {
      const byte_offset = queue_offset * entry_bytes;
      const segment = this.segments.find(byte_offset);
      if (segment === undefined) {
        // Deleted by retention after the window was published: skip to the next segment.
        if (entries.length > 0) break;
        const next_segment = (this.segments.startOf(byte_offset) + this.segment_bytes) / entry_bytes;
        return { status: 'offset_too_small', entries: [], next_queue_offset: Math.min(next_segment, window.max_offset) };
      }
      const source = segment.buffer;
      const segment_end = Math.min(scan_end, segment.end_offset / entry_bytes);
      for (let position = byte_offset - segment.start_offset; queue_offset < segment_end; position += entry_bytes, queue_offset++) {
        const size = entrySize(source, position);
        if (size === 0) {
          throw new MqError('INTERNAL', `ConsumeQueue ${this.dir}: queue offset ${queue_offset} is below the published end ${window.max_offset} but holds no entry: the queue file was damaged; stop the broker and delete the whole consumequeue directory: every queue is rebuilt from the CommitLog at the next start`);
        }
        const tag_hash = entryTagHash(source, position);
        if (!tagFilterAccepts(filter, tag_hash)) continue;
        if (entries.length > 0 && bytes + size > bytes_max) return { status: 'found', entries, next_queue_offset: queue_offset };
        entries.push({ queue_offset, commit_log_offset: entryCommitLogOffset(source, position), size, tag_hash });
        bytes += size;
        if (entries.length === count_max) {
          queue_offset++;
          break;
        }
      }
    }
    return { status: entries.length > 0 ? 'found' : 'no_matched_message', entries, next_queue_offset: queue_offset };
  }

  /**
   * The first queue offset in [from_queue_offset, window end) whose entry points at or past
   * `commit_log_offset`, found by binary search: entries are in CommitLog order. Where
   * retention deleted CommitLog records but not yet their ConsumeQueue segment (it goes by
   * whole segments of 300,000 entries), a consumer is moved to the first message still kept
   * in one step, not a batch at a time. An entry whose segment is gone counts as before.
   */
  firstAtOrAfter(commit_log_offset: number, from_queue_offset: number, window: ConsumeQueueWindow): number {
    let low = Math.max(from_queue_offset, window.min_offset);
    let high = window.max_offset;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      const byte_offset = middle * entry_bytes;
      const segment = this.segments.find(byte_offset);
      const points_at = segment === undefined ? -1 : entryCommitLogOffset(segment.buffer, byte_offset - segment.start_offset);
      if (points_at >= commit_log_offset) high = middle;
      else low = middle + 1;
    }
    return low;
  }

  /**
   * The end of the window's entries whose records end at or before `commit_log_end`: the
   * window's own end when its last entry does (one entry read, the usual case), else found by
   * binary search (entries are in CommitLog order). An entry whose segment retention deleted
   * counts as within.
   */
  visibleEnd(commit_log_end: number, window: ConsumeQueueWindow): number {
    if (window.max_offset <= window.min_offset || this.recordEndOf(window.max_offset - 1) <= commit_log_end) return window.max_offset;
    let low = window.min_offset;
    let high = window.max_offset - 1;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      if (this.recordEndOf(middle) <= commit_log_end) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  close(): void {
    this.segments.close();
  }

  /** Where the record of entry `queue_offset` ends in the CommitLog; -1 when its segment is gone. */
  private recordEndOf(queue_offset: number): number {
    const byte_offset = queue_offset * entry_bytes;
    const segment = this.segments.find(byte_offset);
    if (segment === undefined) return -1;
    const position = byte_offset - segment.start_offset;
    return entryCommitLogOffset(segment.buffer, position) + entrySize(segment.buffer, position);
  }

  /** Drops every mapping when the window's min has moved past the lowest one this reader may
   *  hold; the few segments still needed are mapped again on use. */
  private releaseBelow(min_queue_offset: number): void {
    const min_start = this.segments.startOf(min_queue_offset * entry_bytes);
    if (min_start <= this.mapped_from) return;
    this.segments.close();
    this.segments = new SegmentSet(this.dir, this.segment_bytes, 'read-only');
    this.mapped_from = min_start;
  }
}
