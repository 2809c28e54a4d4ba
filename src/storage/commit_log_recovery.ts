import { checkRecord, RecordView } from './record.js';
import type { SegmentSet } from './segment_set.js';

export const recovery_limits = {
  /**
   * After a cut, the bytes past the end are zeroed up to the first run of this many zero
   * bytes, not to the end of the segment: zeroing a whole 1 GiB segment dirtied 1 GiB of
   * pages (3.5 s here, then as much writeback) at every restart after a crash. Under a
   * process crash nothing is written past the last record but that record's own torn bytes
   * (a record is at most 16 MiB); under a power loss unflushed pages may be lost out of
   * order, and async flush runs at least every 16 MiB written (`flush_dirty_bytes`), so a
   * surviving stale page lies within 16 MiB of the cut. Twice that: reading 32 MiB of zeros
   * costs ~0.1 s.
   */
  stale_tail_zero_run_bytes: 32 << 20,
  /** The tail is checked, and zeroed where it is not zero, in pieces of this size. */
  stale_tail_chunk_bytes: 64 << 10,
} as const;

const zero_chunk = Buffer.alloc(recovery_limits.stale_tail_chunk_bytes);

export interface CommitLogRecovery {
  /** Where the log really ends: the next record goes here. */
  end_offset: number;
  records_scanned: number;
  /** Why the scan stopped where it did, when it found damage. */
  damage: string | undefined;
}

/**
 * Finds where the CommitLog ends, starting at `from_offset`, a record boundary the checkpoint
 * vouches for (everything before it was flushed and checked). Every record after it is
 * checked (magic, size, own offset, CRC); the scan stops at the first zeroed header (the end
 * of what was written) or the first damaged record, and cuts the log there:
 * what was written past the cut in that segment is zeroed (zeroStaleTail) — so that stale
 * bytes can never pass for a record once new records are written over the cut — and later
 * segments are deleted.
 *
 * `visit` sees each good record (to rebuild ConsumeQueues and the queue-offset table).
 * Runs on the writer's thread before the writer starts, over its read-write SegmentSet.
 */
export function recoverCommitLog(
  segments: SegmentSet,
  from_offset: number,
  options: { zero_after_end: boolean },
  visit: (record: RecordView, offset: number) => void = () => {},
): CommitLogRecovery {
  const last = segments.last;
  if (last === undefined) return { end_offset: Math.max(from_offset, 0), records_scanned: 0, damage: undefined };
  let offset = Math.min(Math.max(from_offset, segments.min_offset), last.end_offset);
  let records_scanned = 0;
  let damage: string | undefined;
  for (;;) {
    const segment = segments.find(offset);
    if (segment === undefined) break;
    const position = offset - segment.start_offset;
    const check = checkRecord(segment.buffer, position, segment.size_bytes, segment.start_offset);
    if (check.kind === 'record') {
      visit(new RecordView(segment.buffer, position), offset);
      records_scanned++;
      offset += check.size;
    } else if (check.kind === 'blank') {
      offset = segment.end_offset;
    } else {
      if (check.kind === 'corrupt') damage = check.reason;
      break;
    }
  }
  if (damage !== undefined || options.zero_after_end) {
    const segment = segments.find(offset);
    if (segment !== undefined) zeroStaleTail(segment.buffer, offset - segment.start_offset);
    segments.removeAfter(offset);
  }
  return { end_offset: offset, records_scanned, damage };
}

/**
 * Zeroes whatever is not zero in `buffer` from `from`, chunk by chunk, until
 * `stale_tail_zero_run_bytes` of zeros in a row (or the end): only chunks that hold stale
 * bytes are written, so a clean tail costs reads, not a segment's worth of dirty pages.
 */
export function zeroStaleTail(buffer: Buffer, from: number): void {
  const { stale_tail_zero_run_bytes, stale_tail_chunk_bytes } = recovery_limits;
  let zero_run_bytes = 0;
  let start = from;
  while (start < buffer.length && zero_run_bytes < stale_tail_zero_run_bytes) {
    // Chunks end on chunk boundaries, so that each is compared as one aligned piece.
    const end = Math.min(buffer.length, (Math.floor(start / stale_tail_chunk_bytes) + 1) * stale_tail_chunk_bytes);
    const chunk = buffer.subarray(start, end);
    if (chunk.equals(zero_chunk.subarray(0, chunk.length))) {
      zero_run_bytes += chunk.length;
    } else {
      chunk.fill(0);
      zero_run_bytes = 0;
    }
    start = end;
  }
}
