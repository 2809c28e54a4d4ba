import { MqError } from '../runtime/errors.js';
import { checkRecord, RecordView } from './record.js';
import type { SegmentSet } from './segment_set.js';

/**
 * Reads records straight from the mapped CommitLog on the reader's own thread: no copy
 * through the writer, no message to it. `readable_offset` (from the writer's published
 * positions) bounds what may be read: bytes past it may be half-written.
 *
 * Ownership: one per reader thread, over a read-only SegmentSet of that thread.
 */
export class CommitLogReader {
  constructor(private readonly segments: SegmentSet) {}

  /** Drops mappings below the log's min offset (see SegmentSet.forgetBefore). */
  forgetBefore(min_offset: number): void {
    this.segments.forgetBefore(min_offset);
  }

  /**
   * The record that starts at `offset`, checked (magic, size, own offset, CRC) before it is
   * handed out: nothing that fails its check is ever served.
   */
  read(offset: number, readable_offset: number): RecordView {
    if (offset < this.segments.min_offset || offset >= readable_offset) {
      throw new MqError('BAD_REQUEST', `CommitLog offset ${offset} is outside the readable range [${this.segments.min_offset}, ${readable_offset})`);
    }
    const segment = this.segments.find(offset);
    if (segment === undefined) throw new MqError('BAD_REQUEST', `no CommitLog segment holds offset ${offset} (deleted by retention?)`);
    const position = offset - segment.start_offset;
    const limit = Math.min(segment.size_bytes, readable_offset - segment.start_offset);
    const check = checkRecord(segment.buffer, position, limit, segment.start_offset);
    if (check.kind !== 'record') {
      throw new MqError('INTERNAL', `CommitLog offset ${offset} does not hold a valid record (${check.kind === 'corrupt' ? check.reason : check.kind})`);
    }
    return new RecordView(segment.buffer, position);
  }

  /** Walks records from `from_offset` up to `to_offset`, skipping segment-end blanks. The
   *  views are valid during the call only. Returns the offset after the last one visited.
   *  `verify_crc: false` skips the CRC (structure is still checked) for callers that follow
   *  bytes this process wrote; what is served to clients is always CRC-checked. */
  scan(from_offset: number, to_offset: number, visit: (record: RecordView, offset: number) => boolean | void, options: { verify_crc: boolean } = { verify_crc: true }): number {
    let offset = from_offset;
    while (offset < to_offset) {
      const segment = this.segments.find(offset);
      if (segment === undefined) break;
      const position = offset - segment.start_offset;
      const check = checkRecord(segment.buffer, position, Math.min(segment.size_bytes, to_offset - segment.start_offset), segment.start_offset, options.verify_crc);
      if (check.kind === 'blank') {
        offset = segment.end_offset;
        continue;
      }
      if (check.kind !== 'record') throw new MqError('INTERNAL', `CommitLog scan stopped at ${offset}: ${check.kind === 'corrupt' ? check.reason : 'end of data'}`);
      if (visit(new RecordView(segment.buffer, position), offset) === false) return offset;
      offset += check.size;
    }
    return offset;
  }
}
