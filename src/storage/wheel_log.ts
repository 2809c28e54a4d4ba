import { closeSync, constants, fdatasyncSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { assert } from '../runtime/assert.js';
import { readU64, writeU64 } from './record.js';
import { parseSegmentFileName, segmentFileName } from './storage_paths.js';

/**
 * The timing wheel's own log: one fixed entry per scheduled message, in the order the
 * schedule topic's ConsumeQueue holds them, so entry index N is that queue's offset N. The
 * log is what a restart rebuilds the wheel from; the records themselves stay in the CommitLog.
 *
 * Entry (24 bytes, little-endian, u64 as two u32 halves like record.ts):
 *
 *   0                        8                         16         20         24
 *   +------------------------+-------------------------+----------+----------+
 *   | deliver at, ms (u64)   | CommitLog offset (u64)  | size u32 | crc32    |
 *   +------------------------+-------------------------+----------+----------+
 *
 *   crc32 covers bytes 0..20: a torn or zeroed tail entry is told from a real one.
 *
 * Segments hold `entries_per_segment` entries each and are named by their first index (20
 * digits). A segment whose every entry was delivered is deleted whole by the owner, so the
 * log's size follows the scheduled messages, not the history.
 *
 * Owned by the timing wheel actor's thread; not shared.
 */
export const wheel_log_entry_bytes = 24;
const crc_covered_bytes = 20;

export const wheel_log_limits = {
  /** 24 MiB segments. */
  entries_per_segment_default: 1 << 20,
} as const;

export interface WheelLogEntryVisitor {
  (index: number, deliver_at_ms: number, commit_log_offset: number, size: number): void;
}

export class WheelLog {
  private fd: number | undefined;
  private fd_segment = -1;
  private fd_dirty = false;
  /** Segments rolled away from since the last sync: synced, then closed, by the next sync. */
  private retired: number[] = [];
  private next = 0;
  private first = 0;
  private pending = Buffer.allocUnsafe(64 * wheel_log_entry_bytes);
  private pending_count = 0;

  constructor(
    readonly dir: string,
    readonly entries_per_segment: number = wheel_log_limits.entries_per_segment_default,
  ) {
    assert(Number.isInteger(entries_per_segment) && entries_per_segment > 0, `wheel log: entries per segment ${entries_per_segment}`);
  }

  /** Index of the next entry appended (= the schedule queue offset read next). */
  get next_index(): number {
    return this.next + this.pending_count;
  }

  /** The oldest entry still on disk. */
  get first_index(): number {
    return this.first;
  }

  /**
   * Reads every entry on disk, oldest first. The log ends at the first entry that is zero or
   * fails its CRC (a torn write): the file is cut there so that appends continue from it.
   */
  load(visit: WheelLogEntryVisitor): void {
    mkdirSync(this.dir, { recursive: true });
    const starts = this.segmentStarts();
    this.first = starts[0] ?? 0;
    this.next = this.first;
    for (const start of starts) {
      if (start !== this.next) break; // a gap: nothing after it can be trusted to follow on
      const file = path.join(this.dir, segmentFileName(start));
      const fd = openSync(file, 'r+');
      try {
        const bytes = Buffer.allocUnsafe(fstatSync(fd).size);
        readSync(fd, bytes, 0, bytes.length, 0);
        let count = 0;
        while ((count + 1) * wheel_log_entry_bytes <= bytes.length && count < this.entries_per_segment) {
          const at = count * wheel_log_entry_bytes;
          if (bytes.readUInt32LE(at + crc_covered_bytes) !== crc32(bytes.subarray(at, at + crc_covered_bytes)) >>> 0 || bytes.readUInt32LE(at + 16) === 0) break;
          visit(start + count, readU64(bytes, at), readU64(bytes, at + 8), bytes.readUInt32LE(at + 16));
          count++;
        }
        if (count * wheel_log_entry_bytes !== bytes.length) ftruncateSync(fd, count * wheel_log_entry_bytes);
        this.next = start + count;
        if (count < this.entries_per_segment) break;
      } finally {
        closeSync(fd);
      }
    }
    // Segments after a torn one hold nothing that follows on: remove them.
    for (const start of starts) if (start > this.next) rmSync(path.join(this.dir, segmentFileName(start)), { force: true });
  }

  /** Buffers one entry; `write()` puts the buffered ones in the file. */
  append(deliver_at_ms: number, commit_log_offset: number, size: number): number {
    assert(size > 0, 'wheel log: an entry has a size');
    if ((this.pending_count + 1) * wheel_log_entry_bytes > this.pending.length) {
      const larger = Buffer.allocUnsafe(this.pending.length * 2);
      this.pending.copy(larger, 0, 0, this.pending_count * wheel_log_entry_bytes);
      this.pending = larger;
    }
    const at = this.pending_count * wheel_log_entry_bytes;
    writeU64(this.pending, at, deliver_at_ms);
    writeU64(this.pending, at + 8, commit_log_offset);
    this.pending.writeUInt32LE(size, at + 16);
    this.pending.writeUInt32LE(crc32(this.pending.subarray(at, at + crc_covered_bytes)) >>> 0, at + crc_covered_bytes);
    return this.next + this.pending_count++;
  }

  /** Writes the buffered entries (into the page cache: `sync()` makes them durable). */
  write(): void {
    let written = 0;
    while (written < this.pending_count) {
      const segment = this.segmentOf(this.next);
      const fd = this.segmentFd(segment);
      const room = segment + this.entries_per_segment - this.next;
      const count = Math.min(room, this.pending_count - written);
      const from = written * wheel_log_entry_bytes;
      writeSync(fd, this.pending, from, count * wheel_log_entry_bytes, (this.next - segment) * wheel_log_entry_bytes);
      this.next += count;
      written += count;
    }
    this.pending_count = 0;
  }

  /** Makes every written entry durable. */
  sync(): void {
    for (const fd of this.retired) {
      fdatasyncSync(fd);
      closeSync(fd);
    }
    this.retired = [];
    if (this.fd !== undefined && this.fd_dirty) fdatasyncSync(this.fd);
    this.fd_dirty = false;
  }

  /** The first index of the segment holding `index`. */
  segmentOf(index: number): number {
    return index - (index % this.entries_per_segment);
  }

  /** Deletes a whole segment (never the one being written). */
  removeSegment(start: number): void {
    assert(start !== this.segmentOf(this.next), 'wheel log: the segment being written is not removed');
    rmSync(path.join(this.dir, segmentFileName(start)), { force: true });
    if (start === this.first) this.first = Math.min(...this.segmentStarts(), this.segmentOf(this.next));
  }

  /**
   * Drops the entries from `index` on (a stopped wheel's log, after its broker's CommitLog
   * was cut and with it the schedule queue, to `index` entries): they name records the cut
   * removed, and the wheel must read the queue's new entries from `index`. The segment that
   * holds `index` stays, cut there (empty when `index` starts it), so the log ends exactly
   * at `index`. A log whose oldest entry is past `index` keeps nothing and starts at its
   * first segment (the entries before it were all delivered). Returns how many were dropped.
   */
  cutTo(index: number): number {
    mkdirSync(this.dir, { recursive: true });
    this.load(() => undefined);
    const dropped = Math.max(0, this.next - Math.max(index, this.first));
    if (dropped === 0) return 0;
    const keep_segment = Math.max(this.segmentOf(index), this.first);
    for (const start of this.segmentStarts()) if (start > keep_segment) rmSync(path.join(this.dir, segmentFileName(start)), { force: true });
    const fd = openSync(path.join(this.dir, segmentFileName(keep_segment)), constants.O_RDWR | constants.O_CREAT, 0o644);
    try {
      ftruncateSync(fd, Math.max(0, index - keep_segment) * wheel_log_entry_bytes);
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.next = Math.max(index, keep_segment);
    return dropped;
  }

  close(): void {
    this.write();
    this.sync();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private segmentFd(segment: number): number {
    if (this.fd === undefined || this.fd_segment !== segment) {
      if (this.fd !== undefined) {
        if (this.fd_dirty) this.retired.push(this.fd);
        else closeSync(this.fd);
      }
      mkdirSync(this.dir, { recursive: true });
      // Positioned writes (not O_APPEND): an entry goes where its index says.
      this.fd = openSync(path.join(this.dir, segmentFileName(segment)), constants.O_RDWR | constants.O_CREAT, 0o644);
      this.fd_segment = segment;
    }
    this.fd_dirty = true;
    return this.fd;
  }

  private segmentStarts(): number[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    return names.map(parseSegmentFileName).filter((start): start is number => start !== undefined).sort((a, b) => a - b);
  }
}
