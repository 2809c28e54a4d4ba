import { transaction_half_topic } from '../../protocol/index.js';
import { defineActor, deferReply, type ActorContext } from '../../runtime/actor.js';
import type { ActorRef } from '../../runtime/actor_ref.js';
import { MqError } from '../../runtime/errors.js';
import { CommitLogReader } from '../../storage/commit_log_reader.js';
import { ConsumeQueueReader } from '../../storage/consume_queue_reader.js';
import { QueuePositions } from '../../storage/queue_positions.js';
import { encodeRecordImages, type RecordInput, type RecordView } from '../../storage/record.js';
import { SegmentSet } from '../../storage/segment_set.js';
import { store_control, type StoreControl } from '../../storage/store_control.js';
import { StoreReader } from '../../storage/store_reader.js';
import { commitLogDirs, transactionCheckpointPath } from '../../storage/storage_paths.js';
import { TransactionCheckpoint } from '../../storage/transaction_checkpoint.js';
import { commit_log_address, commit_log_protocol, type CommitLogMessage, type CommitLogReply } from '../commit_log/commit_log_messages.js';
import type { StoreArgs } from '../store/store_args.js';
import { committedRecordOf, decidedHalfOffsetOf, operationRecordOf, producerGroupOf, type TransactionDecision } from './transaction_records.js';
import { transaction_protocol, type DueCheck, type TransactionMessage, type TransactionReply } from './transaction_messages.js';

export const transaction_limits = {
  /** How often new half messages are read (and the checkpoint considered). */
  tick_ms: 200,
  checkpoint_interval_ms: 1_000,
  /** Half-queue entries read per tick. */
  entries_read_per_tick_max: 4_096,
  /** Decisions appended and not answered yet; an END_TRANSACTION beyond gets BUSY. */
  decisions_in_flight_max: 4_096,
} as const;

interface Undecided {
  size: number;
  producer_group: string;
  checks: number;
  next_check_ms: number;
}

/**
 * Transaction half messages, from stored to decided. Reads the half queue (`%TRANS_HALF%`),
 * keeps every undecided half message in memory, records each decision — COMMIT: the message
 * re-put into its real topic plus an operation record, in one append; ROLLBACK: the
 * operation record only (transaction_records.ts) — and hands the broker the half messages
 * whose check-back is due (the broker asks a live producer of the group; after
 * `transaction_check_max` checks the message is rolled back and that is logged).
 *
 * A decision does not hold up the mailbox while its append waits for the writer (and, under
 * sync flush, for the disk): its reply is deferred, so the decisions of many transactions
 * share one group commit. While in flight a decision is in `deciding`: a second answer for
 * the same half message waits for it, check-backs skip it, and a checkpoint scans from
 * before its append.
 *
 * Nothing is lost or decided twice by a restart, kill -9 included: the checkpoint
 * (transaction_checkpoint.ts) lists the undecided half messages and where the half queue was
 * read to; decisions after it are found by scanning the CommitLog from its offset. A decision
 * whose append failed is looked for in the CommitLog (behind a status ask to the writer)
 * before it is reported failed, so a late append is never repeated. Retention keeps the
 * CommitLog from the oldest undecided half message (`transaction_floor`).
 *
 * Runs on the service thread, one message at a time.
 */
class TransactionActor {
  private readonly control: StoreControl;
  private readonly positions: QueuePositions;
  private readonly checkpoint: TransactionCheckpoint;
  private readonly commit_log: ActorRef<CommitLogMessage, CommitLogReply>;
  private readonly self;
  private readonly undecided = new Map<number, Undecided>();
  /** Decided before their half-queue entry was read (an END_TRANSACTION faster than dispatch). */
  private readonly decided_ahead = new Set<number>();
  /** Decisions appended, not answered yet: half offset → the write offset before the append
   *  (a restart's scan from there finds the decision) and its end. */
  private readonly deciding = new Map<number, { scan_from: number; done: Promise<void> }>();
  private reader!: StoreReader;
  private queue_reader: ConsumeQueueReader | undefined;
  private read_queue_offset = 0;
  private committed = 0;
  private rolled_back = 0;
  private dirty = true;
  private last_checkpoint_ms = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly context: ActorContext,
    private readonly args: StoreArgs,
  ) {
    this.control = store_control.attach(args.control);
    this.positions = new QueuePositions(args.queue_positions);
    this.checkpoint = new TransactionCheckpoint(transactionCheckpointPath(args.data_dir), context.log);
    this.commit_log = context.actorOf(commit_log_address, commit_log_protocol);
    this.self = context.actorOf(context.address, transaction_protocol);
  }

  start(): void {
    this.reader = new StoreReader(this.args);
    const checkpoint = this.checkpoint.read();
    for (const entry of checkpoint?.undecided ?? []) this.remember(entry.offset, entry.checks);
    this.read_queue_offset = checkpoint?.half_queue_offset ?? 0;
    // Decisions since the checkpoint; without one, since the oldest half message.
    const scan_from = checkpoint?.commit_log_offset ?? this.firstHalfOffset() ?? this.control.load('write_offset');
    const decided = this.decisionsBetween(scan_from, this.control.load('write_offset'));
    for (const offset of decided) if (!this.undecided.delete(offset)) this.decided_ahead.add(offset);
    this.readHalfQueue();
    this.publishFloor();
    this.context.log.info({ undecided: this.undecided.size, decided_since_checkpoint: decided.size, read_queue_offset: this.read_queue_offset }, 'transactions restored');
    this.arm();
  }

  receive(message: TransactionMessage): TransactionReply {
    switch (message.kind) {
      case 'tick':
        this.tick();
        return this.reply('');
      case 'end':
        return this.end(message.half_offset, message.outcome);
      case 'due_checks':
        return { ...this.reply(''), checks: this.dueChecks(message.max) };
      case 'status':
        return this.reply('');
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.writeCheckpoint();
    this.queue_reader?.close();
    this.reader.close();
  }

  inspect(): Record<string, unknown> {
    return { undecided: this.undecided.size, committed: this.committed, rolled_back: this.rolled_back, read_queue_offset: this.read_queue_offset };
  }

  private reply(result: string): TransactionReply {
    return { result, checks: [], undecided: this.undecided.size, committed: this.committed, rolled_back: this.rolled_back, read_queue_offset: this.read_queue_offset };
  }

  private tick(): void {
    this.timer = undefined;
    if (this.stopped) return;
    this.readHalfQueue();
    const now_ms = this.context.clock.monotonicMs();
    if (now_ms - this.last_checkpoint_ms >= transaction_limits.checkpoint_interval_ms) {
      this.last_checkpoint_ms = now_ms;
      if (this.dirty) this.writeCheckpoint();
      this.publishFloor();
    }
    this.arm();
  }

  private end(half_offset: number, outcome: 'COMMIT' | 'ROLLBACK' | 'UNKNOWN'): TransactionReply {
    const in_flight = this.deciding.get(half_offset);
    // The first answer wins; if its append fails, this one fails the same way.
    if (in_flight !== undefined) return deferReply(in_flight.done.then(() => this.reply('ALREADY_DECIDED')));
    const half = this.halfRecord(half_offset);
    if (!this.undecided.has(half_offset)) {
      // Read from the half queue already, or decided ahead of it: decided before.
      if (this.decided_ahead.has(half_offset) || half.queue_offset < this.read_queue_offset) return this.reply('ALREADY_DECIDED');
    }
    if (outcome === 'UNKNOWN') return this.reply('UNDECIDED');
    if (this.deciding.size >= transaction_limits.decisions_in_flight_max) {
      throw new MqError('BUSY', `${this.deciding.size} transaction outcomes are being stored already (the limit); send it again shortly`);
    }
    return deferReply(this.decide(half, outcome).then(() => this.reply(outcome === 'COMMIT' ? 'COMMITTED' : 'ROLLED_BACK')));
  }

  /** Due check-backs (each counted now); those checked `transaction_check_max` times are rolled back. */
  private dueChecks(max: number): DueCheck[] {
    const now_ms = this.context.clock.nowMs();
    const due: DueCheck[] = [];
    for (const [offset, entry] of this.undecided) {
      if (due.length >= max) break;
      if (entry.next_check_ms > now_ms || this.deciding.has(offset)) continue;
      if (entry.checks >= this.args.transaction_check_max) {
        this.giveUp(offset);
        continue;
      }
      entry.checks++;
      entry.next_check_ms = now_ms + this.args.transaction_check_interval_ms;
      this.dirty = true;
      due.push({ half_offset: offset, producer_group: entry.producer_group, check_times: entry.checks });
    }
    return due;
  }

  /** Rolls back a half message nobody decided within the maximum number of checks. */
  private giveUp(offset: number): void {
    const half = this.halfRecord(offset);
    const fields = { half_offset: offset, producer_group: producerGroupOf(half), checks: this.args.transaction_check_max };
    this.decide(half, 'ROLLBACK').then(
      () => this.context.log.warn(fields, 'transaction rolled back: no producer of its group gave an outcome within the maximum number of checks'),
      (error: unknown) => this.context.log.error({ ...fields, err: error }, 'transaction rollback after the maximum checks not stored; tried again at the next check round'),
    );
  }

  private halfRecord(half_offset: number): RecordView {
    let half: RecordView;
    try {
      half = this.reader.readRecord(half_offset);
    } catch (error) {
      throw new MqError('BAD_REQUEST', `no half message at CommitLog offset ${half_offset}: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (half.topic !== transaction_half_topic) throw new MqError('BAD_REQUEST', `CommitLog offset ${half_offset} holds a message of topic ${half.topic}, not a half message`);
    return half;
  }

  /**
   * Appends the decision, in `deciding` until its append is answered; the bookkeeping runs
   * then (between messages: this thread runs one thing at a time). A failed append is looked
   * for before it is reported failed.
   */
  private decide(half: RecordView, decision: TransactionDecision): Promise<void> {
    const offset = half.physical_offset;
    const records: RecordInput[] = decision === 'COMMIT' ? [committedRecordOf(half), operationRecordOf(offset, decision, Date.now())] : [operationRecordOf(offset, decision, Date.now())];
    // The writer appends at or after its write offset now: a scan from here finds the decision.
    const scan_from = this.control.load('write_offset');
    const done = this.append(offset, records, scan_from).then(() => {
      this.undecided.delete(offset);
      if (half.queue_offset >= this.read_queue_offset) this.decided_ahead.add(offset);
      if (decision === 'COMMIT') this.committed++;
      else this.rolled_back++;
      this.dirty = true;
    }).finally(() => this.deciding.delete(offset));
    this.deciding.set(offset, { scan_from, done });
    return done;
  }

  private async append(half_offset: number, records: RecordInput[], write_offset_before: number): Promise<void> {
    try {
      await this.commit_log.ask({ kind: 'append', count: records.length, images: encodeRecordImages(records) }, { timeout_ms: this.args.flush_timeout_ms * 2 });
    } catch (error) {
      if (!(await this.appendedAfterAll(half_offset, write_offset_before))) {
        throw new MqError('BROKER_UNAVAILABLE', `the transaction outcome was not stored (${error instanceof Error ? error.message : String(error)}); it stays undecided and is checked back later`);
      }
    }
  }

  /** Whether a decision for `half_offset` went in after all (an append that timed out late);
   *  the status is answered after the append it follows (one mailbox, in order). */
  private async appendedAfterAll(half_offset: number, from_offset: number): Promise<boolean> {
    try {
      const status = await this.commit_log.ask({ kind: 'status' }, { timeout_ms: this.args.flush_timeout_ms * 2 });
      return this.decisionsBetween(from_offset, status.write_offset).has(half_offset);
    } catch {
      return false;
    }
  }

  /** New half messages from the half queue. */
  private readHalfQueue(): void {
    const slot = this.positions.find(transaction_half_topic, 0);
    if (slot < 0) return;
    const window = this.positions.window(slot);
    if (this.read_queue_offset < window.min_offset) this.read_queue_offset = window.min_offset;
    this.queue_reader ??= new ConsumeQueueReader({ data_dir: this.args.data_dir, topic: transaction_half_topic, queue_id: 0, entries_per_segment: this.args.consume_queue_entries_per_segment });
    let read = 0;
    while (this.read_queue_offset < window.max_offset && read < transaction_limits.entries_read_per_tick_max && this.undecided.size < this.args.transaction_undecided_max) {
      const result = this.queue_reader.read(this.read_queue_offset, window, { max_count: 1_024 });
      if (result.status !== 'found') break;
      for (const entry of result.entries) {
        if (!this.decided_ahead.delete(entry.commit_log_offset)) this.remember(entry.commit_log_offset, 0);
      }
      this.read_queue_offset = result.next_queue_offset;
      read += result.entries.length;
      this.dirty = true;
    }
  }

  private remember(half_offset: number, checks: number): void {
    let half: RecordView;
    try {
      half = this.halfRecord(half_offset);
    } catch (error) {
      this.context.log.error({ err: error, half_offset }, 'half message unreadable: its transaction cannot be decided');
      return;
    }
    this.undecided.set(half_offset, { size: half.total_size, producer_group: producerGroupOf(half), checks, next_check_ms: half.store_timestamp + this.args.transaction_check_interval_ms });
  }

  private firstHalfOffset(): number | undefined {
    const slot = this.positions.find(transaction_half_topic, 0);
    if (slot < 0) return undefined;
    const window = this.positions.window(slot);
    this.queue_reader ??= new ConsumeQueueReader({ data_dir: this.args.data_dir, topic: transaction_half_topic, queue_id: 0, entries_per_segment: this.args.consume_queue_entries_per_segment });
    return this.queue_reader.read(window.min_offset, window, { max_count: 1 }).entries[0]?.commit_log_offset;
  }

  /** Half messages decided in [from_offset, to_offset) of the CommitLog. */
  private decisionsBetween(from_offset: number, to_offset: number): Set<number> {
    const decided = new Set<number>();
    const segments = new SegmentSet(commitLogDirs(this.args), this.args.commit_log_segment_bytes, 'read-only').load();
    try {
      new CommitLogReader(segments).scan(Math.max(from_offset, segments.min_offset), to_offset, (record) => {
        const offset = decidedHalfOffsetOf(record);
        if (offset !== undefined) decided.add(offset);
      });
    } finally {
      segments.close();
    }
    return decided;
  }

  private writeCheckpoint(): void {
    // Decided ahead of the half queue: not in the list, and read again from the queue at a
    // restart, so the scan must reach back to them (a decision follows its half message).
    let scan_from = this.control.load('write_offset');
    for (const offset of this.decided_ahead) scan_from = Math.min(scan_from, offset);
    // Decisions in flight are listed as undecided; their records lie after these offsets.
    for (const entry of this.deciding.values()) scan_from = Math.min(scan_from, entry.scan_from);
    this.checkpoint.write({
      half_queue_offset: this.read_queue_offset,
      commit_log_offset: scan_from,
      undecided: [...this.undecided].map(([offset, entry]) => ({ offset, checks: entry.checks })),
    });
    this.dirty = false;
  }

  /** Retention keeps the oldest undecided half message and what is not read yet. */
  private publishFloor(): void {
    let floor = this.control.load('write_offset');
    for (const offset of this.undecided.keys()) floor = Math.min(floor, offset);
    const slot = this.positions.find(transaction_half_topic, 0);
    if (slot >= 0 && this.queue_reader !== undefined) {
      const window = this.positions.window(slot);
      if (this.read_queue_offset < window.max_offset) {
        const next = this.queue_reader.read(this.read_queue_offset, window, { max_count: 1 }).entries[0];
        if (next !== undefined) floor = Math.min(floor, next.commit_log_offset);
      }
    }
    this.control.store('transaction_floor', floor);
  }

  private arm(): void {
    if (this.stopped || this.timer !== undefined) return;
    this.timer = setTimeout(() => this.self.tell({ kind: 'tick' }), transaction_limits.tick_ms);
  }
}

export const actor = defineActor<TransactionMessage, TransactionReply, StoreArgs>({
  name: 'transaction',
  protocol: transaction_protocol,
  create: (context, args) => new TransactionActor(context, args),
});
