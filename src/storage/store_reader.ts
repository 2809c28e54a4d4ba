import { MqError } from '../runtime/errors.js';
import { CommitLogReader } from './commit_log_reader.js';
import { ConsumeQueueReader, type ConsumeQueueReadStatus } from './consume_queue_reader.js';
import { QueuePositions } from './queue_positions.js';
import type { RecordView } from './record.js';
import { SegmentSet } from './segment_set.js';
import { store_control, type StoreControl } from './store_control.js';
import { ha_roles } from '../actors/replicator/replicator_messages.js';
import { commitLogDirs } from './storage_paths.js';
import type { TagFilter } from './tag_hash.js';

export interface StoreReaderOptions {
  data_dir: string;
  extra_data_dirs?: readonly string[];
  commit_log_segment_bytes: number;
  consume_queue_entries_per_segment: number;
  control: SharedArrayBuffer;
  queue_positions: SharedArrayBuffer;
  /**
   * What consumers may see: `written`, every stored message (async replication);
   * `replicated`, only what the slaves hold (sync replication: the replicator's
   * `replicated_offset`, as Kafka's high watermark), so that a failover never takes back a
   * message a consumer saw (see visibleCommitLogEnd for slaves). Default `written`.
   */
  consumer_visibility?: 'written' | 'replicated';
}

export interface PullResult {
  /** `no_such_queue`: nothing was ever dispatched to this (topic, queue). */
  status: ConsumeQueueReadStatus | 'no_such_queue';
  /** Views into the mapped CommitLog: valid while the reader is open; copy what you keep. */
  records: RecordView[];
  next_queue_offset: number;
  min_offset: number;
  max_offset: number;
}

/**
 * Reads messages on the calling thread, straight from its own read-only mappings of the
 * ConsumeQueue and the CommitLog: no message to any actor, no copy through the writer. The
 * windows come from QueuePositions and the store control block, so nothing not yet
 * published is read. Each entry is checked against its record (queue, queue offset, CRC)
 * before it is served: the check after the read that style.md asks for.
 *
 * Ownership: one per thread; not shared.
 */
export class StoreReader {
  private readonly commit_log: CommitLogReader;
  private readonly control: StoreControl;
  private readonly positions: QueuePositions;
  private readonly queues = new Map<string, ConsumeQueueReader>();
  private forgotten_below = 0;

  constructor(private readonly options: StoreReaderOptions) {
    this.commit_log = new CommitLogReader(new SegmentSet(commitLogDirs(options), options.commit_log_segment_bytes, 'read-only').load());
    this.control = store_control.attach(options.control);
    this.positions = new QueuePositions(options.queue_positions);
  }

  /** The queue's readable window: published entries, on a master under `replicated` visibility only those the slaves hold. */
  window(topic: string, queue_id: number): { min_offset: number; max_offset: number } | undefined {
    const slot = this.positions.find(topic, queue_id);
    if (slot < 0) return undefined;
    const window = this.positions.window(slot);
    const visible_end = this.visibleCommitLogEnd();
    if (visible_end === undefined) return window;
    return { min_offset: window.min_offset, max_offset: this.queueReader(topic, queue_id).visibleEnd(visible_end, window) };
  }

  pull(topic: string, queue_id: number, queue_offset: number, options: { max_count: number; max_bytes?: number; tag_filter?: TagFilter }): PullResult {
    const window = this.window(topic, queue_id);
    if (window === undefined) return { status: 'no_such_queue', records: [], next_queue_offset: 0, min_offset: 0, max_offset: 0 };
    const read = this.queueReader(topic, queue_id).read(queue_offset, window, options);
    const readable = this.control.load('write_offset');
    this.followRetention();
    // Retention may have deleted records since the queue published its window: entries below
    // the CommitLog's min offset are a prefix of the read (a queue is in CommitLog order).
    const min_offset = this.control.load('min_offset');
    let first_kept = 0;
    while (first_kept < read.entries.length && (read.entries[first_kept] as { commit_log_offset: number }).commit_log_offset < min_offset) first_kept++;
    if (first_kept > 0 && first_kept === read.entries.length) {
      const next_queue_offset = this.queueReader(topic, queue_id).firstAtOrAfter(min_offset, read.next_queue_offset, window);
      return { status: 'offset_too_small', records: [], next_queue_offset, ...window };
    }
    const records = read.entries.slice(first_kept).map((entry) => {
      const record = this.commit_log.read(entry.commit_log_offset, readable);
      if (record.queue_id !== queue_id || record.queue_offset !== entry.queue_offset || record.total_size !== entry.size) {
        throw new MqError('INTERNAL', `ConsumeQueue ${topic}/${queue_id} entry ${entry.queue_offset} points at a record of queue ${record.queue_id} offset ${record.queue_offset}: the queue is damaged; stop the broker and delete the whole consumequeue directory: every queue is rebuilt from the CommitLog at the next start`);
      }
      return record;
    });
    return { status: read.status, records, next_queue_offset: read.next_queue_offset, ...window };
  }

  /** The record at a CommitLog offset (message lookup by id), CRC-checked. */
  readRecord(commit_log_offset: number): RecordView {
    const min_offset = this.control.load('min_offset');
    if (commit_log_offset < min_offset) throw new MqError('BAD_REQUEST', `CommitLog offset ${commit_log_offset} was deleted by retention (oldest kept: ${min_offset})`);
    return this.commit_log.read(commit_log_offset, this.control.load('write_offset'));
  }

  /**
   * The CommitLog end consumers may read up to, or undefined when they may read all that is
   * written. Under `replicated` visibility: a master serves what its slaves hold; a slave
   * whose link to its master has streamed serves all it holds (a prefix of that master's
   * log); one whose link has not — starting, or a master that stepped down and may have to
   * cut its unreplicated tail — serves no more than the replicated end it last knew (0 if it
   * never led).
   */
  private visibleCommitLogEnd(): number | undefined {
    if (this.options.consumer_visibility !== 'replicated') return undefined;
    if (this.control.load('ha_role') !== ha_roles.master && this.control.load('ha_aligned') === 1) return undefined;
    return this.control.load('replicated_offset');
  }

  /** Lets go of segments retention deleted, once per move of the min offset. */
  private followRetention(): void {
    const min_offset = this.control.load('min_offset');
    if (min_offset === this.forgotten_below) return;
    this.forgotten_below = min_offset;
    this.commit_log.forgetBefore(min_offset);
  }

  close(): void {
    for (const queue of this.queues.values()) queue.close();
    this.queues.clear();
  }

  private queueReader(topic: string, queue_id: number): ConsumeQueueReader {
    const key = `${topic}\u0000${queue_id}`;
    let reader = this.queues.get(key);
    if (reader === undefined) {
      reader = new ConsumeQueueReader({ data_dir: this.options.data_dir, topic, queue_id, entries_per_segment: this.options.consume_queue_entries_per_segment });
      this.queues.set(key, reader);
    }
    return reader;
  }
}
