import { assert } from '../runtime/assert.js';
import { system_clock, type Clock } from '../runtime/clock.js';
import { MqError } from '../runtime/errors.js';
import { logger, type Logger } from '../runtime/log.js';
import { DurableFile, type DurableWriteStep } from './durable_file.js';

/**
 * The store checkpoint (RocketMQ's StoreCheckpoint): how far the CommitLog and the
 * ConsumeQueues were known durable when it was last written. Recovery starts from it: after
 * a clean stop everything up to the flushed offsets is trusted; after a crash the scan for
 * torn records and the ConsumeQueue rebuild start there instead of at offset 0.
 *
 * The owner must only record a position after the bytes it covers are durable (after the
 * msync that flushed them): a checkpoint ahead of the data would make recovery trust bytes
 * a power loss took away. Positions may move backwards only when recovery truncates.
 *
 * Besides the fixed fields, a table of named positions holds what later features need to
 * resume (a timing wheel's flushed offset, a replica's confirmed offset, an index's last
 * timestamp): a feature adds its name without a format change, and a name this version does
 * not know is kept as it was and written back, so an older broker does not erase a newer
 * one's positions.
 *
 * Owned by one thread (the actor that flushes; others send it their positions). Written
 * with DurableFile, so a crash leaves the previous checkpoint or this one.
 *
 * Content, version 1 (big-endian; u64 values are below 2^53):
 *
 *     0                 8                 16                24                32           34
 *     ┌─────────────────┬─────────────────┬─────────────────┬─────────────────┬────────────┬────────────────────────┐
 *     │ commit log      │ consume queue   │ last flushed    │ written at ms   │ positions  │ position × positions   │
 *     │ flushed offset  │ flushed offset  │ store timestamp │ u64             │ u16        │                        │
 *     │ u64             │ u64             │ ms u64          │                 │            │                        │
 *     └─────────────────┴─────────────────┴─────────────────┴─────────────────┴────────────┴────────────────────────┘
 *     position:
 *     ┌─────────────┬──────────────────┬───────────┐
 *     │ name_len u8 │ name (ASCII)     │ value u64 │
 *     └─────────────┴──────────────────┴───────────┘
 *
 * A later version adds a case to `decodeCheckpoint` and keeps reading this one.
 */

export const checkpoint_content_version = 1;
export const checkpoint_file_kind = 'CKPT';

export const checkpoint_limits = {
  /** Named positions kept; features are few, so more is a bug. */
  positions_max: 64,
  /** Longest position name. */
  position_name_chars_max: 64,
} as const;

const position_name_pattern = /^[a-z][a-z0-9_]*$/;
const fixed_bytes = 34;
const two_to_32 = 2 ** 32;

export interface CheckpointPositions {
  /** CommitLog bytes known durable: everything before this offset survived the last flush. */
  commit_log_flushed_offset: number;
  /**
   * The CommitLog offset up to which every ConsumeQueue's entries are durable (the minimum
   * over the queues): after a crash, dispatch to the ConsumeQueues is redone from here.
   */
  consume_queue_flushed_offset: number;
  /** Store timestamp (ms since the epoch) of the last record below commit_log_flushed_offset; 0 before any. */
  last_flushed_store_timestamp_ms: number;
}

export interface CheckpointState extends CheckpointPositions {
  /** Wall-clock time of the write that produced this state (0 before the first). */
  written_at_ms: number;
  /** Positions of later features, by name. */
  positions: ReadonlyMap<string, number>;
}

export interface StoreCheckpointOptions {
  /** The checkpoint file (storage_paths.checkpointPath(data_dir)). */
  path: string;
  clock?: Clock;
  log?: Logger;
  /** Passed to DurableFile: tests stop a write at a chosen step. */
  fault_probe?: (step: DurableWriteStep) => void;
}

export function emptyCheckpointState(): CheckpointState {
  return { commit_log_flushed_offset: 0, consume_queue_flushed_offset: 0, last_flushed_store_timestamp_ms: 0, written_at_ms: 0, positions: new Map() };
}

export class StoreCheckpoint {
  private current: CheckpointState = emptyCheckpointState();
  private named = new Map<string, number>();
  private is_dirty = false;
  private readonly file: DurableFile;
  private readonly clock: Clock;

  constructor(options: StoreCheckpointOptions) {
    this.clock = options.clock ?? system_clock;
    const log = options.log ?? logger('checkpoint', { file: options.path });
    this.file = new DurableFile({ path: options.path, kind: checkpoint_file_kind, log, ...(options.fault_probe ? { fault_probe: options.fault_probe } : {}) });
  }

  /** The positions as last updated (not necessarily persisted). */
  get state(): CheckpointState {
    return { ...this.current, positions: new Map(this.named) };
  }

  get dirty(): boolean {
    return this.is_dirty;
  }

  /** Reads the file; undefined (and an all-zero state) when there is none: a new data directory. */
  load(): CheckpointState | undefined {
    const read = this.file.read();
    if (read === undefined) {
      this.current = emptyCheckpointState();
      this.named = new Map();
      this.is_dirty = false;
      return undefined;
    }
    const decoded = decodeCheckpoint(read.content_version, read.content, this.file.path);
    this.current = decoded;
    this.named = new Map(decoded.positions);
    // Loaded from the backup: the damaged main file is rewritten at the next persist.
    this.is_dirty = read.source === 'backup';
    return this.state;
  }

  /** Records new flushed positions; they reach the file at the next `persist`. */
  update(changes: Partial<CheckpointPositions>): void {
    for (const [field, value] of Object.entries(changes)) {
      if (value === undefined) continue;
      assert(Number.isSafeInteger(value) && value >= 0, `checkpoint ${field} ${value} is not a non-negative safe integer`);
      const key = field as keyof CheckpointPositions;
      assert(key in this.current, `checkpoint has no field ${field}`);
      if (this.current[key] === value) continue;
      this.current = { ...this.current, [key]: value };
      this.is_dirty = true;
    }
  }

  /** Sets a named position (names: lower-case letters, digits, `_`). */
  setPosition(name: string, value: number): void {
    assert(position_name_pattern.test(name) && name.length <= checkpoint_limits.position_name_chars_max, `checkpoint position name ${JSON.stringify(name)} must match ${position_name_pattern} and have at most ${checkpoint_limits.position_name_chars_max} characters`);
    assert(Number.isSafeInteger(value) && value >= 0, `checkpoint position ${name} = ${value} is not a non-negative safe integer`);
    if (this.named.get(name) === value) return;
    assert(this.named.has(name) || this.named.size < checkpoint_limits.positions_max, `checkpoint already holds ${checkpoint_limits.positions_max} positions; ${name} is one too many`);
    this.named.set(name, value);
    this.is_dirty = true;
  }

  /** Writes the state durably if it changed since the last write or load; returns whether it wrote. */
  persist(): boolean {
    if (!this.is_dirty) return false;
    const next: CheckpointState = { ...this.current, written_at_ms: this.clock.nowMs(), positions: new Map(this.named) };
    this.file.write(encodeCheckpoint(next), checkpoint_content_version);
    this.current = next;
    this.is_dirty = false;
    return true;
  }
}

/** The state in the version 1 layout. Pure. */
export function encodeCheckpoint(state: CheckpointState): Buffer {
  const names = [...state.positions.keys()];
  assert(names.length <= checkpoint_limits.positions_max, `checkpoint holds ${names.length} positions, at most ${checkpoint_limits.positions_max}`);
  let size_bytes = fixed_bytes;
  for (const name of names) size_bytes += 1 + name.length + 8;
  const out = Buffer.alloc(size_bytes);
  let at = writeU53(out, 0, state.commit_log_flushed_offset);
  at = writeU53(out, at, state.consume_queue_flushed_offset);
  at = writeU53(out, at, state.last_flushed_store_timestamp_ms);
  at = writeU53(out, at, Math.max(0, Math.floor(state.written_at_ms)));
  at = out.writeUInt16BE(names.length, at);
  for (const name of names) {
    assert(position_name_pattern.test(name) && name.length <= checkpoint_limits.position_name_chars_max, `bad checkpoint position name ${JSON.stringify(name)}`);
    at = out.writeUInt8(name.length, at);
    at += out.write(name, at, 'latin1');
    at = writeU53(out, at, state.positions.get(name) ?? 0);
  }
  assert(at === size_bytes, `encodeCheckpoint wrote ${at} bytes, sized ${size_bytes}`);
  return out;
}

/**
 * Reads any content version this mq-node knows. The bytes passed the file's CRC, so a
 * malformed content is a bug or a foreign format: MqError INTERNAL saying so.
 */
export function decodeCheckpoint(content_version: number, content: Buffer, file_path = 'checkpoint'): CheckpointState {
  switch (content_version) {
    case 1:
      return decodeVersion1(content, file_path);
    default:
      throw new MqError(
        'INTERNAL',
        `${file_path} is checkpoint format version ${content_version}; this mq-node reads up to version ${checkpoint_content_version}. ` +
          'It was written by a newer mq-node: run that version, or remove the checkpoint (and its .bak) so that recovery scans the whole CommitLog.',
      );
  }
}

function decodeVersion1(content: Buffer, file_path: string): CheckpointState {
  const fail = (problem: string): never => {
    throw new MqError('INTERNAL', `${file_path} is malformed (${problem}); remove it (and its .bak) so that recovery scans the whole CommitLog.`);
  };
  if (content.length < fixed_bytes) fail(`${content.length} bytes, version 1 has at least ${fixed_bytes}`);
  const read = (at: number, what: string): number => {
    const value = content.readUInt32BE(at) * two_to_32 + content.readUInt32BE(at + 4);
    if (!Number.isSafeInteger(value)) fail(`${what} is beyond 2^53`);
    return value;
  };
  const state: CheckpointState = {
    commit_log_flushed_offset: read(0, 'commit log flushed offset'),
    consume_queue_flushed_offset: read(8, 'consume queue flushed offset'),
    last_flushed_store_timestamp_ms: read(16, 'last flushed store timestamp'),
    written_at_ms: read(24, 'written at'),
    positions: new Map(),
  };
  const positions = new Map<string, number>();
  const count = content.readUInt16BE(32);
  if (count > checkpoint_limits.positions_max) fail(`${count} positions, at most ${checkpoint_limits.positions_max}`);
  let at = fixed_bytes;
  for (let i = 0; i < count; i++) {
    if (at + 1 > content.length) fail(`ends before position ${i}`);
    const length = content.readUInt8(at);
    at += 1;
    if (at + length + 8 > content.length) fail(`ends inside position ${i}`);
    const name = content.toString('latin1', at, at + length);
    at += length;
    if (!position_name_pattern.test(name) || name.length > checkpoint_limits.position_name_chars_max) fail(`position name ${JSON.stringify(name)}`);
    if (positions.has(name)) fail(`position ${name} appears twice`);
    positions.set(name, read(at, `position ${name}`));
    at += 8;
  }
  if (at !== content.length) fail(`${content.length - at} bytes after the last position`);
  return { ...state, positions };
}

function writeU53(out: Buffer, at: number, value: number): number {
  assert(Number.isSafeInteger(value) && value >= 0, `checkpoint value ${value} is not a non-negative safe integer`);
  at = out.writeUInt32BE(Math.floor(value / two_to_32), at);
  return out.writeUInt32BE(value % two_to_32, at);
}
