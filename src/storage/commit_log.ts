import type { Clock } from '../runtime/clock.js';
import { MqError } from '../runtime/errors.js';
import type { MappedFile } from './mapped_file.js';
import { assert } from '../runtime/assert.js';
import { blank_bytes_min, imageQueue, placeRecordImage, record_header_bytes, record_magic, recordSize, topic_bytes_max, writeBlank, writeRecord, type HostAddress, type RecordInput } from './record.js';
import { checkReplicaChunk } from './replica_chunk.js';
import type { SegmentSet } from './segment_set.js';

/** Where one appended record went. */
export interface AppendedRecord {
  physical_offset: number;
  size: number;
  queue_offset: number;
  store_timestamp: number;
}

/** Hands the writer the next segment: one prepared ahead (pre-allocated and warmed) when
 *  there is one, else created on the spot. */
export interface SegmentSource {
  next(start_offset: number): MappedFile;
}

export interface CommitLogState {
  /** Where the next record goes (the end of the last whole record). */
  write_offset: number;
  /** Next queue offset of every topic/queue seen, keyed by queueKey(). */
  queue_offsets: Map<string, number>;
}

export function queueKey(topic: string, queue_id: number): string {
  return `${topic}\u0000${queue_id}`;
}

/**
 * The CommitLog's write side: one log for all topics, append-only, in fixed-size segments.
 * It assigns each record its physical offset and its queue offset (it owns the table of
 * next queue offsets), and never lets a record straddle two segments.
 *
 * Ownership: exactly one instance per data dir, owned by the CommitLog writer actor's thread.
 * Readers on other threads use CommitLogReader over their own mappings; they learn how far
 * they may read from the positions this writer publishes (not from this object).
 */
export class CommitLog {
  private write_offset: number;
  private readonly queue_offsets: Map<string, number>;
  private readonly topic_bytes = new Map<string, Buffer>();
  private current: MappedFile | undefined;
  readonly record_bytes_max: number;

  constructor(
    private readonly segments: SegmentSet,
    state: CommitLogState,
    private readonly store_host: HostAddress,
    private readonly clock: Clock,
    private readonly source: SegmentSource = { next: (start) => segments.createNext(start) },
  ) {
    this.write_offset = state.write_offset;
    this.queue_offsets = state.queue_offsets;
    this.record_bytes_max = segments.segment_bytes - blank_bytes_min;
    this.current = segments.find(this.write_offset);
  }

  get offset(): number {
    return this.write_offset;
  }

  get min_offset(): number {
    return this.segments.min_offset;
  }

  nextQueueOffset(topic: string, queue_id: number): number {
    return this.queue_offsets.get(queueKey(topic, queue_id)) ?? 0;
  }

  /**
   * Appends a batch, in order, as one write: records land back to back (rolling to a new
   * segment where one does not fit). Fills `results` (index for index). Checks every record
   * before writing any, so a batch with a bad record writes nothing.
   */
  appendBatch(inputs: readonly RecordInput[], results: AppendedRecord[] = []): AppendedRecord[] {
    const topics: Buffer[] = [];
    for (const input of inputs) topics.push(this.checkedTopicBytes(input));
    const store_timestamp = this.clock.nowMs();
    for (let index = 0; index < inputs.length; index++) {
      const input = inputs[index] as RecordInput;
      const topic = topics[index] as Buffer;
      const size = recordSize(topic.length, input.body.length, input.properties.length);
      const segment = this.segmentWithRoom(size);
      const key = queueKey(input.topic, input.queue_id);
      const queue_offset = this.queue_offsets.get(key) ?? 0;
      const physical_offset = this.write_offset;
      writeRecord(segment.buffer, physical_offset - segment.start_offset, input, topic, { queue_offset, physical_offset, store_timestamp, store_host: this.store_host });
      this.queue_offsets.set(key, queue_offset + 1);
      this.write_offset += size;
      results[index] = { physical_offset, size, queue_offset, store_timestamp };
    }
    return results;
  }

  /**
   * Appends a batch of record images (record.ts: encoded by the caller with placeholders for
   * what the writer assigns), in order, as one write. Each image is copied into the segment
   * once and sealed there. Checks every image before writing any.
   */
  appendImages(images: Buffer, count: number, results: AppendedRecord[] = []): AppendedRecord[] {
    let position = 0;
    for (let index = 0; index < count; index++) {
      assert(position + record_header_bytes <= images.length, `record image ${index} of ${count} is cut off`);
      const size = images.readUInt32LE(position);
      assert(images.readUInt32LE(position + 4) === record_magic && position + size <= images.length, `record image ${index} is malformed`);
      if (size > this.record_bytes_max) {
        throw new MqError('MESSAGE_TOO_LARGE', `a record of ${size} bytes does not fit a CommitLog segment of ${this.segments.segment_bytes} bytes; send smaller messages or raise the segment size`);
      }
      position += size;
    }
    assert(position === images.length, `record images hold ${images.length - position} bytes past ${count} records`);
    const store_timestamp = this.clock.nowMs();
    position = 0;
    for (let index = 0; index < count; index++) {
      const size = images.readUInt32LE(position);
      const { topic, queue_id } = imageQueue(images, position);
      const segment = this.segmentWithRoom(size);
      const key = queueKey(topic, queue_id);
      const queue_offset = this.queue_offsets.get(key) ?? 0;
      const physical_offset = this.write_offset;
      placeRecordImage(segment.buffer, physical_offset - segment.start_offset, images, position, size, { queue_offset, physical_offset, store_timestamp, store_host: this.store_host });
      this.queue_offsets.set(key, queue_offset + 1);
      this.write_offset += size;
      results[index] = { physical_offset, size, queue_offset, store_timestamp };
      position += size;
    }
    return results;
  }

  /**
   * Appends a chunk of the master's CommitLog at `start_offset`, which must be this log's
   * write offset (a slave's log is a byte-for-byte copy of its master's, at the same
   * offsets): checked whole first (replica_chunk.ts), then copied into the segment once.
   * The records keep the master's offsets, queue offsets and timestamps; the queue-offset
   * table follows them, ready for the day this log is promoted. Returns the new write offset.
   */
  appendReplica(start_offset: number, bytes: Buffer): number {
    if (start_offset !== this.write_offset) {
      throw new MqError('BAD_REQUEST', `replica chunk at ${start_offset}, but this CommitLog ends at ${this.write_offset}; the replicator must resume from the end`);
    }
    if (bytes.length === 0) return this.write_offset;
    let segment = this.current;
    if (segment === undefined || segment.end_offset === this.write_offset) {
      segment = this.source.next(this.write_offset);
      assert(segment.start_offset === this.write_offset, `new segment starts at ${segment.start_offset}, expected ${this.write_offset}`);
      this.current = segment;
    }
    const checked = checkReplicaChunk(bytes, start_offset, segment.end_offset);
    bytes.copy(segment.buffer, start_offset - segment.start_offset);
    for (const record of checked.records) this.queue_offsets.set(queueKey(record.topic, record.queue_id), record.queue_offset + 1);
    this.write_offset = start_offset + bytes.length;
    return this.write_offset;
  }

  /** The segments holding bytes in [from, to), for flushing. */
  segmentsBetween(from_offset: number, to_offset: number): MappedFile[] {
    return this.segments.range(from_offset, to_offset);
  }

  close(): void {
    this.segments.close();
    this.current = undefined;
  }

  /** Returns the segment to write `size` bytes in at the write offset, rolling if needed. */
  private segmentWithRoom(size: number): MappedFile {
    let segment = this.current;
    if (segment !== undefined) {
      const room = segment.end_offset - this.write_offset;
      if (size + blank_bytes_min <= room) return segment;
      // Does not fit while leaving room for the end marker: blank the rest, roll.
      writeBlank(segment.buffer, this.write_offset - segment.start_offset, room);
      this.write_offset = segment.end_offset;
    }
    segment = this.source.next(this.write_offset);
    assert(segment.start_offset === this.write_offset, `new segment starts at ${segment.start_offset}, expected ${this.write_offset}`);
    this.current = segment;
    return segment;
  }

  private checkedTopicBytes(input: RecordInput): Buffer {
    let bytes = this.topic_bytes.get(input.topic);
    if (bytes === undefined) {
      bytes = Buffer.from(input.topic, 'latin1');
      if (bytes.length === 0 || bytes.length > topic_bytes_max) throw new MqError('BAD_REQUEST', `topic name must be 1..${topic_bytes_max} characters, got ${bytes.length}`);
      if (this.topic_bytes.size < 65_536) this.topic_bytes.set(input.topic, bytes);
    }
    const size = recordSize(bytes.length, input.body.length, input.properties.length);
    if (size > this.record_bytes_max) {
      throw new MqError('MESSAGE_TOO_LARGE', `a record of ${size} bytes does not fit a CommitLog segment of ${this.segments.segment_bytes} bytes; send smaller messages or raise the segment size`);
    }
    return bytes;
  }
}
