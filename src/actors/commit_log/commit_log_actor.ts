import fs from 'node:fs';
import { defineActor, deferReply, type ActorContext } from '../../runtime/actor.js';
import { MqError } from '../../runtime/errors.js';
import { AbortMarker } from '../../storage/abort_marker.js';
import { StoreCheckpoint } from '../../storage/checkpoint.js';
import { CommitLog, queueKey, type SegmentSource } from '../../storage/commit_log.js';
import { recoverCommitLog } from '../../storage/commit_log_recovery.js';
import { DiskGuard } from '../../storage/disk_usage.js';
import { DiskFaultProbe } from '../../storage/disk_fault_probe.js';
import { MappedFile } from '../../storage/mapped_file.js';
import { readQueueTails } from '../../storage/queue_tails.js';
import { SegmentSet } from '../../storage/segment_set.js';
import { store_control, type StoreControl } from '../../storage/store_control.js';
import { abortMarkerPath, checkpointPath, commitLogDirs } from '../../storage/storage_paths.js';
import { flush_address, flush_protocol } from '../flush/flush_messages.js';
import { segment_allocator_address, segment_allocator_protocol } from '../segment_allocator/segment_allocator_messages.js';
import type { StoreArgs } from '../store/store_args.js';
import { ha_roles } from '../replicator/replicator_messages.js';
import { commit_log_protocol, placement_bytes, type CommitLogMessage, type CommitLogReply } from './commit_log_messages.js';
import { OffsetWaiters } from './offset_waiters.js';
import { writeU64 } from '../../storage/record.js';
import { commit_log_limits } from './commit_log_limits.js';


/**
 * The CommitLog writer: the one actor that appends. It owns the CommitLog (segments, write
 * offset, queue-offset table) and publishes the write offset in the store control block.
 *
 * Start = recovery from durable state only (checkpoint, abort marker, the ConsumeQueues'
 * tails, the records themselves), so a restart after a crash rebuilds the same state.
 *
 * Flush: async — the flush actor flushes on its own timer, hinted here when much is dirty;
 * sync — every append tells the flush actor and its acknowledgement waits (deferred, the
 * mailbox keeps going) until a flush covers its bytes: group commit, one fdatasync for all
 * batches appended meanwhile.
 *
 * Replication: on a master under sync replication the acknowledgement also waits until the
 * replicator reports that enough slaves hold the bytes (`replicated`). On a slave (store
 * control `ha_role`) the writer refuses appends and takes `append_replica` chunks instead:
 * the master's bytes at the master's offsets.
 */
class CommitLogActor {
  private log!: CommitLog;
  private readonly control: StoreControl;
  private readonly disk: DiskGuard;
  private readonly flush_waiters: OffsetWaiters;
  private readonly replica_waiters: OffsetWaiters;
  private readonly prepared = new Set<number>();
  private flush_hint_outstanding = false;
  /** Start of the next segment already asked of the allocator (-1: none yet). */
  private next_requested = -1;
  private segments!: SegmentSet;
  private retention_timer: NodeJS.Timeout | undefined;
  private release_timer: NodeJS.Timeout | undefined;
  private readonly flush;
  private readonly allocator;

  constructor(
    private readonly context: ActorContext,
    private readonly args: StoreArgs,
  ) {
    this.control = store_control.attach(args.control);
    this.flush_waiters = new OffsetWaiters(args.flush_timeout_ms);
    this.replica_waiters = new OffsetWaiters(args.replication_timeout_ms);
    // The disk fault probe (disk_fault_probe.ts) can make the guard see a full disk.
    this.disk = new DiskGuard({ directory: args.data_dir, high_water_ratio: args.disk_high_water_ratio, log: context.log, statfs: new DiskFaultProbe(args.data_dir).statfs((directory) => fs.statfsSync(directory)) });
    this.flush = context.actorOf(flush_address, flush_protocol);
    this.allocator = context.actorOf(segment_allocator_address, segment_allocator_protocol);
  }

  start(): void {
    const args = this.args;
    const segments = new SegmentSet(commitLogDirs(args), args.commit_log_segment_bytes, 'read-write').load();
    this.segments = segments;
    const checkpoint = new StoreCheckpoint({ path: checkpointPath(args.data_dir), log: this.context.log });
    checkpoint.load();
    const crashed = new AbortMarker(abortMarkerPath(args.data_dir)).exists();
    const tails = readQueueTails(args.data_dir, args.consume_queue_entries_per_segment);
    const queue_offsets = new Map(tails.map((tail) => [queueKey(tail.topic, tail.queue_id), tail.max_offset]));
    // Scan from the oldest point any queue still needs: records past a queue's tail carry the
    // queue offsets that the table must count.
    let scan_from = checkpoint.state.commit_log_flushed_offset;
    for (const tail of tails) scan_from = Math.min(scan_from, tail.coverage_end);
    if (tails.length === 0) scan_from = segments.min_offset;
    const recovery = recoverCommitLog(segments, scan_from, { zero_after_end: crashed }, (record) => {
      const key = queueKey(record.topic, record.queue_id);
      queue_offsets.set(key, Math.max(queue_offsets.get(key) ?? 0, record.queue_offset + 1));
    });
    // The segment being written must exist before the allocator prepares the next one, or a
    // reader listing the directory would take the prepared segment for the start of the log.
    if (segments.empty) segments.createNext(segments.startOf(recovery.end_offset));
    if (recovery.damage !== undefined) this.context.log.warn({ end_offset: recovery.end_offset, damage: recovery.damage }, 'CommitLog cut at a damaged record');
    const source: SegmentSource = { next: (start_offset) => this.nextSegment(segments, start_offset) };
    this.log = new CommitLog(segments, { write_offset: recovery.end_offset, queue_offsets }, { ipv4: args.store_ipv4, port: args.store_port }, this.context.clock, source);
    this.control.store('min_offset', segments.min_offset);
    this.control.store('flush_offset', Math.min(this.control.load('flush_offset') || checkpoint.state.commit_log_flushed_offset, recovery.end_offset));
    this.publish();
    this.context.log.info({ end_offset: recovery.end_offset, scanned: recovery.records_scanned, crashed, queues: queue_offsets.size }, 'CommitLog recovered');
    this.prepareNextIfHalfFull();
    // What recovery found past the checkpoint may hold acknowledged records; under sync flush
    // dispatch follows the flush offset, so flush now rather than at the next append.
    if (this.control.load('flush_offset') < recovery.end_offset) this.flush.tell({ kind: 'flush' });
    this.retention_timer = setInterval(() => this.applyRetention(), args.retention_check_interval_ms);
  }

  receive(message: CommitLogMessage): CommitLogReply {
    switch (message.kind) {
      case 'append':
        return this.append(message.count, message.images);
      case 'flushed':
        this.flushed(message.offset);
        return this.status();
      case 'append_replica':
        return this.appendReplica(message.offset, message.bytes);
      case 'replicated':
        this.replica_waiters.covered(message.offset);
        return this.status();
      case 'status':
        return this.status();
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.retention_timer);
    clearTimeout(this.release_timer);
    // Everything appended is flushed before the writer goes (the flush actor stops after it).
    await this.flush.ask({ kind: 'flush_now' }, { timeout_ms: this.args.flush_timeout_ms * 10 }).catch((error: unknown) => {
      this.context.log.error({ err: error }, 'final flush failed');
    });
    this.flush_waiters.settleAll(this.control.load('flush_offset'));
    this.replica_waiters.settleAll(this.control.load('replicated_offset'));
    this.log?.close();
  }

  inspect(): Record<string, unknown> {
    return {
      write_offset: this.log?.offset,
      flush_offset: this.control.load('flush_offset'),
      replicated_offset: this.control.load('replicated_offset'),
      flush_waiters: this.flush_waiters.size,
      replica_waiters: this.replica_waiters.size,
      prepared_segments: [...this.prepared],
    };
  }

  private append(count: number, images: Buffer): CommitLogReply {
    if (this.control.load('ha_role') === ha_roles.slave) {
      throw new MqError('NOT_MASTER', `broker ${this.args.broker_name} (id ${this.args.broker_id}) is a slave: it stores only what its master replicates; send to the master`);
    }
    this.disk.checkWritable();
    if (count === 0) throw new MqError('BAD_REQUEST', 'an append batch holds no record');
    const results = this.log.appendImages(images, count);
    const end_offset = this.publish();
    this.prepareNextIfHalfFull();
    const placements = Buffer.allocUnsafe(count * placement_bytes);
    results.forEach((result, index) => {
      writeU64(placements, index * placement_bytes, result.physical_offset);
      writeU64(placements, index * placement_bytes + 8, result.queue_offset);
    });
    const reply = (status: CommitLogReply['status']): CommitLogReply => ({ status, store_timestamp: results[0]?.store_timestamp ?? 0, write_offset: end_offset, placements });
    const flushed = this.flushFor(end_offset);
    if (this.args.replication_mode === 'async') return flushed === true ? reply('PUT_OK') : deferReply(flushed.then((ok) => reply(ok ? 'PUT_OK' : 'FLUSH_DISK_TIMEOUT')));
    // Sync replication: RocketMQ answers SLAVE_NOT_AVAILABLE at once when no slave is in sync
    // (the record is stored here all the same); otherwise the ack waits for the slaves.
    const replicated: Promise<boolean> | 'no slave' = this.control.load('replicas_in_sync') === 0 ? 'no slave' : this.replicatedFor(end_offset);
    return deferReply(Promise.all([flushed, replicated]).then(([disk_ok, slaves]) => {
      if (disk_ok === false) return reply('FLUSH_DISK_TIMEOUT');
      if (slaves === 'no slave') return reply('SLAVE_NOT_AVAILABLE');
      return reply(slaves ? 'PUT_OK' : 'FLUSH_SLAVE_TIMEOUT');
    }));
  }

  /** True when nothing is to wait for (async flush: hinted when much is dirty), else the flush's promise. */
  private flushFor(end_offset: number): true | Promise<boolean> {
    if (this.args.flush_mode === 'async') {
      if (!this.flush_hint_outstanding && end_offset - this.control.load('flush_offset') >= this.args.flush_dirty_bytes) {
        this.flush_hint_outstanding = true;
        this.flush.tell({ kind: 'flush' });
      }
      return true;
    }
    this.flush.tell({ kind: 'flush' });
    return this.control.load('flush_offset') >= end_offset ? Promise.resolve(true) : this.flush_waiters.until(end_offset);
  }

  private replicatedFor(end_offset: number): Promise<boolean> {
    return this.control.load('replicated_offset') >= end_offset ? Promise.resolve(true) : this.replica_waiters.until(end_offset);
  }

  /**
   * A chunk of the master's CommitLog, on a slave: checked and copied at this log's end
   * (CommitLog.appendReplica), published for dispatch; under sync flush answered once it is
   * on disk, so the slave's acknowledgement to its master means durable here.
   */
  private appendReplica(offset: number, bytes: Buffer): CommitLogReply {
    if (this.control.load('ha_role') !== ha_roles.slave) {
      throw new MqError('NOT_MASTER', `broker ${this.args.broker_name} is a master: it does not take another broker's CommitLog bytes`);
    }
    this.disk.checkWritable();
    this.log.appendReplica(offset, bytes);
    const end_offset = this.publish();
    this.prepareNextIfHalfFull();
    const reply = (status: CommitLogReply['status']): CommitLogReply => ({ status, store_timestamp: 0, write_offset: end_offset, placements: Buffer.alloc(0) });
    const flushed = this.flushFor(end_offset);
    return flushed === true ? reply('PUT_OK') : deferReply(flushed.then((ok) => reply(ok ? 'PUT_OK' : 'FLUSH_DISK_TIMEOUT')));
  }

  /** Publishes the write offset to every thread and wakes whoever follows it. */
  private publish(): number {
    const end_offset = this.log.offset;
    this.control.store('write_offset', end_offset);
    this.control.add('write_seq', 1);
    this.control.notify('write_seq');
    return end_offset;
  }

  private flushed(offset: number): void {
    this.flush_hint_outstanding = false;
    this.flush_waiters.covered(offset);
  }

  private nextSegment(segments: SegmentSet, start_offset: number): MappedFile {
    const segment = this.prepared.delete(start_offset)
      ? MappedFile.open(segments.pathOf(start_offset), start_offset, this.args.commit_log_segment_bytes, 'read-write')
      : MappedFile.create(segments.pathOf(start_offset), start_offset, this.args.commit_log_segment_bytes);
    segments.addNext(segment);
    return segment;
  }

  /**
   * Once the current segment is half written, asks the allocator for the next one (RocketMQ
   * prepares ahead too): early enough that it is warm when the roll comes, late enough that
   * an idle or short-lived node never warms a segment it will not use. The answer (when the
   * segment is ready) marks it prepared, between two of this actor's messages.
   */
  private prepareNextIfHalfFull(): void {
    if (!this.args.preallocate) return;
    const segment_bytes = this.args.commit_log_segment_bytes;
    const offset = this.log.offset;
    const current_start = offset - (offset % segment_bytes);
    const next_start = current_start + segment_bytes;
    if (next_start === this.next_requested || offset - current_start < segment_bytes / 2) return;
    this.next_requested = next_start;
    this.allocator.ask({ kind: 'prepare', start_offset: next_start }, { timeout_ms: 600_000 }).then(
      (start_offset) => this.prepared.add(start_offset),
      (error: unknown) => this.context.log.warn({ err: error, start_offset: next_start }, 'segment not prepared ahead; the roll will create it'),
    );
  }

  /**
   * Deletes whole CommitLog segments, oldest first: those last written longer ago than the
   * retention, and — while the disk is above its high-water mark — the oldest one per check
   * whatever its age (RocketMQ's "clean immediately": a full disk must not stop the broker).
   * The segment being written is never deleted, nor any at or after the timing wheel's or
   * the transaction actor's floor (store_control.ts). The new min offset is published; the
   * ConsumeQueue actors drop their entries below it, readers see it through their windows.
   * Runs on this thread between messages, so no append races it.
   */
  private applyRetention(): void {
    // Segments deleted at an earlier check whose blocks could not be given back then (a
    // slave's stream still had their bytes queued) are given back first: this check's
    // measure of the disk counts them.
    this.releaseRetired();
    const segments = this.segments;
    const current_start = segments.startOf(this.log.offset);
    const expired_before_ms = Date.now() - this.args.retention_ms;
    let delete_before = segments.min_offset;
    let pressured = this.disk.usage().refusing;
    // Scheduled messages not delivered yet keep their segments, whatever their age or the disk.
    const floor = Math.min(this.control.load('retention_floor'), this.control.load('transaction_floor'));
    for (let start = segments.min_offset; start < current_start && start + this.args.commit_log_segment_bytes <= floor; start += this.args.commit_log_segment_bytes) {
      const file = segments.pathOf(start);
      const expired = fs.existsSync(file) && fs.statSync(file).mtimeMs < expired_before_ms;
      if (!expired && !pressured) break;
      pressured = false; // disk pressure takes one segment per check: the next check re-measures
      delete_before = start + this.args.commit_log_segment_bytes;
    }
    if (delete_before === segments.min_offset) return;
    const min_offset = segments.retireBefore(delete_before, Date.now());
    this.control.store('min_offset', min_offset);
    this.context.log.info({ min_offset }, 'CommitLog segments deleted by retention');
    this.release_timer ??= setTimeout(() => {
      this.release_timer = undefined;
      this.releaseRetired();
    }, commit_log_limits.retired_release_grace_ms);
  }

  /** Gives back the disk blocks of deleted segments nothing reads any more. */
  private releaseRetired(): void {
    const { released, waiting } = this.segments.releaseRetired(Date.now(), commit_log_limits.retired_release_grace_ms, this.control.load('ha_stream_floor'));
    if (released > 0 || waiting > 0) this.context.log.debug({ released, waiting }, 'disk blocks of deleted CommitLog segments given back');
  }

  private status(): CommitLogReply {
    return { status: 'PUT_OK', store_timestamp: 0, write_offset: this.log.offset, placements: Buffer.alloc(0) };
  }
}

export const actor = defineActor<CommitLogMessage, CommitLogReply, StoreArgs>({
  name: 'commit_log',
  protocol: commit_log_protocol,
  create: (context, args) => new CommitLogActor(context, args),
});
