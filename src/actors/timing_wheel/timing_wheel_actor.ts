import { schedule_topic } from '../../protocol/index.js';
import { defineActor, type ActorContext } from '../../runtime/actor.js';
import type { ActorRef } from '../../runtime/actor_ref.js';
import { MqError } from '../../runtime/errors.js';
import { CommitLogReader } from '../../storage/commit_log_reader.js';
import { ConsumeQueueReader } from '../../storage/consume_queue_reader.js';
import { HierarchicalWheel } from '../../storage/hierarchical_wheel.js';
import { QueuePositions } from '../../storage/queue_positions.js';
import { encodeRecordImages, type RecordInput } from '../../storage/record.js';
import { SegmentSet } from '../../storage/segment_set.js';
import { store_control, type StoreControl } from '../../storage/store_control.js';
import { StoreReader } from '../../storage/store_reader.js';
import { commitLogDirs, wheelCheckpointPath, wheelLogDir } from '../../storage/storage_paths.js';
import { WheelCheckpoint } from '../../storage/wheel_checkpoint.js';
import { WheelLog } from '../../storage/wheel_log.js';
import { commit_log_address, commit_log_protocol, type CommitLogMessage, type CommitLogReply } from '../commit_log/commit_log_messages.js';
import type { StoreArgs } from '../store/store_args.js';
import { deliveredRecordOf, scheduleOffsetOf } from './scheduled_record.js';
import { timing_wheel_protocol, type TimingWheelMessage, type TimingWheelStatus } from './timing_wheel_messages.js';
import { WheelLogSegments } from './wheel_log_segments.js';

export const timing_wheel_limits = {
  /** Due messages taken from the wheel per delivery round. */
  due_per_round_max: 256,
  /** One append to the CommitLog writer carries at most this many bytes of records. */
  append_bytes_max: 8 << 20,
  /** Schedule-queue entries read per tick (more wait for the next tick). */
  entries_read_per_tick_max: 16_384,
  /** How often the checkpoint is written (and the retention floor recomputed). */
  checkpoint_interval_ms: 1_000,
} as const;

interface DueEntry {
  deliver_at_ms: number;
  offset: number;
  size: number;
}

/**
 * Delayed delivery: scheduled copies (scheduled_record.ts) wait in the schedule topic's one
 * queue; this actor reads that queue's entries (time, CommitLog offset, size — the time is in
 * the entry's tag-hash field), logs each in its own WheelLog, keeps it in a
 * HierarchicalWheel, and when its time comes re-puts the message into its real topic through
 * the CommitLog writer (one append per round of due messages).
 *
 * Nothing scheduled is lost or delivered twice by a restart (kill -9 included):
 * - the wheel log's entry N is the queue's offset N, so reading resumes at the log's end;
 * - an entry is inserted with a time no earlier than the next tick, and the checkpoint
 *   (wheel_checkpoint.ts), written only between rounds with nothing failed, says "every
 *   entry due by T was delivered, none later"; deliveries after it are found by scanning
 *   the CommitLog from the checkpoint's offset for records that name their scheduled copy.
 * - retention keeps the CommitLog from the oldest undelivered scheduled copy (the floor
 *   published in store_control).
 *
 * Runs on the service thread, one message at a time; its only shared state is the floor slot.
 */
class TimingWheelActor {
  private readonly control: StoreControl;
  private readonly positions: QueuePositions;
  private readonly log_file: WheelLog;
  private readonly checkpoint: WheelCheckpoint;
  private readonly segments = new WheelLogSegments();
  private readonly commit_log: ActorRef<CommitLogMessage, CommitLogReply>;
  private readonly self;
  private wheel!: HierarchicalWheel;
  private reader!: StoreReader;
  private queue_reader: ConsumeQueueReader | undefined;
  private failed: DueEntry[] = [];
  /** The CommitLog write offset before the first failed append: a retry first looks from
   *  there for what went in after all. */
  private failed_from_offset = Number.MAX_SAFE_INTEGER;
  private delivered = 0;
  private last_checkpoint_ms = 0;
  private floor = 0;
  /** The latest time the wheel was advanced to. */
  private advanced_to_ms = 0;
  private timer: NodeJS.Timeout | undefined;
  private full_warned = false;
  private stopped = false;

  constructor(
    private readonly context: ActorContext,
    private readonly args: StoreArgs,
  ) {
    this.control = store_control.attach(args.control);
    this.positions = new QueuePositions(args.queue_positions);
    this.log_file = new WheelLog(wheelLogDir(args.data_dir));
    this.checkpoint = new WheelCheckpoint(wheelCheckpointPath(args.data_dir), context.log);
    this.commit_log = context.actorOf(commit_log_address, commit_log_protocol);
    this.self = context.actorOf(context.address, timing_wheel_protocol);
  }

  start(): void {
    const checkpoint = this.checkpoint.read();
    // Never behind the checkpoint, even if the wall clock went back: what it counts as
    // delivered must stay behind the wheel's time.
    const start_ms = Math.max(this.context.clock.nowMs(), checkpoint?.delivered_until_ms ?? 0);
    this.wheel = new HierarchicalWheel({ tick_ms: this.args.wheel_tick_ms, level_slots: this.args.wheel_level_slots, start_ms, entries_max: this.args.wheel_entries_max });
    this.advanced_to_ms = start_ms;
    this.reader = new StoreReader(this.args);
    const entries: DueEntry[] = [];
    this.log_file.load((index, deliver_at_ms, offset, size) => {
      this.segments.note(this.log_file.segmentOf(index), offset);
      if (checkpoint !== undefined && deliver_at_ms <= checkpoint.delivered_until_ms) return;
      entries.push({ deliver_at_ms, offset, size });
    });
    // Deliveries after the checkpoint: from its offset, or (no checkpoint yet) from the oldest
    // scheduled copy, which every delivery of it follows.
    const scan_from = checkpoint?.commit_log_offset ?? entries[0]?.offset ?? this.control.load('write_offset');
    const delivered_since = this.deliveredBetween(scan_from, this.control.load('write_offset'));
    let restored = 0;
    for (const entry of entries) {
      if (delivered_since.has(entry.offset)) continue;
      if (!this.wheel.schedule(entry.deliver_at_ms, entry.offset, entry.size)) throw new MqError('INTERNAL', `the timing wheel holds ${this.wheel.size} entries, its bound (--wheel-entries-max); the log has more to restore`);
      this.segments.add(entry.offset);
      restored++;
    }
    this.removeDeliveredSegments();
    this.publishFloor();
    this.context.log.info({ restored, delivered_after_checkpoint: delivered_since.size, read_queue_offset: this.log_file.next_index, scan_from }, 'timing wheel restored');
    this.armTimer();
  }

  async receive(message: TimingWheelMessage): Promise<TimingWheelStatus> {
    switch (message.kind) {
      case 'tick':
        await this.tick();
        return this.status();
      case 'status':
        return this.status();
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.writeCheckpoint();
    this.log_file.close();
    this.queue_reader?.close();
    this.reader.close();
  }

  inspect(): Record<string, unknown> {
    return { ...this.status(), memory_bytes: this.wheel.memory_bytes, log_segments: this.segments.count };
  }

  private status(): TimingWheelStatus {
    return { scheduled: this.wheel.size + this.failed.length, delivered: this.delivered, read_queue_offset: this.log_file.next_index, current_ms: this.wheel.current_ms, failed: this.failed.length, retention_floor: this.floor };
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    if (this.stopped) return;
    if (this.failed.length > 0) {
      const retry = await this.notAppended(this.failed);
      if (retry === undefined) {
        this.armTimer();
        return;
      }
      this.failed = [];
      this.failed_from_offset = Number.MAX_SAFE_INTEGER;
      await this.deliver(retry);
    }
    this.readScheduled();
    if (this.failed.length === 0) {
      const due: DueEntry[] = [];
      this.advanced_to_ms = Math.max(this.advanced_to_ms, this.context.clock.nowMs());
      this.wheel.advance(this.advanced_to_ms, (deliver_at_ms, offset, size) => due.push({ deliver_at_ms, offset, size }), timing_wheel_limits.due_per_round_max);
      if (due.length > 0) await this.deliver(due);
    }
    const now_ms = this.context.clock.monotonicMs();
    if (now_ms - this.last_checkpoint_ms >= timing_wheel_limits.checkpoint_interval_ms) {
      this.last_checkpoint_ms = now_ms;
      this.writeCheckpoint();
      this.publishFloor();
      this.removeDeliveredSegments(); // those emptied while still being written
    }
    // More due than one round takes: go on at once (other messages may come first).
    if (this.wheel.pending_due > 0 && this.failed.length === 0) this.self.tell({ kind: 'tick' });
    else this.armTimer();
  }

  /** Reads the schedule queue's new entries into the log and the wheel. */
  private readScheduled(): void {
    const slot = this.positions.find(schedule_topic, 0);
    if (slot < 0) return;
    const window = this.positions.window(slot);
    this.queue_reader ??= new ConsumeQueueReader({ data_dir: this.args.data_dir, topic: schedule_topic, queue_id: 0, entries_per_segment: this.args.consume_queue_entries_per_segment });
    let read = 0;
    // An entry is due no earlier than the next tick: a checkpoint taken at the wheel's
    // current time then never counts it as delivered before it was.
    const earliest_ms = this.wheel.current_ms + this.args.wheel_tick_ms;
    while (this.log_file.next_index < window.max_offset && read < timing_wheel_limits.entries_read_per_tick_max) {
      if (this.wheel.size >= this.args.wheel_entries_max) {
        if (!this.full_warned) this.context.log.warn({ scheduled: this.wheel.size }, 'timing wheel full: newer scheduled messages wait in the schedule queue until older ones are delivered');
        this.full_warned = true;
        break;
      }
      this.full_warned = false;
      const room = this.args.wheel_entries_max - this.wheel.size;
      const result = this.queue_reader.read(this.log_file.next_index, window, { max_count: Math.min(4_096, room) });
      if (result.status !== 'found') {
        this.context.log.error({ status: result.status, queue_offset: this.log_file.next_index, window }, 'schedule queue cannot be read where the wheel log ends');
        break;
      }
      for (const entry of result.entries) {
        const deliver_at_ms = Math.max(entry.tag_hash, earliest_ms);
        const index = this.log_file.append(deliver_at_ms, entry.commit_log_offset, entry.size);
        this.segments.note(this.log_file.segmentOf(index), entry.commit_log_offset);
        this.segments.add(entry.commit_log_offset);
        this.wheel.schedule(deliver_at_ms, entry.commit_log_offset, entry.size);
      }
      read += result.entries.length;
    }
    this.log_file.write();
  }

  /** Re-puts due messages into their topics, in appends of bounded size. A refused append
   *  keeps its messages for the next tick (and holds the checkpoint back until they go). */
  private async deliver(due: DueEntry[]): Promise<void> {
    let batch: { entry: DueEntry; record: RecordInput }[] = [];
    let bytes = 0;
    for (const entry of due) {
      const record = this.recordOf(entry);
      if (record === undefined) continue;
      if (batch.length > 0 && bytes + entry.size > timing_wheel_limits.append_bytes_max) {
        await this.append(batch);
        batch = [];
        bytes = 0;
      }
      batch.push({ entry, record });
      bytes += entry.size;
    }
    if (batch.length > 0) await this.append(batch);
  }

  private recordOf(entry: DueEntry): RecordInput | undefined {
    try {
      const view = this.reader.readRecord(entry.offset);
      if (view.topic !== schedule_topic || view.total_size !== entry.size) {
        throw new MqError('INTERNAL', `CommitLog offset ${entry.offset} holds a ${view.total_size}-byte record of topic ${view.topic}, not the ${entry.size}-byte scheduled message the wheel logged`);
      }
      return deliveredRecordOf(view);
    } catch (error) {
      // Unreadable (damaged, or lost with the page cache): it can never be delivered; say so.
      this.context.log.error({ err: error, offset: entry.offset, deliver_at_ms: entry.deliver_at_ms }, 'scheduled message dropped: its record cannot be read');
      this.finished(entry);
      return undefined;
    }
  }

  private async append(batch: { entry: DueEntry; record: RecordInput }[]): Promise<void> {
    const write_offset_before = this.control.load('write_offset');
    try {
      const images = encodeRecordImages(batch.map((item) => item.record));
      await this.commit_log.ask({ kind: 'append', count: batch.length, images }, { timeout_ms: this.args.flush_timeout_ms * 2 });
    } catch (error) {
      this.context.log.warn({ err: error, messages: batch.length }, 'delayed messages not delivered yet: the store refused them; retrying next tick');
      this.failed.push(...batch.map((item) => item.entry));
      this.failed_from_offset = Math.min(this.failed_from_offset, write_offset_before);
      return;
    }
    for (const item of batch) this.finished(item.entry);
    this.delivered += batch.length;
  }

  /**
   * Of the entries whose append failed, those not in the CommitLog; undefined when the
   * writer does not answer. A timed-out append may still be in the writer's mailbox; the
   * status asked after it is answered after it (one mailbox, in order), so by then the
   * CommitLog shows whether it went in, and a retry never stores a message twice.
   */
  private async notAppended(entries: DueEntry[]): Promise<DueEntry[] | undefined> {
    let write_offset: number;
    try {
      write_offset = (await this.commit_log.ask({ kind: 'status' }, { timeout_ms: this.args.flush_timeout_ms * 2 })).write_offset;
    } catch (error) {
      this.context.log.warn({ err: error, messages: entries.length }, 'delayed messages wait: the CommitLog writer does not answer');
      return undefined;
    }
    const appended = this.deliveredBetween(this.failed_from_offset, write_offset);
    const rest: DueEntry[] = [];
    for (const entry of entries) {
      if (!appended.has(entry.offset)) {
        rest.push(entry);
        continue;
      }
      this.finished(entry);
      this.delivered++;
    }
    return rest;
  }

  private finished(entry: DueEntry): void {
    const emptied = this.segments.remove(entry.offset);
    if (emptied !== undefined && emptied !== this.log_file.segmentOf(this.log_file.next_index)) {
      this.log_file.removeSegment(emptied);
      this.segments.forget(emptied);
    }
  }

  private removeDeliveredSegments(): void {
    const current = this.log_file.segmentOf(this.log_file.next_index);
    for (const start of this.segments.empty()) {
      if (start === current) continue;
      this.log_file.removeSegment(start);
      this.segments.forget(start);
    }
  }

  /** The checkpoint holds only between rounds with nothing failed and nothing left due. */
  private writeCheckpoint(): void {
    if (this.failed.length > 0 || this.wheel.pending_due > 0) return;
    this.log_file.write();
    this.log_file.sync(); // every entry the checkpoint counts as delivered is on disk first
    // Everything due by both the wheel's tick and the clock it was advanced to has gone out;
    // an entry between them (due at the next tick) has not.
    const delivered_until_ms = Math.min(this.wheel.current_ms, this.advanced_to_ms);
    this.checkpoint.write({ delivered_until_ms, commit_log_offset: this.control.load('write_offset') });
  }

  /** Retention keeps everything from the oldest undelivered scheduled copy, and everything
   *  the wheel has not read yet (from the write offset as it is now, or what dispatch has not
   *  put in the queues yet). */
  private publishFloor(): void {
    // Not past what dispatch has put in the queues: a scheduled copy beyond it is in no
    // schedule queue entry yet, and nothing else here knows of it.
    let floor = Math.min(this.control.load('write_offset'), this.control.load('dispatched_offset'));
    const slot = this.positions.find(schedule_topic, 0);
    if (slot >= 0 && this.log_file.next_index < this.positions.window(slot).max_offset) {
      this.queue_reader ??= new ConsumeQueueReader({ data_dir: this.args.data_dir, topic: schedule_topic, queue_id: 0, entries_per_segment: this.args.consume_queue_entries_per_segment });
      const next = this.queue_reader.read(this.log_file.next_index, this.positions.window(slot), { max_count: 1 }).entries[0];
      if (next !== undefined) floor = Math.min(floor, next.commit_log_offset);
    }
    const oldest = this.wheel.minOffset();
    if (oldest !== undefined) floor = Math.min(floor, oldest);
    for (const entry of this.failed) floor = Math.min(floor, entry.offset);
    this.floor = floor;
    this.control.store('retention_floor', floor);
  }

  /** Offsets of scheduled copies delivered in [from_offset, to_offset) of the CommitLog. */
  private deliveredBetween(from_offset: number, to_offset: number): Set<number> {
    const delivered = new Set<number>();
    const segments = new SegmentSet(commitLogDirs(this.args), this.args.commit_log_segment_bytes, 'read-only').load();
    try {
      const start = Math.max(from_offset, segments.min_offset);
      new CommitLogReader(segments).scan(start, to_offset, (record) => {
        const offset = scheduleOffsetOf(record);
        if (offset !== undefined) delivered.add(offset);
      });
    } finally {
      segments.close();
    }
    return delivered;
  }

  private armTimer(): void {
    if (this.stopped || this.timer !== undefined) return;
    const tick_ms = this.args.wheel_tick_ms;
    const now_ms = this.context.clock.nowMs();
    const wait_ms = tick_ms - (now_ms % tick_ms) + 1;
    this.timer = setTimeout(() => this.self.tell({ kind: 'tick' }), wait_ms);
  }
}

export const actor = defineActor<TimingWheelMessage, TimingWheelStatus, StoreArgs>({
  name: 'timing_wheel',
  protocol: timing_wheel_protocol,
  create: (context, args) => new TimingWheelActor(context, args),
});
