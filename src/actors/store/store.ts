import fs from 'node:fs';
import type { ActorRef } from '../../runtime/actor_ref.js';
import type { ActorSystem } from '../../runtime/actor_system.js';
import { logger } from '../../runtime/log.js';
import { AbortMarker } from '../../storage/abort_marker.js';
import { StoreCheckpoint } from '../../storage/checkpoint.js';
import { recoverCommitLog } from '../../storage/commit_log_recovery.js';
import { ConsumeQueue } from '../../storage/consume_queue.js';
import { rebuildConsumeQueuesInPool } from '../../storage/consume_queue_rebuild.js';
import { KnownQueues } from '../../storage/known_queues.js';
import { QueuePositions } from '../../storage/queue_positions.js';
import { storeView, type StoreView } from './store_view.js';
import { flush_latency_histogram, replication_lag_histogram, type HistogramSnapshot } from '../../storage/shared_histogram.js';
import { readQueueTails } from '../../storage/queue_tails.js';
import { SegmentSet } from '../../storage/segment_set.js';
import { store_control } from '../../storage/store_control.js';
import { StoreReader } from '../../storage/store_reader.js';
import { abortMarkerPath, checkpointPath, commitLogDirs, transactionCheckpointPath, wheelCheckpointPath, wheelLogDir } from '../../storage/storage_paths.js';
import { WheelLog } from '../../storage/wheel_log.js';
import { schedule_topic } from '../../protocol/index.js';
import { truncateCommitLog } from '../../storage/commit_log_truncation.js';
import { encodeRecordImages, readU64, type RecordInput, type RecordView } from '../../storage/record.js';
import { checkKeyIndexGeometry, key_index_file_limits } from '../../storage/key_index_layout.js';
import { key_index_limits, type KeyIndexTimeRange } from '../../storage/key_index.js';
import { decodeMessageProperties } from '../../storage/message_properties.js';
import { MqError } from '../../runtime/errors.js';
import { commit_log_address, commit_log_module_url, commit_log_protocol, placement_bytes, type AppendResult, type CommitLogMessage, type CommitLogReply } from '../commit_log/commit_log_messages.js';
import { dispatch_address, dispatch_module_url, dispatch_protocol } from '../dispatch/dispatch_messages.js';
import { key_index_address, key_index_module_url, key_index_protocol, key_index_time_max_ms, type KeyIndexMessage, type KeyIndexReply } from '../key_index/key_index_messages.js';
import { flush_address, flush_module_url, flush_protocol } from '../flush/flush_messages.js';
import { offset_store_address, offset_store_module_url, offset_store_protocol, type OffsetStoreMessage } from '../offset_store/offset_store_messages.js';
import { transaction_address, transaction_module_url, transaction_protocol, type TransactionMessage, type TransactionReply } from '../transaction/transaction_messages.js';
import { timing_wheel_address, timing_wheel_module_url, timing_wheel_protocol, type TimingWheelMessage, type TimingWheelStatus } from '../timing_wheel/timing_wheel_messages.js';
import { segment_allocator_address, segment_allocator_module_url, segment_allocator_protocol } from '../segment_allocator/segment_allocator_messages.js';
import { ha_roles, replicator_address, replicator_module_url, replicator_protocol, type ReplicatorMessage, type ReplicatorStatus } from '../replicator/replicator_messages.js';
import { ha_access_off } from '../replicator/ha_access.js';
import type { StoreArgs } from './store_args.js';

export const store_defaults = {
  commit_log_segment_bytes: 1 << 30,
  consume_queue_entries_per_segment: 300_000,
  flush_mode: 'async',
  flush_timeout_ms: 5_000,
  flush_interval_ms: 500,
  flush_dirty_bytes: 16 << 20,
  disk_high_water_ratio: 0.9,
  /** Queues lagging the CommitLog by more than this are rebuilt on the CPU pool at start,
   *  before the actors run; a smaller lag is re-dispatched by the dispatch actor. */
  rebuild_gap_bytes: 64 << 20,
  preallocate: true,
  retention_ms: 72 * 60 * 60 * 1000,
  retention_check_interval_ms: 10_000,
  /** RocketMQ's IndexFile sizes: 5 M slots, 20 M entries, ~420 MB per file (sparse). */
  key_index_slots_per_file: key_index_file_limits.slots_per_file_default,
  key_index_entries_per_file: key_index_file_limits.entries_per_file_default,
  wheel_tick_ms: 100,
  /** 100 ms × 10 = 1 s, × 60 = 1 min, × 60 = 1 h, × 24 = 1 day, × 64 = 64 days. */
  wheel_level_slots: [10, 60, 60, 24, 64] as readonly number[],
  /** ~32 bytes each in memory: 4 M scheduled messages take ~128 MB. */
  wheel_entries_max: 4_000_000,
  transaction_check_interval_ms: 60_000,
  transaction_check_max: 15,
  transaction_undecided_max: 1_000_000,
  replication_mode: 'async',
  replication_acks: 1,
  replication_timeout_ms: 3_000,
} as const;

export interface StoreOptions extends Partial<Omit<StoreArgs, 'data_dir' | 'control' | 'queue_positions'>> {
  data_dir: string;
  /** A master takes appends; a slave only its master's bytes, through the replicator, and
   *  runs no timing wheel or transaction actor until it is promoted (default: master). */
  role?: 'master' | 'slave';
  rebuild_gap_bytes?: number;
  /** Thread of the CommitLog writer (default 1). */
  writer_thread?: number;
  /** Thread of flush, allocator, dispatch and offsets (default 2 when there are two threads). */
  service_thread?: number;
}

/**
 * The broker's store, as seen from the main thread: opens it (recovery, then the actors),
 * appends through the CommitLog writer, reads through a StoreReader, closes it.
 *
 * Actors, in start order (stop runs backwards): segment allocator, flush, CommitLog writer,
 * dispatch (which spawns one ConsumeQueue actor per queue), key index, offset store,
 * replicator, timing wheel, transactions — the last two on a master only: they append (due
 * messages, decisions), which a slave's log must not do; `promote` starts them. The abort
 * marker exists from when the actors run until they all stopped cleanly.
 */
export class Store {
  readonly args: StoreArgs;
  readonly commit_log: ActorRef<CommitLogMessage, CommitLogReply>;
  readonly offsets: ActorRef<OffsetStoreMessage, number>;
  readonly wheel: ActorRef<TimingWheelMessage, TimingWheelStatus>;
  readonly transactions: ActorRef<TransactionMessage, TransactionReply>;
  readonly replicator: ActorRef<ReplicatorMessage, ReplicatorStatus>;
  readonly key_index: ActorRef<KeyIndexMessage, KeyIndexReply>;
  private readonly marker: AbortMarker;
  private service_thread = 1;
  private writer_thread = 1;
  private rebuild_gap_bytes: number = store_defaults.rebuild_gap_bytes;
  private master_actors_running = false;
  private main_reader: StoreReader | undefined;
  private closed = false;

  private constructor(
    private readonly system: ActorSystem,
    args: StoreArgs,
  ) {
    this.args = args;
    this.marker = new AbortMarker(abortMarkerPath(args.data_dir));
    this.commit_log = system.actorOf(commit_log_address, commit_log_protocol);
    this.offsets = system.actorOf(offset_store_address, offset_store_protocol);
    this.wheel = system.actorOf(timing_wheel_address, timing_wheel_protocol);
    this.transactions = system.actorOf(transaction_address, transaction_protocol);
    this.replicator = system.actorOf(replicator_address, replicator_protocol);
    this.key_index = system.actorOf(key_index_address, key_index_protocol);
  }

  static async open(system: ActorSystem, options: StoreOptions): Promise<Store> {
    fs.mkdirSync(options.data_dir, { recursive: true });
    const args: StoreArgs = {
      commit_log_segment_bytes: options.commit_log_segment_bytes ?? store_defaults.commit_log_segment_bytes,
      consume_queue_entries_per_segment: options.consume_queue_entries_per_segment ?? store_defaults.consume_queue_entries_per_segment,
      flush_mode: options.flush_mode ?? store_defaults.flush_mode,
      flush_timeout_ms: options.flush_timeout_ms ?? store_defaults.flush_timeout_ms,
      flush_interval_ms: options.flush_interval_ms ?? store_defaults.flush_interval_ms,
      flush_dirty_bytes: options.flush_dirty_bytes ?? store_defaults.flush_dirty_bytes,
      disk_high_water_ratio: options.disk_high_water_ratio ?? store_defaults.disk_high_water_ratio,
      store_ipv4: options.store_ipv4 ?? 0x7f000001,
      store_port: options.store_port ?? 10911,
      preallocate: options.preallocate ?? store_defaults.preallocate,
      retention_ms: options.retention_ms ?? store_defaults.retention_ms,
      retention_check_interval_ms: options.retention_check_interval_ms ?? store_defaults.retention_check_interval_ms,
      key_index_slots_per_file: options.key_index_slots_per_file ?? store_defaults.key_index_slots_per_file,
      key_index_entries_per_file: options.key_index_entries_per_file ?? store_defaults.key_index_entries_per_file,
      wheel_tick_ms: options.wheel_tick_ms ?? store_defaults.wheel_tick_ms,
      wheel_level_slots: [...(options.wheel_level_slots ?? store_defaults.wheel_level_slots)],
      wheel_entries_max: options.wheel_entries_max ?? store_defaults.wheel_entries_max,
      transaction_check_interval_ms: options.transaction_check_interval_ms ?? store_defaults.transaction_check_interval_ms,
      transaction_check_max: options.transaction_check_max ?? store_defaults.transaction_check_max,
      transaction_undecided_max: options.transaction_undecided_max ?? store_defaults.transaction_undecided_max,
      cluster: options.cluster ?? 'DefaultCluster',
      broker_name: options.broker_name ?? 'broker-a',
      broker_id: options.broker_id ?? 0,
      replication_mode: options.replication_mode ?? store_defaults.replication_mode,
      replication_acks: options.replication_acks ?? store_defaults.replication_acks,
      replication_timeout_ms: options.replication_timeout_ms ?? store_defaults.replication_timeout_ms,
      ha_tls: options.ha_tls ?? null,
      ha_access: options.ha_access ?? ha_access_off,
      data_dir: options.data_dir,
      extra_data_dirs: [...(options.extra_data_dirs ?? [])],
      control: store_control.create().sab,
      queue_positions: QueuePositions.create().sab,
      flush_latency: flush_latency_histogram.create(),
      replication_lag: replication_lag_histogram.create(),
    };
    // A geometry that cannot be mapped fails the open here, not the key index actor later.
    checkKeyIndexGeometry(args.key_index_slots_per_file, args.key_index_entries_per_file);
    const store = new Store(system, args);
    const role = options.role ?? 'master';
    store_control.attach(args.control).store('ha_role', role === 'slave' ? ha_roles.slave : ha_roles.master);
    await rebuildLaggingQueues(system, args, options.rebuild_gap_bytes ?? store_defaults.rebuild_gap_bytes);
    const writer_thread = options.writer_thread ?? 1;
    const service_thread = options.service_thread ?? (system.threads > 1 ? 2 : 1);
    store.service_thread = service_thread;
    store.writer_thread = writer_thread;
    store.rebuild_gap_bytes = options.rebuild_gap_bytes ?? store_defaults.rebuild_gap_bytes;
    await store.startLogActors();
    // Beside the writer: a slave's chunks and a master's acknowledgements reach it without a hop.
    await system.spawn({ address: replicator_address, module: replicator_module_url, protocol: replicator_protocol, args, thread: writer_thread });
    if (role === 'master') await store.startMasterActors();
    store.marker.create();
    return store;
  }

  /** Whether this store takes appends (a master) or only its master's bytes (a slave). */
  get role(): 'master' | 'slave' {
    return store_control.attach(this.args.control).load('ha_role') === ha_roles.slave ? 'slave' : 'master';
  }

  /**
   * The actors that append on their own — the timing wheel (due messages) and the
   * transaction actor (decisions, check-backs) — which only a master runs. Each rebuilds its
   * state from its checkpoint, or without one from the CommitLog, which a slave copied.
   */
  async startMasterActors(): Promise<void> {
    if (this.master_actors_running) return;
    const args = this.args;
    await this.system.spawn({ address: timing_wheel_address, module: timing_wheel_module_url, protocol: timing_wheel_protocol, args, thread: this.service_thread });
    await this.system.spawn({ address: transaction_address, module: transaction_module_url, protocol: transaction_protocol, args, thread: this.service_thread });
    this.master_actors_running = true;
  }

  /**
   * Master from now on, at `epoch`: the writer takes appends (the replicator begins the epoch
   * at the log's end), then the timing wheel and the transaction actor start.
   */
  async promote(epoch: number): Promise<void> {
    await this.replicator.ask({ kind: 'lead', epoch });
    await this.startMasterActors();
  }

  /**
   * Slave from now on, as broker `slave_id`, following `master_ha` (its HA `host:port`; ''
   * while unknown): the writer stops taking appends first, then the wheel and the
   * transaction actor stop, and their checkpoints go — what they record may be cut from this
   * log when it rejoins, so a later promotion rebuilds them from the log itself.
   */
  async demote(master_ha: string, slave_id: number): Promise<void> {
    await this.replicator.ask({ kind: 'follow', master: master_ha, slave_id });
    if (!this.master_actors_running) return;
    for (const address of [transaction_address, timing_wheel_address]) await this.system.stopActor(address);
    this.master_actors_running = false;
    this.dropMasterCheckpoints();
  }

  /** The timing wheel's and the transaction actor's checkpoints go: they name CommitLog
   *  offsets a cut may remove, and the actors rebuild from the log itself without them. */
  private dropMasterCheckpoints(): void {
    for (const file of [wheelCheckpointPath(this.args.data_dir), transactionCheckpointPath(this.args.data_dir)]) fs.rmSync(file, { force: true });
  }

  /**
   * A slave's log cut at `offset` (storage/commit_log_truncation.ts), as its master's epoch
   * history asks: the actors that read or write the log stop, the files are cut, and they
   * start again as after a crash (queues cut to the log). The replicator stays; readers on
   * this thread map the files anew.
   */
  async truncateTo(offset: number): Promise<void> {
    await this.stopLogActors();
    this.main_reader?.close();
    this.main_reader = undefined;
    truncateCommitLog({ data_dir: this.args.data_dir, extra_data_dirs: this.args.extra_data_dirs, segment_bytes: this.args.commit_log_segment_bytes, offset, log: logger('store') });
    // Left by an earlier life as the master (a restarted old master never demoted in this
    // one): past the cut they would start a promoted broker's wheel inside a record.
    this.dropMasterCheckpoints();
    await rebuildLaggingQueues(this.system, this.args, this.rebuild_gap_bytes);
    cutWheelLogToScheduleQueue(this.args);
    await this.startLogActors();
  }

  /** The actors that write and follow the log, in start order: allocator, flush, writer,
   *  dispatch, key index, offsets. The key index runs on slaves too: they serve lookups. */
  private async startLogActors(): Promise<void> {
    const { system, args, service_thread, writer_thread } = this;
    await system.spawn({ address: segment_allocator_address, module: segment_allocator_module_url, protocol: segment_allocator_protocol, args, thread: service_thread });
    await system.spawn({ address: flush_address, module: flush_module_url, protocol: flush_protocol, args, thread: service_thread });
    await system.spawn({ address: commit_log_address, module: commit_log_module_url, protocol: commit_log_protocol, args, thread: writer_thread });
    await system.spawn({ address: dispatch_address, module: dispatch_module_url, protocol: dispatch_protocol, args, thread: service_thread });
    await system.spawn({ address: key_index_address, module: key_index_module_url, protocol: key_index_protocol, args, thread: service_thread });
    await system.spawn({ address: offset_store_address, module: offset_store_module_url, protocol: offset_store_protocol, args, thread: service_thread });
  }

  /** Stops them backwards, with the ConsumeQueue actors dispatch spawned (ConsumeQueues before the writer). */
  private async stopLogActors(): Promise<void> {
    for (const address of [offset_store_address, key_index_address, dispatch_address]) await this.system.stopActor(address);
    // Listed only once dispatch has stopped: a queue it was spawning a moment ago is stopped too.
    const queues = (await this.system.listActors()).filter((actor) => actor.address.startsWith('store/cq/')).map((actor) => actor.address);
    for (const address of [...queues, commit_log_address, flush_address, segment_allocator_address]) await this.system.stopActor(address);
  }

  /**
   * Appends a batch as one write; under sync flush the answer waits for the flush. The
   * records are encoded here, on the caller's thread, as CommitLog images in one buffer (one
   * copy of each body); the writer copies each image into its segment (a second copy) and
   * fills in offsets, store time and CRC. One thread hop there and one back per batch.
   */
  async append(records: readonly RecordInput[], timeout_ms = this.args.flush_timeout_ms * 2): Promise<AppendResult> {
    const images = encodeRecordImages(records);
    const reply = await this.commit_log.ask({ kind: 'append', count: records.length, images }, { timeout_ms });
    let image_position = 0;
    const results = records.map((_, index) => {
      const size = images.readUInt32LE(image_position); // an image's first field is its size
      image_position += size;
      return {
        physical_offset: readU64(reply.placements, index * placement_bytes),
        queue_offset: readU64(reply.placements, index * placement_bytes + 8),
        size,
        store_timestamp: reply.store_timestamp,
      };
    });
    return { status: reply.status, results, write_offset: reply.write_offset };
  }

  /**
   * Messages of `topic` whose keys (the `KEYS` property) include `key`, newest first: at most
   * `limit` (capped at key_index_limits.lookup_results_max = 64), only those stored within
   * `range` (inclusive, ms since the epoch) when given. Each record is read like a lookup by
   * id (`reader.readRecord`, CRC-checked) and kept only if its topic and keys really match:
   * the index answers by hash, and hashes collide. Records retention deleted since are left
   * out. Views into the mapped CommitLog, valid while this store is open; copy what you keep.
   *
   * Only records the key index has reached are found: under async flush it follows the write
   * offset, under sync flush the flush offset, a few milliseconds behind an append.
   * One hop to the key index actor's thread and one back.
   */
  async lookupByKey(topic: string, key: string, limit: number, range?: KeyIndexTimeRange): Promise<RecordView[]> {
    if (topic === '') throw new MqError('BAD_REQUEST', 'a key lookup needs a topic');
    if (key === '' || key.includes(' ')) throw new MqError('BAD_REQUEST', `key ${JSON.stringify(key)} cannot be looked up: a message's keys are non-empty and space-separated, so a key holds no space`);
    if (!Number.isInteger(limit) || limit < 1) throw new MqError('BAD_REQUEST', `a key lookup's limit must be a positive integer (at most ${key_index_limits.lookup_results_max} are returned), got ${limit}`);
    const begin_ms = range?.begin_ms ?? 0;
    const end_ms = range?.end_ms ?? key_index_time_max_ms;
    if (!Number.isSafeInteger(begin_ms) || !Number.isSafeInteger(end_ms) || begin_ms < 0 || begin_ms > end_ms) {
      throw new MqError('BAD_REQUEST', `a key lookup's time range [${begin_ms}, ${end_ms}] is not two non-negative integer milliseconds with begin <= end`);
    }
    const reply = await this.key_index.ask({ kind: 'lookup', topic, key, limit: Math.min(limit, key_index_limits.lookup_results_max), begin_ms: Math.min(begin_ms, key_index_time_max_ms), end_ms: Math.min(end_ms, key_index_time_max_ms) });
    const records: RecordView[] = [];
    for (const offset of reply.offsets) {
      let record: RecordView;
      try {
        record = this.reader.readRecord(offset);
      } catch (error) {
        if (!(error instanceof MqError)) throw error;
        // Deleted by retention since it was indexed: not a match. Anything else (a record
        // that fails its check) is damage worth a log line, but not a failed lookup.
        if (error.code !== 'BAD_REQUEST') logger('store').warn({ err: error, offset, topic, key }, 'key lookup: a candidate record cannot be read; skipped');
        continue;
      }
      if (record.topic !== topic || record.store_timestamp < begin_ms || record.store_timestamp > end_ms) continue;
      if (!decodeMessageProperties(record.properties).keys.includes(key)) continue;
      records.push(record);
    }
    return records;
  }

  /** The inspector's view of the store (store_view.ts): positions, segments, queues, disks. */
  view(): StoreView {
    return storeView(this.args);
  }

  /** How long CommitLog flushes took (the flush actor's histogram), seconds. */
  flushLatency(): HistogramSnapshot {
    return flush_latency_histogram.read(this.args.flush_latency);
  }

  /** How many ConsumeQueues take no more entries because they and the CommitLog disagree
   *  (consume_queue_actor.ts); the node reports itself unhealthy while any does. */
  queuesRefusing(): number {
    return store_control.attach(this.args.control).load('queues_refusing');
  }

  /** How far behind the slaves were at their acknowledgements (the replicator's), bytes. */
  replicationLag(): HistogramSnapshot {
    return replication_lag_histogram.read(this.args.replication_lag);
  }

  /**
   * The main thread's reader: what the broker serves consumers (pulls, gRPC receives). Under
   * sync replication a master serves only what its slaves hold (StoreReaderOptions
   * `consumer_visibility`). Other threads make their own readers from `args`.
   */
  get reader(): StoreReader {
    this.main_reader ??= new StoreReader({ ...this.args, consumer_visibility: this.args.replication_mode === 'sync' ? 'replicated' : 'written' });
    return this.main_reader;
  }

  /** Stops the store's actors (ConsumeQueues and offsets first, the allocator last) and
   *  removes the abort marker: the next start trusts the checkpoint. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.main_reader?.close();
    for (const address of [transaction_address, timing_wheel_address, replicator_address]) await this.system.stopActor(address);
    await this.stopLogActors();
    this.marker.remove();
  }
}

/**
 * After a cut (the queues cut with the log): the timing wheel's log (one entry per schedule
 * queue offset, from this broker's life as a master) must end where the schedule queue now
 * ends. Entries past it name records the cut removed, and a promoted wheel reads the queue's
 * new entries from the log's end: left longer, it would skip the delayed messages the next
 * master schedules at those offsets.
 */
function cutWheelLogToScheduleQueue(args: StoreArgs): void {
  const schedule = readQueueTails(args.data_dir, args.consume_queue_entries_per_segment).find((tail) => tail.topic === schedule_topic && tail.queue_id === 0);
  if (schedule === undefined) return;
  const dropped = new WheelLog(wheelLogDir(args.data_dir)).cutTo(schedule.max_offset);
  if (dropped > 0) logger('store').warn({ dropped, schedule_queue_end: schedule.max_offset }, 'timing wheel log cut back to the schedule queue');
}

/**
 * Before the actors start: cut the CommitLog where recovery says it ends, and when the
 * ConsumeQueues lag far behind it (or are gone), rebuild them on the CPU pool — segment
 * scans in parallel off the actor threads — rather than through the dispatch actor.
 */
async function rebuildLaggingQueues(system: ActorSystem, args: StoreArgs, rebuild_gap_bytes: number): Promise<void> {
  const log = logger('store');
  const segments = new SegmentSet(commitLogDirs(args), args.commit_log_segment_bytes, 'read-write').load();
  const checkpoint = new StoreCheckpoint({ path: checkpointPath(args.data_dir), log });
  checkpoint.load();
  const crashed = new AbortMarker(abortMarkerPath(args.data_dir)).exists();
  const tails_before = readQueueTails(args.data_dir, args.consume_queue_entries_per_segment);
  const scan_from = Math.min(checkpoint.state.commit_log_flushed_offset, ...tails_before.map((tail) => tail.coverage_end));
  const recovery = recoverCommitLog(segments, tails_before.length === 0 ? segments.min_offset : scan_from, { zero_after_end: crashed });
  segments.close();
  // Queues never point past the log: a cut CommitLog (torn tail, lost page cache) cuts the
  // queues too, before the writer reads their tails for its next queue offsets.
  for (const tail of tails_before) {
    if (tail.coverage_end <= recovery.end_offset) continue;
    const queue = new ConsumeQueue({ data_dir: args.data_dir, topic: tail.topic, queue_id: tail.queue_id, entries_per_segment: args.consume_queue_entries_per_segment }).load();
    const cut = queue.truncateToCommitLog(recovery.end_offset);
    queue.close();
    log.warn({ topic: tail.topic, queue_id: tail.queue_id, entries: cut }, 'ConsumeQueue cut back to the recovered CommitLog');
  }
  const tails = readQueueTails(args.data_dir, args.consume_queue_entries_per_segment);
  // A queue that once had entries but has no directory now (deleted, lost) is rebuilt whole.
  const on_disk = new Set(tails.map((tail) => `${tail.topic}/${tail.queue_id}`));
  const missing = new KnownQueues(args.data_dir, log).load().list().filter((queue) => !on_disk.has(`${queue.topic}/${queue.queue_id}`));
  const covered = tails.length === 0 || missing.length > 0 ? segments.min_offset : Math.min(...tails.map((tail) => tail.coverage_end));
  if (missing.length > 0) log.warn({ missing: missing.map((queue) => `${queue.topic}/${queue.queue_id}`) }, 'ConsumeQueues missing on disk: rebuilding them from the CommitLog');
  const from_offset = Math.max(covered, segments.min_offset);
  if (recovery.end_offset - from_offset <= rebuild_gap_bytes && tails.length > 0 && missing.length === 0) return;
  if (recovery.end_offset <= from_offset) return;
  const queues = new Map<string, ConsumeQueue>();
  const queueFor = (topic: string, queue_id: number): ConsumeQueue => {
    const key = `${topic}\u0000${queue_id}`;
    let queue = queues.get(key);
    if (queue === undefined) {
      queue = new ConsumeQueue({ data_dir: args.data_dir, topic, queue_id, entries_per_segment: args.consume_queue_entries_per_segment }).load();
      queues.set(key, queue);
    }
    return queue;
  };
  try {
    const summary = await rebuildConsumeQueuesInPool(system.cpu, { commit_log_dir: commitLogDirs(args), segment_bytes: args.commit_log_segment_bytes, from_offset, to_offset: recovery.end_offset }, queueFor);
    log.info({ from_offset, to_offset: recovery.end_offset, ...summary }, 'ConsumeQueues rebuilt on the CPU pool');
  } finally {
    for (const queue of queues.values()) {
      queue.flush();
      queue.close();
    }
  }
}
