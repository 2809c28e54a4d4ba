import path from 'node:path';
import { assert } from '../runtime/assert.js';

/**
 * Where the broker's files live under its data directory. Pure functions of their
 * arguments: no I/O, so every storage class and every test computes the same names.
 *
 *     <data>/
 *     ├── abort                                 exists while a broker runs (abort_marker.ts)
 *     ├── checkpoint                            flushed positions (checkpoint.ts)
 *     ├── config/
 *     │   └── offsets                           consumer-group offsets (offset_store.ts)
 *     ├── commitlog/
 *     │   ├── 00000000000000000000              segments named by their start offset
 *     │   └── 00000000001073741824
 *     ├── consumequeue/
 *     │   └── <topic>/<queueId>/
 *     │       └── 00000000000000000000          segments named by their start offset
 *     └── index/
 *         └── 00000000000000000000              key index files named by the CommitLog
 *                                               offset they start indexing at (key_index.ts)
 *
 * A durable file (durable_file.ts) also has `<name>.tmp` while it is being replaced and
 * `<name>.bak`, its previous good version.
 */

export const commit_log_dir_name = 'commitlog';
export const consume_queue_dir_name = 'consumequeue';
export const config_dir_name = 'config';
export const offsets_file_name = 'offsets';
export const checkpoint_file_name = 'checkpoint';
export const abort_marker_file_name = 'abort';
export const key_index_dir_name = 'index';

/** Digits of a segment file name: enough for any unsigned 64-bit offset (RocketMQ's format). */
export const segment_name_digits = 20;

const segment_name_pattern = /^[0-9]{20}$/;

export function commitLogDir(data_dir: string): string {
  return path.join(data_dir, commit_log_dir_name);
}

/**
 * The CommitLog's directories: the data directory's first, then one per extra data directory
 * (`--data a,b,...`). Segment n (start offset / segment size) lives in directory n mod count,
 * so consecutive segments spread over the disks (SegmentSet.pathOf).
 */
export function commitLogDirs(options: { data_dir: string; extra_data_dirs?: readonly string[] }): string[] {
  return [options.data_dir, ...(options.extra_data_dirs ?? [])].map((dir) => path.join(dir, commit_log_dir_name));
}

export function consumeQueueRootDir(data_dir: string): string {
  return path.join(data_dir, consume_queue_dir_name);
}

/**
 * The directory of one ConsumeQueue. Topic names are validated where they enter the broker
 * (protocol validation allows `[A-Za-z0-9_%|-]`), so a name that could climb out of the
 * data directory here is a bug, not user input.
 */
export function consumeQueueDir(data_dir: string, topic: string, queue_id: number): string {
  assert(isSafePathComponent(topic), `consumeQueueDir: topic ${JSON.stringify(topic)} is not a single path component`);
  assert(Number.isInteger(queue_id) && queue_id >= 0, `consumeQueueDir: queue id ${queue_id} is not a non-negative integer`);
  return path.join(data_dir, consume_queue_dir_name, topic, String(queue_id));
}

/** The key index files (key_index.ts): message keys to CommitLog offsets. */
export function keyIndexDir(data_dir: string): string {
  return path.join(data_dir, key_index_dir_name);
}

/** The timing wheel's entry log (segments named by their first entry index). */
export function wheelLogDir(data_dir: string): string {
  return path.join(data_dir, 'timingwheel', 'log');
}

/** What the timing wheel had delivered when it last checkpointed. */
export function wheelCheckpointPath(data_dir: string): string {
  return path.join(data_dir, 'timingwheel', 'checkpoint');
}

/** What the transaction actor knew about undecided half messages when it last checkpointed. */
export function transactionCheckpointPath(data_dir: string): string {
  return path.join(data_dir, 'transaction', 'checkpoint');
}

export function configDir(data_dir: string): string {
  return path.join(data_dir, config_dir_name);
}

/** The master epochs of this CommitLog (epoch_history.ts). */
export function epochHistoryPath(data_dir: string): string {
  return path.join(configDir(data_dir), 'epochs');
}

export function offsetsPath(data_dir: string): string {
  return path.join(data_dir, config_dir_name, offsets_file_name);
}

export function checkpointPath(data_dir: string): string {
  return path.join(data_dir, checkpoint_file_name);
}

export function abortMarkerPath(data_dir: string): string {
  return path.join(data_dir, abort_marker_file_name);
}

/**
 * The file name of the segment that starts at `start_offset` (bytes for the CommitLog,
 * bytes of entries for a ConsumeQueue): the offset in decimal, zero-padded to 20 digits, so
 * that names sort like offsets. Offsets are JavaScript numbers, exact up to 2^53 (8 PiB).
 */
export function segmentFileName(start_offset: number): string {
  assert(Number.isSafeInteger(start_offset) && start_offset >= 0, `segmentFileName: start offset ${start_offset} is not a non-negative safe integer`);
  return String(start_offset).padStart(segment_name_digits, '0');
}

/**
 * The start offset a segment file name stands for, or undefined when `name` is not a
 * segment name (a `.tmp` file, a stray file, an offset beyond 2^53): the caller decides
 * whether such a file is ignored or reported, since a directory listing may hold both.
 */
export function parseSegmentFileName(name: string): number | undefined {
  if (!segment_name_pattern.test(name)) return undefined;
  const start_offset = Number(name);
  if (!Number.isSafeInteger(start_offset)) return undefined;
  return start_offset;
}

/** One name that stays inside its parent directory: not empty, no separator, not `.` or `..`, no NUL. */
export function isSafePathComponent(name: string): boolean {
  return name.length > 0 && name !== '.' && name !== '..' && !/[/\\\0]/.test(name);
}
