import { checkRecord, RecordView } from './record.js';
import type { SegmentSet } from './segment_set.js';

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
 * the rest of that segment is zeroed — so that stale bytes can never pass for a record once
 * new records are written over the cut — and later segments are deleted.
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
    if (segment !== undefined) segment.buffer.fill(0, offset - segment.start_offset);
    segments.removeAfter(offset);
  }
  return { end_offset: offset, records_scanned, damage };
}
