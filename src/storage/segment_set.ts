import fs from 'node:fs';
import path from 'node:path';
import { assert } from '../runtime/assert.js';
import { MqError } from '../runtime/errors.js';
import { MappedFile, type MapMode } from './mapped_file.js';
import { parseSegmentFileName, segmentFileName } from './storage_paths.js';

interface RetiredSegment {
  segment: MappedFile;
  retired_ms: number;
}

/**
 * The segments of one log (the CommitLog, or one ConsumeQueue): fixed-size files named by
 * their start offset, back to back, each start a multiple of the segment size. Because of
 * that rule, the segment holding an offset is found by arithmetic, and a reader on another
 * thread can map a segment it has not seen yet by name alone. A log may spread over several
 * directories (the CommitLog over several disks): segment n lives in directory n mod count,
 * so its path is arithmetic too.
 *
 * Ownership: a read-write set belongs to the log's one writer; read-only sets to readers,
 * one per reader thread (each maps the files itself).
 */
export class SegmentSet {
  private readonly segments = new Map<number, MappedFile>();
  /** Segments retention removed (unlinked) whose disk blocks are not given back yet, oldest first. */
  private readonly retired: RetiredSegment[] = [];
  private first_start: number | undefined;
  private last_start: number | undefined;
  readonly dirs: readonly string[];

  constructor(
    dirs: string | readonly string[],
    readonly segment_bytes: number,
    readonly mode: MapMode,
  ) {
    this.dirs = typeof dirs === 'string' ? [dirs] : [...dirs];
    assert(this.dirs.length >= 1, 'a segment set needs a directory');
  }

  /** The first directory (the only one of a log that does not spread). */
  get dir(): string {
    return this.dirs[0] as string;
  }

  /** Maps the existing segments (read-write) or checks the directories (read-only, lazy). */
  load(): this {
    const starts: number[] = [];
    for (const dir of this.dirs) {
      fs.mkdirSync(dir, { recursive: true });
      for (const name of fs.readdirSync(dir)) {
        const start = parseSegmentFileName(name);
        if (start === undefined) continue;
        if (path.join(dir, name) !== this.pathOf(start)) {
          throw new MqError('INTERNAL', `segment ${path.join(dir, name)} belongs in ${path.dirname(this.pathOf(start))}: the data directories were given in another order, or changed, since it was written`);
        }
        if (!this.isUnsizedLeftover(start)) starts.push(start);
      }
    }
    starts.sort((a, b) => a - b);
    for (const [index, start] of starts.entries()) {
      if (start % this.segment_bytes !== 0) {
        throw new MqError('INTERNAL', `segment ${this.pathOf(start)} does not start at a multiple of the segment size ${this.segment_bytes}: wrong configuration for this data dir`);
      }
      const previous = starts[index - 1];
      if (previous !== undefined && start !== previous + this.segment_bytes) {
        throw new MqError('INTERNAL', `segments of ${this.dirs.join(', ')} have a gap between ${previous} and ${start}: files are missing`);
      }
    }
    this.first_start = starts[0];
    this.last_start = starts[starts.length - 1];
    if (this.mode === 'read-write') for (const start of starts) this.segments.set(start, this.openSegment(start));
    return this;
  }

  get empty(): boolean {
    return this.first_start === undefined;
  }

  /** Offset where the oldest kept segment starts (0 when empty). */
  get min_offset(): number {
    return this.first_start ?? 0;
  }

  get last(): MappedFile | undefined {
    return this.last_start === undefined ? undefined : this.get(this.last_start);
  }

  startOf(offset: number): number {
    return offset - (offset % this.segment_bytes);
  }

  /** The segment holding `offset`, or undefined if none was written there (or it was deleted). */
  find(offset: number): MappedFile | undefined {
    const start = this.startOf(offset);
    const known = this.segments.get(start);
    if (known !== undefined) return known;
    if (this.mode === 'read-write') return undefined;
    // A reader maps segments on first use; the writer may have created it after our load.
    const file = this.pathOf(start);
    if (!fs.existsSync(file)) return undefined;
    const segment = this.openSegment(start);
    this.segments.set(start, segment);
    return segment;
  }

  /** Adds the segment that starts where the last one ends (the writer only). */
  addNext(segment: MappedFile): void {
    assert(this.mode === 'read-write', 'only the writer adds segments');
    const expected = this.last_start === undefined ? segment.start_offset : this.last_start + this.segment_bytes;
    assert(segment.start_offset === expected && segment.size_bytes === this.segment_bytes, `segment ${segment.path} is not the next one (${expected})`);
    this.segments.set(segment.start_offset, segment);
    this.first_start ??= segment.start_offset;
    this.last_start = segment.start_offset;
  }

  /** Creates the next segment here, synchronously (used when none was prepared ahead). */
  createNext(start_offset: number): MappedFile {
    const segment = MappedFile.create(this.pathOf(start_offset), start_offset, this.segment_bytes);
    this.addNext(segment);
    return segment;
  }

  pathOf(start_offset: number): string {
    const index = Math.floor(start_offset / this.segment_bytes) % this.dirs.length;
    return path.join(this.dirs[index] as string, segmentFileName(start_offset));
  }

  /** Removes every segment that starts after the one holding `offset` (recovery's cut). */
  removeAfter(offset: number): number {
    assert(this.mode === 'read-write', 'only the writer truncates');
    const keep_last = this.startOf(offset);
    let removed = 0;
    for (const [start, segment] of [...this.segments]) {
      if (start <= keep_last) continue;
      segment.destroy();
      this.segments.delete(start);
      removed++;
    }
    if (this.last_start !== undefined && this.last_start > keep_last) this.last_start = this.segments.has(keep_last) ? keep_last : undefined;
    if (this.last_start === undefined) this.first_start = undefined;
    return removed;
  }

  /**
   * Retention in two steps, for a log read on other threads while it is deleted (the
   * CommitLog): takes whole segments that end at or before `offset` out of the set and
   * unlinks them, keeping the last one, as removeBefore does, but keeps them mapped until
   * `releaseRetired` gives their blocks back. In between, the new min offset is published and
   * every reader that had checked the old one finishes its read: releasing zeroes the pages
   * under every mapping. Returns the new min offset.
   */
  retireBefore(offset: number, now_ms: number): number {
    while (this.first_start !== undefined && this.first_start !== this.last_start && this.first_start + this.segment_bytes <= offset) {
      const start = this.first_start;
      const segment = this.segments.get(start);
      if (segment === undefined) fs.rmSync(this.pathOf(start), { force: true });
      else {
        segment.unlink();
        this.retired.push({ segment, retired_ms: now_ms });
      }
      this.segments.delete(start);
      this.first_start = start + this.segment_bytes;
    }
    return this.min_offset;
  }

  /**
   * Gives back the disk blocks of the retired segments (MappedFile.releaseBlocks) that were
   * retired at least `grace_ms` ago and end at or below `floor_offset` (below it nothing may
   * still read them: e.g. the HA stream's queued bytes), and closes them; the others wait for
   * a later call. Oldest first, so a segment waits only on those before it.
   */
  releaseRetired(now_ms: number, grace_ms: number, floor_offset: number): { released: number; waiting: number } {
    let released = 0;
    while (this.retired.length > 0) {
      const oldest = this.retired[0] as RetiredSegment;
      if (now_ms - oldest.retired_ms < grace_ms || oldest.segment.end_offset > floor_offset) break;
      this.retired.shift();
      if (oldest.segment.releaseBlocks()) released++;
      oldest.segment.close();
    }
    return { released, waiting: this.retired.length };
  }

  /** Deletes whole segments that end at or before `offset` (retention), oldest first, keeping
   *  at least the last segment. Returns the new min offset. */
  removeBefore(offset: number): number {
    while (this.first_start !== undefined && this.first_start !== this.last_start && this.first_start + this.segment_bytes <= offset) {
      const start = this.first_start;
      const segment = this.segments.get(start);
      if (segment !== undefined) segment.destroy();
      else fs.rmSync(this.pathOf(start), { force: true });
      this.segments.delete(start);
      this.first_start = start + this.segment_bytes;
    }
    return this.min_offset;
  }

  /**
   * A reader's side of retention: drops its mappings of segments that end at or before
   * `offset` (deleted, or about to be, by the writer). The binding unmaps a segment when its
   * Buffer is collected; until then a deleted file's disk blocks stay allocated, so a reader
   * that kept old mappings would keep the disk full.
   */
  forgetBefore(offset: number): void {
    for (const [start, segment] of this.segments) {
      if (start + this.segment_bytes > offset) continue;
      segment.close();
      this.segments.delete(start);
    }
    if (this.first_start !== undefined && this.first_start < this.startOf(offset)) this.first_start = this.startOf(offset);
  }

  /** Segments whose start is in [from, to). */
  range(from_offset: number, to_offset: number): MappedFile[] {
    const result: MappedFile[] = [];
    for (let start = this.startOf(from_offset); start < to_offset; start += this.segment_bytes) {
      const segment = this.find(start);
      if (segment !== undefined) result.push(segment);
    }
    return result;
  }

  close(): void {
    for (const segment of this.segments.values()) segment.close();
    this.segments.clear();
    for (const { segment } of this.retired.splice(0)) segment.close();
  }

  private get(start: number): MappedFile | undefined {
    return this.segments.get(start) ?? this.find(start);
  }

  /**
   * A 0-byte segment file is what a process killed between creating a segment and sizing it
   * leaves behind: it holds no data. The writer removes it (it will create it again when it
   * needs it); a reader ignores it.
   */
  private isUnsizedLeftover(start: number): boolean {
    const file = this.pathOf(start);
    if (fs.statSync(file).size !== 0) return false;
    if (this.mode === 'read-write') fs.rmSync(file, { force: true });
    return true;
  }

  private openSegment(start: number): MappedFile {
    return MappedFile.open(this.pathOf(start), start, this.segment_bytes, this.mode);
  }
}
