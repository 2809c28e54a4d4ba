import { crc32 } from 'node:zlib';
import { assert } from '../runtime/assert.js';

/**
 * The CommitLog record: a fixed header, then body, topic and properties. Little-endian.
 * 64-bit fields are written as two u32 halves (low first) and read back as safe integers.
 *
 *   0        4        8        12       16       20                28                36
 *   +--------+--------+--------+--------+--------+-----------------+-----------------+--------+
 *   | total  | magic  | record | queue  | flags  | queue offset    | physical offset | sys    |
 *   | size   |        | crc    | id     |        | (u64)           | (u64)           | flags  |
 *   +--------+--------+--------+--------+--------+-----------------+-----------------+--------+
 *   40                48                56                64                72       76
 *   +-----------------+-----------------+-----------------+-----------------+--------+
 *   | born timestamp  | born host       | store timestamp | store host      | recon- |
 *   | ms (u64)        | ipv4 u32, port  | ms (u64)        | ipv4 u32, port  | sume   |
 *   +-----------------+-----------------+-----------------+-----------------+--------+
 *   76                84                92       96
 *   +-----------------+-----------------+--------+---------------+------+-------+------+------------+
 *   | prepared tx     | tag hash (u64)  | body   | body          | topic| topic | props| properties |
 *   | offset (u64)    |                 | size   | (body size)   | size | bytes | size |            |
 *   +-----------------+-----------------+--------+---------------+------+-------+------+------------+
 *                                                                  u8            u16
 *
 * - total size counts the whole record; magic tells a message from the end-of-segment blank.
 * - record crc is the CRC32 of bytes [12, total size): unlike RocketMQ's body-only CRC it
 *   also covers the header fields the writer fills in, the topic and the properties, so a
 *   torn or damaged tail is caught wherever it is, for the same cost (the body dominates).
 * - physical offset repeats the record's own position: recovery checks it, which catches a
 *   stale record left in a reused page.
 * - tag hash is stored so that dispatch need not parse properties (delayed messages will use
 *   it for their delivery time, as RocketMQ's tags code does).
 *
 * Blank (end of segment): a record never straddles two segments. When the next record does
 * not fit while leaving `blank_bytes_min` for this marker, the rest of the segment becomes
 *
 *   +-----------------+--------------+------------------------------+
 *   | size = rest (u32)| magic blank |  (zeros up to the segment end) |
 *   +-----------------+--------------+------------------------------+
 */
export const record_magic = 0xdaa320a7;
export const blank_magic = 0xcbd43194;
export const blank_bytes_min = 8;
export const record_header_bytes = 96;
/** A user topic has up to 127 characters; a group's retry topic `%RETRY%<group>` up to 134. */
export const topic_bytes_max = 134;
export const properties_bytes_max = 32 * 1024;
const crc_start = 12;

export const record_field = {
  total_size: 0,
  magic: 4,
  record_crc: 8,
  queue_id: 12,
  flags: 16,
  queue_offset: 20,
  physical_offset: 28,
  sys_flags: 36,
  born_timestamp: 40,
  born_host: 48,
  store_timestamp: 56,
  store_host: 64,
  reconsume_times: 72,
  prepared_transaction_offset: 76,
  tag_hash: 84,
  body_size: 92,
  body: 96,
} as const;

/** Bits of a record's sys flags. */
export const record_sys_flags = {
  /** Re-put by the timing wheel from a scheduled copy (whose offset is in SCHEDULE_OFFSET):
   *  the wheel's restart scan reads the properties of these records only. */
  delivered_from_schedule: 0x100,
  /** A transaction's decision: a committed message or an operation-log record (TRAN_HALF_OFFSET
   *  names the half message); the transaction actor's restart scan reads these only. */
  transaction_decision: 0x200,
} as const;

/** What a producer's message brings to the writer (the writer adds offsets, store time, crc). */
export interface RecordInput {
  topic: string;
  queue_id: number;
  body: Uint8Array;
  /** Encoded properties (properties.ts); may be empty. */
  properties: Uint8Array;
  tag_hash: number;
  flags: number;
  sys_flags: number;
  born_timestamp: number;
  born_host: HostAddress;
  reconsume_times: number;
  prepared_transaction_offset: number;
}

/** IPv4 as a u32 and a port: 8 bytes in the record. */
export interface HostAddress {
  ipv4: number;
  port: number;
}

/** Fields the writer assigns. */
export interface RecordPlacement {
  queue_offset: number;
  physical_offset: number;
  store_timestamp: number;
  store_host: HostAddress;
}

export function recordSize(topic_bytes: number, body_bytes: number, properties_bytes: number): number {
  return record_header_bytes + body_bytes + 1 + topic_bytes + 2 + properties_bytes;
}

/**
 * Writes one record at `position` of `target` (a mapped segment) and returns its size.
 * The caller checked that it fits. `topic_bytes` is the topic's ASCII encoding (names are
 * restricted to [A-Za-z0-9_%|-]); passing it in lets a batch encode each topic once.
 * Copies: the body and properties bytes are copied once, into the segment.
 */
export function writeRecord(target: Buffer, position: number, input: RecordInput, topic_bytes: Buffer, placement: RecordPlacement, with_crc = true): number {
  assert(topic_bytes.length >= 1 && topic_bytes.length <= topic_bytes_max, 'topic size out of range');
  assert(input.properties.length <= properties_bytes_max, 'properties too large');
  const size = recordSize(topic_bytes.length, input.body.length, input.properties.length);
  const p = position;
  target.writeUInt32LE(size, p + record_field.total_size);
  target.writeUInt32LE(record_magic, p + record_field.magic);
  target.writeUInt32LE(input.queue_id, p + record_field.queue_id);
  target.writeUInt32LE(input.flags, p + record_field.flags);
  writeU64(target, p + record_field.queue_offset, placement.queue_offset);
  writeU64(target, p + record_field.physical_offset, placement.physical_offset);
  target.writeUInt32LE(input.sys_flags, p + record_field.sys_flags);
  writeU64(target, p + record_field.born_timestamp, input.born_timestamp);
  writeHost(target, p + record_field.born_host, input.born_host);
  writeU64(target, p + record_field.store_timestamp, placement.store_timestamp);
  writeHost(target, p + record_field.store_host, placement.store_host);
  target.writeUInt32LE(input.reconsume_times, p + record_field.reconsume_times);
  writeU64(target, p + record_field.prepared_transaction_offset, input.prepared_transaction_offset);
  writeU64(target, p + record_field.tag_hash, input.tag_hash);
  target.writeUInt32LE(input.body.length, p + record_field.body_size);
  let cursor = p + record_field.body;
  target.set(input.body, cursor);
  cursor += input.body.length;
  target[cursor++] = topic_bytes.length;
  topic_bytes.copy(target, cursor);
  cursor += topic_bytes.length;
  target.writeUInt16LE(input.properties.length, cursor);
  cursor += 2;
  target.set(input.properties, cursor);
  if (with_crc) sealRecord(target, p, size);
  return size;
}

/** Placement of an image not yet in the log: the writer fills these in (placeRecordImage). */
export const unplaced: RecordPlacement = { queue_offset: 0, physical_offset: 0, store_timestamp: 0, store_host: { ipv4: 0, port: 0 } };

/**
 * Record images: a caller on any thread encodes a batch with `writeRecord(..., unplaced,
 * false)` into one buffer; the writer copies each image into its segment as is (one memcpy)
 * and fills in only what it assigns, then seals it with the CRC. So the writer's thread does
 * no per-field encoding and allocates nothing per record.
 */
export function placeRecordImage(target: Buffer, position: number, image: Buffer, image_position: number, size: number, placement: RecordPlacement): void {
  image.copy(target, position, image_position, image_position + size);
  writeU64(target, position + record_field.queue_offset, placement.queue_offset);
  writeU64(target, position + record_field.physical_offset, placement.physical_offset);
  writeU64(target, position + record_field.store_timestamp, placement.store_timestamp);
  writeHost(target, position + record_field.store_host, placement.store_host);
  sealRecord(target, position, size);
}

/** Encodes a batch as record images, back to back in one buffer (the caller's thread). */
export function encodeRecordImages(inputs: readonly RecordInput[]): Buffer {
  const topics = inputs.map((input) => Buffer.from(input.topic, 'latin1'));
  let total = 0;
  inputs.forEach((input, index) => {
    total += recordSize((topics[index] as Buffer).length, input.body.length, input.properties.length);
  });
  const images = Buffer.allocUnsafe(total);
  let position = 0;
  inputs.forEach((input, index) => {
    position += writeRecord(images, position, input, topics[index] as Buffer, unplaced, false);
  });
  return images;
}

/** Writes the record CRC over bytes [12, size): last, once every field is in place. */
export function sealRecord(target: Buffer, position: number, size: number): void {
  target.writeUInt32LE(crc32(target.subarray(position + crc_start, position + size)), position + record_field.record_crc);
}

/** The topic and queue of a record image (for the writer's queue-offset table). */
export function imageQueue(image: Buffer, position: number): { topic: string; queue_id: number } {
  const topic_at = position + record_field.body + image.readUInt32LE(position + record_field.body_size);
  return {
    topic: image.toString('latin1', topic_at + 1, topic_at + 1 + (image[topic_at] as number)),
    queue_id: image.readUInt32LE(position + record_field.queue_id),
  };
}

export function writeBlank(target: Buffer, position: number, size: number): void {
  assert(size >= blank_bytes_min, `a blank needs ${blank_bytes_min} bytes, got ${size}`);
  target.writeUInt32LE(size, position);
  target.writeUInt32LE(blank_magic, position + 4);
}

/**
 * A record as it lies in a segment: a view, no copy. Fields are read on demand. The view is
 * valid while the segment is mapped; copy `body` out to keep it longer.
 */
export class RecordView {
  constructor(
    readonly source: Buffer,
    readonly position: number,
  ) {}

  get total_size(): number {
    return this.source.readUInt32LE(this.position + record_field.total_size);
  }
  get queue_id(): number {
    return this.source.readUInt32LE(this.position + record_field.queue_id);
  }
  get flags(): number {
    return this.source.readUInt32LE(this.position + record_field.flags);
  }
  get queue_offset(): number {
    return readU64(this.source, this.position + record_field.queue_offset);
  }
  get physical_offset(): number {
    return readU64(this.source, this.position + record_field.physical_offset);
  }
  get sys_flags(): number {
    return this.source.readUInt32LE(this.position + record_field.sys_flags);
  }
  get born_timestamp(): number {
    return readU64(this.source, this.position + record_field.born_timestamp);
  }
  get born_host(): HostAddress {
    return readHost(this.source, this.position + record_field.born_host);
  }
  get store_timestamp(): number {
    return readU64(this.source, this.position + record_field.store_timestamp);
  }
  get store_host(): HostAddress {
    return readHost(this.source, this.position + record_field.store_host);
  }
  get reconsume_times(): number {
    return this.source.readUInt32LE(this.position + record_field.reconsume_times);
  }
  get prepared_transaction_offset(): number {
    return readU64(this.source, this.position + record_field.prepared_transaction_offset);
  }
  get tag_hash(): number {
    return readU64(this.source, this.position + record_field.tag_hash);
  }
  get body(): Buffer {
    const start = this.position + record_field.body;
    return this.source.subarray(start, start + this.source.readUInt32LE(this.position + record_field.body_size));
  }
  get topic(): string {
    const at = this.topicSizePosition();
    return this.source.toString('latin1', at + 1, at + 1 + (this.source[at] as number));
  }
  get properties(): Buffer {
    const topic_at = this.topicSizePosition();
    const at = topic_at + 1 + (this.source[topic_at] as number);
    const size = this.source.readUInt16LE(at);
    return this.source.subarray(at + 2, at + 2 + size);
  }
  /** The whole record's bytes (a view). */
  get bytes(): Buffer {
    return this.source.subarray(this.position, this.position + this.total_size);
  }

  private topicSizePosition(): number {
    return this.position + record_field.body + this.source.readUInt32LE(this.position + record_field.body_size);
  }
}

export type RecordCheck =
  | { kind: 'record'; size: number }
  | { kind: 'blank'; size: number }
  /** Zeros where a record would start: the end of what was ever written. */
  | { kind: 'end' }
  | { kind: 'corrupt'; reason: string };

/**
 * Validates what lies at `position` of a segment whose bytes hold physical offsets from
 * `segment_start`, with `limit` the end of the readable part. Used by recovery (to find where
 * the log really ends) and by readers (never serve what fails its CRC).
 */
export function checkRecord(source: Buffer, position: number, limit: number, segment_start: number, verify_crc = true): RecordCheck {
  if (position + blank_bytes_min > limit) return { kind: 'corrupt', reason: `no room for a record header at ${position}` };
  const size = source.readUInt32LE(position);
  const magic = source.readUInt32LE(position + 4);
  if (size === 0 && magic === 0) return { kind: 'end' };
  if (magic === blank_magic) {
    if (position + size !== source.length || size < blank_bytes_min) return { kind: 'corrupt', reason: `blank at ${position} of size ${size} does not reach the segment end` };
    return { kind: 'blank', size };
  }
  if (magic !== record_magic) return { kind: 'corrupt', reason: `bad magic 0x${magic.toString(16)} at ${position}` };
  if (size < record_header_bytes + 3 || position + size > limit) return { kind: 'corrupt', reason: `record size ${size} at ${position} out of range` };
  const physical = readU64(source, position + record_field.physical_offset);
  if (physical !== segment_start + position) return { kind: 'corrupt', reason: `record at ${segment_start + position} claims offset ${physical}` };
  const body_size = source.readUInt32LE(position + record_field.body_size);
  const topic_at = position + record_field.body + body_size;
  if (topic_at + 3 > position + size) return { kind: 'corrupt', reason: `body size ${body_size} overruns the record at ${segment_start + position}` };
  const topic_size = source[topic_at] as number;
  const properties_at = topic_at + 1 + topic_size;
  if (topic_size === 0 || properties_at + 2 > position + size) return { kind: 'corrupt', reason: `topic size ${topic_size} overruns the record at ${segment_start + position}` };
  if (properties_at + 2 + source.readUInt16LE(properties_at) !== position + size) return { kind: 'corrupt', reason: `record parts do not add up to its size at ${segment_start + position}` };
  if (!verify_crc) return { kind: 'record', size };
  const stored_crc = source.readUInt32LE(position + record_field.record_crc);
  if (crc32(source.subarray(position + crc_start, position + size)) !== stored_crc) return { kind: 'corrupt', reason: `CRC mismatch at ${segment_start + position}` };
  return { kind: 'record', size };
}

export function writeU64(target: Buffer, position: number, value: number): void {
  target.writeUInt32LE(value >>> 0, position);
  target.writeUInt32LE(Math.floor(value / 0x1_0000_0000), position + 4);
}

export function readU64(source: Buffer, position: number): number {
  return source.readUInt32LE(position + 4) * 0x1_0000_0000 + source.readUInt32LE(position);
}

function writeHost(target: Buffer, position: number, host: HostAddress): void {
  target.writeUInt32LE(host.ipv4 >>> 0, position);
  target.writeUInt32LE(host.port, position + 4);
}

function readHost(source: Buffer, position: number): HostAddress {
  return { ipv4: source.readUInt32LE(position), port: source.readUInt32LE(position + 4) };
}
