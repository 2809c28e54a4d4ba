import { MqError } from '../runtime/errors.js';
import type { CpuPool } from '../runtime/cpu_pool.js';
import { CommitLogReader } from './commit_log_reader.js';
import { queueKey } from './commit_log.js';
import type { ConsumeQueue } from './consume_queue.js';
import { consume_queue_entry_bytes as entry_bytes, writeEntry } from './consume_queue_entry.js';
import { readU64, record_field } from './record.js';
import { SegmentSet } from './segment_set.js';

/**
 * Rebuilding ConsumeQueues from the CommitLog: recovery does it for queues that are missing
 * or lag the log. The scan is CPU work (every record's header is read and checked), so it
 * runs on the Piscina pool (consume_queue_rebuild_task.ts), split into one task per CommitLog
 * segment so that both cores share a long range. Applying the results to the queues is cheap
 * (one copy of packed entries per queue) and stays with the queues' owner.
 */

export const consume_queue_rebuild_limits = {
  /** Records one task scans at most: bounds its result (20 bytes per record) to 20 MiB.
   *  A segment with more records takes several tasks, one after the other. */
  task_records_max: 1 << 20,
  /** Tasks running or finished but not yet applied, at most: bounds the memory of results. */
  tasks_in_flight_max: 4,
} as const;

/** One scan of [from_offset, to_offset) of a CommitLog: a plain object, sent to a pool thread. */
export interface RebuildTask {
  /** The CommitLog's directory, or its directories (storage_paths.ts commitLogDirs). */
  commit_log_dir: string | string[];
  segment_bytes: number;
  /** A record boundary (a record's start, a segment's start, or the log's end). */
  from_offset: number;
  to_offset: number;
  records_max: number;
}

/** The entries of one (topic, queue) in a task's result. */
export interface RebuiltQueue {
  topic: string;
  queue_id: number;
  first_queue_offset: number;
  entry_count: number;
  /** Where this queue's packed entries start in the result's `entries`. */
  byte_offset: number;
}

/**
 * A task's result: the entries of every queue met, in queue-offset order, packed in one
 * ArrayBuffer (transferred back, not copied; a handful of objects, not one per record).
 */
export interface RebuildResult {
  from_offset: number;
  /** Where the scan stopped: `to_offset`, or the first record not scanned when the task
   *  reached records_max. */
  end_offset: number;
  records: number;
  queues: RebuiltQueue[];
  entries: ArrayBuffer;
}

export interface RebuildSummary {
  records: number;
  entries_appended: number;
  tasks: number;
  /** Queues that got entries. */
  queues: number;
}

/** Gives the open ConsumeQueue of (topic, queue_id), or undefined to leave that queue alone. */
export type ConsumeQueueLookup = (topic: string, queue_id: number) => ConsumeQueue | undefined;

export interface RebuildRange {
  commit_log_dir: string | string[];
  segment_bytes: number;
  from_offset: number;
  to_offset: number;
  task_records_max?: number;
}

/** Growable packed entries of one queue while a task scans. */
interface QueueAccumulator {
  topic: string;
  /** The topic as the records hold it (latin1: topic names are ASCII). */
  topic_bytes: Buffer;
  queue_id: number;
  first_queue_offset: number;
  next_queue_offset: number;
  bytes: Buffer;
  used: number;
}

const accumulator_initial_bytes = 256 * entry_bytes;

/**
 * Scans the records of [from_offset, to_offset) (checking each: magic, size, own offset, CRC)
 * and collects, per (topic, queue), the entries in queue-offset order from the queue offset
 * each record carries. Runs on any thread; maps the CommitLog read-only itself.
 */
export function scanForConsumeQueues(task: RebuildTask): RebuildResult {
  const segments = new SegmentSet(task.commit_log_dir, task.segment_bytes, 'read-only');
  const queues = new QueueTable();
  let records = 0;
  try {
    const reader = new CommitLogReader(segments);
    const end_offset = reader.scan(task.from_offset, task.to_offset, (record, offset) => {
      if (records === task.records_max) return false;
      records++;
      // Fields are read straight from the record's bytes: the record was just checked, and
      // this loop runs once per record of the log, so it allocates nothing per record.
      const source = record.source;
      const position = record.position;
      const queue_id = source.readUInt32LE(position + record_field.queue_id);
      const queue_offset = readU64(source, position + record_field.queue_offset);
      const topic_at = position + record_field.body + source.readUInt32LE(position + record_field.body_size);
      const queue = queues.find(source, topic_at, queue_id, queue_offset);
      if (queue_offset !== queue.next_queue_offset) {
        throw new MqError('INTERNAL', `CommitLog record at ${offset} has queue offset ${queue_offset} for ${queue.topic}/${queue_id}, expected ${queue.next_queue_offset}: the CommitLog's queue offsets are not consecutive, so this queue cannot be rebuilt from it`);
      }
      if (queue.used === queue.bytes.length) {
        const grown = Buffer.alloc(queue.bytes.length * 2);
        queue.bytes.copy(grown, 0, 0, queue.used);
        queue.bytes = grown;
      }
      const size = source.readUInt32LE(position + record_field.total_size);
      writeEntry(queue.bytes, queue.used, offset, size, readU64(source, position + record_field.tag_hash));
      queue.used += entry_bytes;
      queue.next_queue_offset++;
    });
    if (end_offset < task.to_offset && records < task.records_max) {
      throw new MqError('INTERNAL', `CommitLog rebuild scan of [${task.from_offset}, ${task.to_offset}) stopped at ${end_offset}: the segment holding it is missing from ${task.commit_log_dir}`);
    }
    return pack(task.from_offset, end_offset, records, queues.all);
  } finally {
    segments.close();
  }
}

/**
 * The accumulators of one scan, found by queue id and then by the topic's bytes as they lie
 * in the record (compared in place), so that a record's topic is decoded to a string only
 * the first time its queue is met.
 */
class QueueTable {
  readonly all: QueueAccumulator[] = [];
  private readonly by_queue_id = new Map<number, QueueAccumulator[]>();

  find(source: Buffer, topic_at: number, queue_id: number, queue_offset: number): QueueAccumulator {
    let candidates = this.by_queue_id.get(queue_id);
    if (candidates === undefined) {
      candidates = [];
      this.by_queue_id.set(queue_id, candidates);
    }
    const topic_size = source[topic_at] as number;
    for (const candidate of candidates) {
      if (sameBytes(candidate.topic_bytes, source, topic_at + 1, topic_size)) return candidate;
    }
    const topic_bytes = Buffer.from(source.subarray(topic_at + 1, topic_at + 1 + topic_size));
    const queue: QueueAccumulator = {
      topic: topic_bytes.toString('latin1'),
      topic_bytes,
      queue_id,
      first_queue_offset: queue_offset,
      next_queue_offset: queue_offset,
      bytes: Buffer.alloc(accumulator_initial_bytes),
      used: 0,
    };
    candidates.push(queue);
    this.all.push(queue);
    return queue;
  }
}

function sameBytes(expected: Buffer, source: Buffer, at: number, size: number): boolean {
  if (expected.length !== size) return false;
  for (let index = 0; index < size; index++) if (expected[index] !== source[at + index]) return false;
  return true;
}

/** Copies every queue's entries into one ArrayBuffer, once. */
function pack(from_offset: number, end_offset: number, records: number, queues: readonly QueueAccumulator[]): RebuildResult {
  let total = 0;
  for (const queue of queues) total += queue.used;
  const entries = new ArrayBuffer(total);
  const target = new Uint8Array(entries);
  const index: RebuiltQueue[] = [];
  let byte_offset = 0;
  for (const queue of queues) {
    target.set(queue.bytes.subarray(0, queue.used), byte_offset);
    index.push({ topic: queue.topic, queue_id: queue.queue_id, first_queue_offset: queue.first_queue_offset, entry_count: queue.used / entry_bytes, byte_offset });
    byte_offset += queue.used;
  }
  return { from_offset, end_offset, records, queues: index, entries };
}

/**
 * Splits [from, to) into one range per CommitLog segment (segment starts are record
 * boundaries), clamped to the segments that exist.
 */
export function planRebuild(range: RebuildRange): RebuildTask[] {
  const segments = new SegmentSet(range.commit_log_dir, range.segment_bytes, 'read-only').load();
  const from = Math.max(range.from_offset, segments.min_offset);
  const tasks: RebuildTask[] = [];
  const records_max = range.task_records_max ?? consume_queue_rebuild_limits.task_records_max;
  for (let start = segments.startOf(from); start < range.to_offset; start += range.segment_bytes) {
    tasks.push({
      commit_log_dir: range.commit_log_dir,
      segment_bytes: range.segment_bytes,
      from_offset: Math.max(from, start),
      to_offset: Math.min(range.to_offset, start + range.segment_bytes),
      records_max,
    });
  }
  return tasks;
}

/**
 * Appends a result's entries to the queues (idempotent: entries a queue already has are
 * compared and skipped). Results of one queue must be applied in CommitLog order.
 * Returns how many entries were new.
 */
export function applyRebuildResult(result: RebuildResult, queueFor: ConsumeQueueLookup, touched?: Set<string>): number {
  let appended = 0;
  for (const queue of result.queues) {
    const consume_queue = queueFor(queue.topic, queue.queue_id);
    if (consume_queue === undefined) continue;
    const entries = new Uint8Array(result.entries, queue.byte_offset, queue.entry_count * entry_bytes);
    const added = consume_queue.appendBatch(queue.first_queue_offset, entries);
    appended += added;
    if (added > 0) touched?.add(queueKey(queue.topic, queue.queue_id));
  }
  return appended;
}

/** Rebuilds on the calling thread: for small ranges, and for tests. */
export function rebuildConsumeQueues(range: RebuildRange, queueFor: ConsumeQueueLookup): RebuildSummary {
  const summary: RebuildSummary = { records: 0, entries_appended: 0, tasks: 0, queues: 0 };
  const touched = new Set<string>();
  for (const planned of planRebuild(range)) {
    let task = planned;
    for (;;) {
      const result = scanForConsumeQueues(task);
      summary.tasks++;
      summary.records += result.records;
      summary.entries_appended += applyRebuildResult(result, queueFor, touched);
      if (result.end_offset >= task.to_offset) break;
      task = { ...task, from_offset: result.end_offset };
    }
  }
  summary.queues = touched.size;
  return summary;
}

export const rebuild_task_module = new URL('./consume_queue_rebuild_task.js', import.meta.url);

/**
 * Rebuilds on the Piscina pool: per-segment scans run on the pool's threads, up to
 * tasks_in_flight_max at a time, and their results are applied here, in CommitLog order, as
 * they arrive. A segment with more than task_records_max records is scanned by a chain of
 * tasks, each starting where the last stopped.
 */
export async function rebuildConsumeQueuesInPool(pool: Pick<CpuPool, 'run'>, range: RebuildRange, queueFor: ConsumeQueueLookup, options: { tasks_in_flight_max?: number } = {}): Promise<RebuildSummary> {
  const planned = planRebuild(range);
  const in_flight_max = options.tasks_in_flight_max ?? consume_queue_rebuild_limits.tasks_in_flight_max;
  const summary: RebuildSummary = { records: 0, entries_appended: 0, tasks: 0, queues: 0 };
  const touched = new Set<string>();
  const runSegment = async (first: RebuildTask): Promise<RebuildResult[]> => {
    const results: RebuildResult[] = [];
    let task = first;
    for (;;) {
      const result = await pool.run<RebuildTask, RebuildResult>(rebuild_task_module, task);
      results.push(result);
      if (result.end_offset >= task.to_offset) return results;
      task = { ...task, from_offset: result.end_offset };
    }
  };
  // A sliding window of segments: segment i is applied once done, then segment i + window
  // starts. Results wait here only while an earlier segment is still being scanned.
  const running: Promise<RebuildResult[]>[] = [];
  let next = 0;
  const startNext = (): void => {
    const task = planned[next++];
    if (task !== undefined) running.push(runSegment(task));
  };
  while (next < planned.length && running.length < in_flight_max) startNext();
  try {
    while (running.length > 0) {
      const results = await (running.shift() as Promise<RebuildResult[]>);
      startNext();
      for (const result of results) {
        summary.tasks++;
        summary.records += result.records;
        summary.entries_appended += applyRebuildResult(result, queueFor, touched);
      }
    }
  } finally {
    // On failure, let the scans still running settle, so none is left unobserved.
    await Promise.allSettled(running);
  }
  summary.queues = touched.size;
  return summary;
}
