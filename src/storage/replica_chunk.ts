import { MqError } from '../runtime/errors.js';
import { blank_magic, checkRecord, imageQueue, readU64, record_field } from './record.js';

/**
 * A chunk of the master's CommitLog as a slave receives it: the bytes of
 * [start_offset, start_offset + length) of one segment, cut at record boundaries —
 *
 *   start_offset                                                     segment end
 *   | record | record | ... | record |                                    |
 *   | record | ... | record | blank (size = rest of segment) ...........|   (a chunk that ends the segment)
 *
 * The slave checks every record before writing any (size, magic, its own offset, CRC), as
 * style rule 5 asks of every boundary: a chunk damaged on the way or cut wrong by a bug
 * must not become part of the log.
 */
export interface ReplicaRecord {
  topic: string;
  queue_id: number;
  queue_offset: number;
}

export interface CheckedReplicaChunk {
  records: ReplicaRecord[];
  /** Whether the chunk ends with the blank that fills the rest of its segment. */
  ends_segment: boolean;
}

/** Checks `bytes`, to be written at `start_offset` of a segment that ends at `segment_end`. */
export function checkReplicaChunk(bytes: Buffer, start_offset: number, segment_end: number): CheckedReplicaChunk {
  if (start_offset + bytes.length > segment_end) {
    throw new MqError('BAD_REQUEST', `a replica chunk of ${bytes.length} bytes at ${start_offset} crosses the segment end ${segment_end}`);
  }
  const records: ReplicaRecord[] = [];
  let position = 0;
  while (position < bytes.length) {
    // Limit = the chunk: a record must end inside it. A blank must reach the segment end,
    // which the chunk must then also reach (checkRecord checks the blank against bytes.length).
    const check = checkRecord(bytes, position, bytes.length, start_offset);
    if (check.kind === 'blank') {
      if (start_offset + bytes.length !== segment_end) {
        throw new MqError('BAD_REQUEST', `a replica chunk ends with a blank at ${start_offset + position} but stops before the segment end ${segment_end}`);
      }
      return { records, ends_segment: true };
    }
    if (check.kind !== 'record') {
      const reason = check.kind === 'corrupt' ? check.reason : 'zeros where a record was expected';
      throw new MqError('BAD_REQUEST', `replica chunk at ${start_offset}, ${bytes.length} bytes: ${reason}`);
    }
    const { topic, queue_id } = imageQueue(bytes, position);
    records.push({ topic, queue_id, queue_offset: readU64(bytes, position + record_field.queue_offset) });
    position += check.size;
  }
  return { records, ends_segment: false };
}

/**
 * The master's side: where the next chunk from `from_offset` ends, in `segment` (the mapped
 * segment holding it): whole records up to `readable_offset` (the write offset: everything
 * below it is whole) and about `bytes_max` — at least one record, so a record larger than
 * `bytes_max` still goes — and the blank that ends the segment once the writer has passed it.
 * Returns `from_offset` when nothing is ready.
 */
export function replicaChunkEnd(segment: Buffer, segment_start: number, from_offset: number, readable_offset: number, bytes_max: number): number {
  const segment_end = segment_start + segment.length;
  const limit = Math.min(readable_offset, segment_end) - segment_start;
  const first = from_offset - segment_start;
  let position = first;
  while (position < limit) {
    const size = segment.readUInt32LE(position);
    if (segment.readUInt32LE(position + 4) === blank_magic) {
      // The blank is written before the write offset moves past it into the next segment.
      return readable_offset >= segment_end ? segment_end : segment_start + position;
    }
    if (size === 0 || position + size > limit) break;
    if (position > first && position + size - first > bytes_max) break;
    position += size;
  }
  return segment_start + position;
}
