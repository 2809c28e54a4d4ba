import { cpSync, existsSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { Store, type StoreOptions } from '../../src/actors/store/store.js';
import { type ActorSystem } from '../../src/runtime/actor_system.js';
import { startActorSystem } from '../helpers/actor_systems.js';
import { logger } from '../../src/runtime/log.js';
import { StoreCheckpoint } from '../../src/storage/checkpoint.js';
import { consume_queue_entry_bytes } from '../../src/storage/consume_queue_entry.js';
import { KnownQueues } from '../../src/storage/known_queues.js';
import { readQueueTails } from '../../src/storage/queue_tails.js';
import { recoverCommitLog } from '../../src/storage/commit_log_recovery.js';
import { SegmentSet } from '../../src/storage/segment_set.js';
import { store_control } from '../../src/storage/store_control.js';
import { abortMarkerPath, checkpointPath, commitLogDir, consumeQueueDir, consumeQueueRootDir, parseSegmentFileName, segmentFileName } from '../../src/storage/storage_paths.js';
import { tempDir } from '../storage/commit_log_helpers.js';
import {
  ackedOf, commitLogContent, consumeQueueFiles, differingFiles, openCounted, servedEntries, spawnAppender, until, untilQueuesMatchLog, writeOffsetOf, zeroNewestEntries,
  type CommitLogContent, type OpenedStore,
} from './fixtures/store_kill_helpers.js';
import { allQueues, checkStore, kill_store_options, oneRecordPerQueue, placementOf, queueName, recordOf, type AckedRecord, type Placement } from './fixtures/store_kill_workload.js';

/**
 * ConsumeQueues are derived data: whatever happens to them, a restart rebuilds them from
 * the CommitLog, equal to what they were.
 *
 * One store is written once (the golden dir): thousands of records over twelve queues,
 * many CommitLog rolls (1 MiB segments) and many ConsumeQueue rolls (100 entries a segment),
 * closed cleanly. Each test damages a copy of it (all queues deleted, one deleted, segments
 * lost, entries zeroed, segment files left empty by a crash) and reopens: the queues must
 * come back byte-equal, file for file, and serve the same entries and records.
 *
 * Then crashes: a child appending is killed with SIGKILL. The recovered store opens at
 * once (also with a flush timer that fires every millisecond, ten times in a row), serves
 * the whole recovered log before any append (also under sync flush, when the checkpoint lies
 * behind), its queues never point past the recovered CommitLog's end, also when the log lost
 * its unflushed tail, and the next append continues every queue right after its last record.
 */

const rebuild_store = {
  commit_log_segment_bytes: 1 << 20,
  consume_queue_entries_per_segment: 100,
  flush_interval_ms: 50,
  flush_mode: 'async',
} as const satisfies Omit<StoreOptions, 'data_dir'>;

/** The crash tests' store: the appender child's options (fixtures/store_kill_workload.ts), async flush. */
const crash_store = {
  commit_log_segment_bytes: kill_store_options.commit_log_segment_bytes as number,
  consume_queue_entries_per_segment: kill_store_options.consume_queue_entries_per_segment as number,
  flush_interval_ms: kill_store_options.flush_interval_ms as number,
  flush_mode: 'async',
} as const satisfies Omit<StoreOptions, 'data_dir'>;

const rebuild_limits = {
  records: 6_000,
  batch_records: 40,
  dispatch_timeout_ms: 20_000,
  append_dispatch_timeout_ms: 5_000,
  /** Acknowledged batches before the crash tests kill the child. */
  acks_before_kill: 250,
  child_output_timeout_ms: 30_000,
  child_run_ms_max: 60_000,
  /** Opens in a row, each of a fresh copy of a crashed dir, with the flush timer at its fastest. */
  crash_reopens: 5,
  fast_flush_interval_ms: 1,
  flush_catch_up_ms: 5_000,
} as const;

/** Opens a copy of the golden store (or any dir with its options). */
function openRebuild(t: Test, data_dir: string, options: Partial<StoreOptions> = {}): Promise<OpenedStore> {
  return openCounted(t, { data_dir, ...rebuild_store, ...options });
}

/**
 * Appends one record to every queue and checks that each takes the next offset after the
 * log's records of its queue, then that the queues serve it.
 */
async function checkContinues(t: Test, opened: OpenedStore, data_dir: string, first_seq: number): Promise<void> {
  const { store } = opened;
  const before = commitLogContent(data_dir, store.args.commit_log_segment_bytes, writeOffsetOf(store));
  const seqs = oneRecordPerQueue(first_seq);
  const reply = await store.append(seqs.map((seq) => recordOf(seq)));
  const jumps = seqs.flatMap((seq, index) => {
    const name = queueName(placementOf(seq).topic, placementOf(seq).queue_id);
    const given = reply.results[index]?.queue_offset;
    return given === (before.queue_ends[name] ?? 0) ? [] : [`${name}: given ${given}, the log's next is ${before.queue_ends[name] ?? 0}`];
  });
  t.same(jumps, [], 'an append continues every queue right after its last record in the log');
  const after = commitLogContent(data_dir, store.args.commit_log_segment_bytes, writeOffsetOf(store));
  t.ok(after.dense, 'the CommitLog\'s queue offsets stay dense');
  // Twelve records: the queues have them at once, or never.
  await untilQueuesMatchLog(store.reader, after, rebuild_limits.append_dispatch_timeout_ms).then(
    () => t.pass('the queues serve the appended records'),
    (error: Error) => t.fail(error.message),
  );
}

// The golden store: written once, closed cleanly, copied by each test.
const golden_dir = tempDir(t);
let golden_files = new Map<string, Buffer>();
let golden_served: Record<string, string[]> = {};
let golden_log: CommitLogContent | undefined;
let golden_acked: AckedRecord[] = [];

t.before(async () => {
  const system = await startActorSystem({ threads: 2 });
  try {
    const store = await Store.open(system, { data_dir: golden_dir, ...rebuild_store });
    for (let first = 0; first < rebuild_limits.records; first += rebuild_limits.batch_records) {
      const seqs = Array.from({ length: rebuild_limits.batch_records }, (_, index) => first + index);
      const reply = await store.append(seqs.map((seq) => recordOf(seq)));
      seqs.forEach((seq, index) => golden_acked.push([seq, reply.results[index]?.queue_offset ?? -1]));
    }
    golden_log = commitLogContent(golden_dir, rebuild_store.commit_log_segment_bytes, writeOffsetOf(store));
    await untilQueuesMatchLog(store.reader, golden_log, rebuild_limits.dispatch_timeout_ms);
    golden_served = servedEntries(store.reader);
    await store.close();
  } finally {
    await system.stop();
  }
  golden_files = consumeQueueFiles(golden_dir);
});

/** A copy of the golden store to damage. */
function goldenCopy(t: Test): string {
  const dir = path.join(tempDir(t), 'data');
  cpSync(golden_dir, dir, { recursive: true });
  return dir;
}

t.test('the golden store rolls both logs many times', async (t) => {
  const log = golden_log as CommitLogContent;
  t.equal(log.records, rebuild_limits.records, 'every record is in the CommitLog');
  t.ok(readdirSync(commitLogDir(golden_dir)).length >= 6, `the CommitLog rolled: ${readdirSync(commitLogDir(golden_dir)).length} segments`);
  t.ok(golden_files.size >= 40, `${golden_files.size} ConsumeQueue segment files`);
  t.equal(Object.values(golden_served).reduce((sum, entries) => sum + entries.length, 0), rebuild_limits.records, 'every record is served by its queue');
  const known = new KnownQueues(golden_dir, logger('test')).load().list().map(({ topic, queue_id }) => queueName(topic, queue_id));
  t.same(known.sort(), allQueues().map(({ topic, queue_id }) => queueName(topic, queue_id)).sort(), 'config/queues lists every queue that got a record');
});

t.test('delete the ConsumeQueue files; restart; they are rebuilt (on the CPU pool) and equal to before', async (t) => {
  const dir = goldenCopy(t);
  rmSync(consumeQueueRootDir(dir), { recursive: true, force: true });
  const opened = await openRebuild(t, dir);
  t.ok(opened.pool_tasks() > 0, `the rebuild ran on the CPU pool (${opened.pool_tasks()} scan tasks)`);
  await untilQueuesMatchLog(opened.store.reader, golden_log as CommitLogContent, rebuild_limits.dispatch_timeout_ms);
  t.same(servedEntries(opened.store.reader), golden_served, 'every queue serves the same entries, entry for entry');
  const check = await checkStore(opened.store.reader, golden_acked, rebuild_limits.dispatch_timeout_ms);
  t.same(check.problems, [], 'every record pulled is byte-equal to what was appended, at its offset');
  t.equal(check.acked_found, rebuild_limits.records, 'all of them');
  await opened.close();
  t.same(differingFiles(golden_files, consumeQueueFiles(dir)), [], 'every ConsumeQueue file is byte-equal to before, and no file is missing or extra');
  await checkContinues(t, await openRebuild(t, dir), dir, 1_000_000);
});

t.test('a queue that lost its newest segment, and one that lost its last entries, are repaired on reopen by re-dispatch', async (t) => {
  const dir = goldenCopy(t);
  const [lost_segment, lost_entries] = mostEntries(2) as [Placement, Placement];
  // The newest segment file of one queue is gone.
  const segment_dir = consumeQueueDir(dir, lost_segment.topic, lost_segment.queue_id);
  const newest = readdirSync(segment_dir).sort().at(-1) as string;
  rmSync(path.join(segment_dir, newest));
  // The last entries of another are zeros (up to 37, all in its last segment), as if their
  // pages never reached the disk.
  const entries_dir = consumeQueueDir(dir, lost_entries.topic, lost_entries.queue_id);
  const last = path.join(entries_dir, readdirSync(entries_dir).sort().at(-1) as string);
  t.equal(statSync(last).size, rebuild_store.consume_queue_entries_per_segment * consume_queue_entry_bytes, 'the last segment file is whole');
  t.ok(zeroNewestEntries(dir, lost_entries.topic, lost_entries.queue_id, 37) > 0, 'its last entries are zeroed');
  t.equal(statSync(last).size, rebuild_store.consume_queue_entries_per_segment * consume_queue_entry_bytes, 'and keeps its size');
  t.equal(readQueueTails(dir, rebuild_store.consume_queue_entries_per_segment).filter((tail) => tail.max_offset < (golden_log?.queue_ends[queueName(tail.topic, tail.queue_id)] ?? 0)).length, 2, 'two queues lag the CommitLog');

  const opened = await openRebuild(t, dir);
  t.equal(opened.pool_tasks(), 0, 'a lag this small is left to the dispatch actor, not rebuilt on the pool');
  await untilQueuesMatchLog(opened.store.reader, golden_log as CommitLogContent, rebuild_limits.dispatch_timeout_ms);
  t.same(servedEntries(opened.store.reader), golden_served, 'every queue serves the same entries, entry for entry');
  await opened.close();
  t.same(differingFiles(golden_files, consumeQueueFiles(dir)), [], 'every ConsumeQueue file is byte-equal to before');
});

t.test('with no lag allowed, a lagging queue is rebuilt on the CPU pool, equal to before', async (t) => {
  const dir = goldenCopy(t);
  const [lost_segment] = mostEntries(1) as [Placement];
  const segment_dir = consumeQueueDir(dir, lost_segment.topic, lost_segment.queue_id);
  for (const name of readdirSync(segment_dir).sort().slice(-2)) rmSync(path.join(segment_dir, name));
  const opened = await openRebuild(t, dir, { rebuild_gap_bytes: 0 });
  t.ok(opened.pool_tasks() > 0, `rebuilt on the CPU pool (${opened.pool_tasks()} scan tasks)`);
  await untilQueuesMatchLog(opened.store.reader, golden_log as CommitLogContent, rebuild_limits.dispatch_timeout_ms);
  t.same(servedEntries(opened.store.reader), golden_served, 'every queue serves the same entries');
  await opened.close();
  t.same(differingFiles(golden_files, consumeQueueFiles(dir)), [], 'every ConsumeQueue file is byte-equal to before');
});


t.test('one queue\'s directory deleted is rebuilt from its first record, through the list of known queues', async (t) => {
  const dir = goldenCopy(t);
  const [deleted] = mostEntries(1) as [Placement];
  const name = queueName(deleted.topic, deleted.queue_id);
  rmSync(consumeQueueDir(dir, deleted.topic, deleted.queue_id), { recursive: true });
  const opened = await openRebuild(t, dir);
  await untilQueuesMatchLog(opened.store.reader, golden_log as CommitLogContent, rebuild_limits.dispatch_timeout_ms);
  t.same(opened.store.reader.window(deleted.topic, deleted.queue_id), { min_offset: 0, max_offset: golden_served[name]?.length }, 'the deleted queue\'s window starts at 0 again');
  t.same(servedEntries(opened.store.reader)[name], golden_served[name], 'the deleted queue serves the same entries as before');
  await opened.close();
  const files = consumeQueueFiles(dir);
  t.same(differingFiles(golden_files, files).filter((file) => !file.startsWith(name + path.sep)), [], 'the other queues\' files are untouched');
  t.same(differingFiles(golden_files, files), [], 'every ConsumeQueue file is byte-equal to before');
});

t.test('empty segment files (a crash between creating and sizing them) are ignored by readers, removed by the writer, and the store opens whole', async (t) => {
  const dir = goldenCopy(t);
  const [damaged] = mostEntries(1) as [Placement];
  const segment_dir = consumeQueueDir(dir, damaged.topic, damaged.queue_id);
  const queue_file = path.join(segment_dir, readdirSync(segment_dir).sort().at(-1) as string);
  truncateSync(queue_file, 0);
  // An empty CommitLog segment past every one there: the writer rolling when the kill came.
  const log_dir = commitLogDir(dir);
  const log_starts = readdirSync(log_dir).map((file) => parseSegmentFileName(file)).filter((start): start is number => start !== undefined);
  const log_file = path.join(log_dir, segmentFileName(Math.max(...log_starts) + rebuild_store.commit_log_segment_bytes));
  writeFileSync(log_file, '');

  const tails = readQueueTails(dir, rebuild_store.consume_queue_entries_per_segment);
  const damaged_tail = tails.find((tail) => tail.topic === damaged.topic && tail.queue_id === damaged.queue_id);
  t.ok((damaged_tail?.max_offset ?? 0) < (golden_served[queueName(damaged.topic, damaged.queue_id)]?.length ?? 0), 'a reader reads the queue\'s tail without its empty segment');
  const read_only = new SegmentSet(log_dir, rebuild_store.commit_log_segment_bytes, 'read-only').load();
  t.equal(read_only.last?.start_offset, Math.max(...log_starts), 'a read-only CommitLog ends at its last sized segment');
  read_only.close();
  t.ok(existsSync(queue_file) && existsSync(log_file), 'readers leave the empty files where they are');

  const opened = await openRebuild(t, dir);
  t.ok(!existsSync(log_file) || statSync(log_file).size === rebuild_store.commit_log_segment_bytes, 'the empty CommitLog segment is gone (or prepared again at full size)');
  await untilQueuesMatchLog(opened.store.reader, golden_log as CommitLogContent, rebuild_limits.dispatch_timeout_ms);
  t.same(servedEntries(opened.store.reader), golden_served, 'every queue serves the same entries');
  await opened.close();
  t.same(differingFiles(golden_files, consumeQueueFiles(dir)), [], 'every ConsumeQueue file is byte-equal to before (the emptied one written again)');
});

/** The `count` queues with the most entries in the golden store. */
function mostEntries(count: number): Placement[] {
  return allQueues()
    .sort((a, b) => (golden_served[queueName(b.topic, b.queue_id)]?.length ?? 0) - (golden_served[queueName(a.topic, a.queue_id)]?.length ?? 0))
    .slice(0, count);
}

/**
 * Runs the appender under async flush on `data_dir` and kills it with SIGKILL after some
 * acknowledgements, once the ConsumeQueues cover at least `covered_bytes_min` of the log.
 */
async function appendAndKill(t: Test, data_dir: string, options: { flush_interval_ms?: number; covered_bytes_min?: number } = {}): Promise<AckedRecord[]> {
  const child = spawnAppender(t, { data_dir, flush_mode: 'async', first_seq: 0, ledger_path: '-', first_check_wait_ms: 0, check_wait_ms: 0, run_ms_max: rebuild_limits.child_run_ms_max, ...options });
  await child.waitFor(() => child.ackLines() >= rebuild_limits.acks_before_kill, rebuild_limits.child_output_timeout_ms, `${rebuild_limits.acks_before_kill} appended batches`);
  const covered = (): number => Math.max(0, ...readQueueTails(data_dir, crash_store.consume_queue_entries_per_segment).map((tail) => tail.coverage_end));
  await until(() => covered() >= (options.covered_bytes_min ?? 0), rebuild_limits.child_output_timeout_ms, () => `the child's ConsumeQueues cover ${covered()} bytes of its log`);
  const exit = await child.kill();
  t.equal(exit.signal, 'SIGKILL', 'the child died of the kill', { stderr: child.stderr().slice(-2_000) });
  t.ok(existsSync(abortMarkerPath(data_dir)), 'it left its abort marker');
  return ackedOf(child.lines());
}

/** After open: no queue entry points past the recovered end; then everything in the log is served, whole and dense. */
async function checkRecoveredQueues(t: Test, opened: OpenedStore, data_dir: string): Promise<void> {
  const end = writeOffsetOf(opened.store);
  const past_end = readQueueTails(data_dir, opened.store.args.consume_queue_entries_per_segment).filter((tail) => tail.coverage_end > end);
  t.same(past_end.map((tail) => `${queueName(tail.topic, tail.queue_id)} ends at ${tail.coverage_end}`), [], `no ConsumeQueue points past the recovered CommitLog end ${end}`);
  const log = commitLogContent(data_dir, opened.store.args.commit_log_segment_bytes, end);
  t.equal(log.end_offset, end, 'the recovered CommitLog is whole up to its end');
  t.ok(log.dense, 'and its queue offsets are dense');
  await untilQueuesMatchLog(opened.store.reader, log, rebuild_limits.dispatch_timeout_ms).catch((error: Error) => t.fail(error.message));
  const check = await checkStore(opened.store.reader, [], 0);
  t.same(check.problems, [], 'every queue is served dense from 0, each record whole and exactly what was sent');
  t.equal(check.entries, log.records, `the queues serve all ${log.records} records of the log`);
  t.equal(opened.thread_exits(), 0, 'no worker thread died');
}

t.test('after a kill -9 the ConsumeQueues never point past the recovered CommitLog end', async (t) => {
  const data_dir = path.join(tempDir(t), 'data');
  const acked = await appendAndKill(t, data_dir);
  const opened = await openCounted(t, { data_dir, ...crash_store });
  await checkRecoveredQueues(t, opened, data_dir);
  const check = await checkStore(opened.store.reader, acked, rebuild_limits.dispatch_timeout_ms);
  t.equal(check.acked_found, acked.length, `all ${acked.length} appended records survived the kill (the page cache outlives the process)`);
  await checkContinues(t, opened, data_dir, 5_000_000);
});

t.test('after a kill -9, a store opened under sync flush dispatches the recovered records past the checkpoint before any append', async (t) => {
  const data_dir = path.join(tempDir(t), 'data');
  // The child never flushes: the checkpoint stays at the log's start. Its queues then lose
  // their last entries, so they lag the recovered end by a little (left to the dispatch actor,
  // which under sync flush follows the flush offset).
  const acked = await appendAndKill(t, data_dir, { flush_interval_ms: 600_000, covered_bytes_min: 256 << 10 });
  const zeroed = allQueues().reduce((sum, { topic, queue_id }) => sum + zeroNewestEntries(data_dir, topic, queue_id, 10), 0);
  t.ok(zeroed > 0, `${zeroed} queue entries past the checkpoint zeroed`);
  const opened = await openCounted(t, { data_dir, ...crash_store, flush_mode: 'sync' });
  await checkRecoveredQueues(t, opened, data_dir);
  const check = await checkStore(opened.store.reader, acked, 0);
  t.equal(check.acked_found, acked.length, `all ${acked.length} acknowledged records are served, with no append since the open`);
});

t.test('after a kill -9 under async flush, opens with a 1 ms flush timer all succeed and flush the recovered tail', async (t) => {
  const crashed_dir = path.join(tempDir(t), 'crashed');
  // The child never flushes: the checkpoint stays behind, so every recovery has a tail to flush.
  await appendAndKill(t, crashed_dir, { flush_interval_ms: 600_000 });
  const failures: string[] = [];
  let recovered_end: number | undefined;
  for (let attempt = 0; attempt < rebuild_limits.crash_reopens; attempt++) {
    const data_dir = path.join(tempDir(t), `open-${attempt}`);
    cpSync(crashed_dir, data_dir, { recursive: true });
    try {
      const opened = await openCounted(t, { data_dir, ...crash_store, flush_interval_ms: rebuild_limits.fast_flush_interval_ms });
      const end = writeOffsetOf(opened.store);
      recovered_end ??= end;
      if (end !== recovered_end) failures.push(`open ${attempt}: recovered end ${end}, the first open found ${recovered_end}`);
      const control = store_control.attach(opened.store.args.control);
      await until(() => control.load('flush_offset') >= end, rebuild_limits.flush_catch_up_ms, () => `open ${attempt}: flushed ${control.load('flush_offset')} of ${end}`);
      if (opened.thread_exits() > 0) failures.push(`open ${attempt}: ${opened.thread_exits()} worker threads died`);
      await opened.close();
    } catch (error) {
      failures.push(`open ${attempt}: ${(error as Error).message}`);
    }
  }
  t.same(failures, [], `${rebuild_limits.crash_reopens} opens in a row of the crashed dir: each recovers the same end and flushes it, no thread dies`);
  t.ok((recovered_end ?? 0) > 0, `the recovered CommitLog ends at ${recovered_end}`);
});

t.test('after a kill -9 that also loses the CommitLog\'s unflushed tail, the ConsumeQueues are cut to the recovered end and the log continues', async (t) => {
  const data_dir = path.join(tempDir(t), 'data');
  // The child never flushes its CommitLog (a flush interval longer than its life), while
  // its ConsumeQueues follow the write offset; the kill comes once they cover a good part.
  await appendAndKill(t, data_dir, { flush_interval_ms: 600_000, covered_bytes_min: 256 << 10 });
  // A power cut after the kill: CommitLog bytes past the checkpoint's flushed offset may be
  // lost, while ConsumeQueue entries (flushed on their own timer) that point at them stayed.
  const checkpoint = new StoreCheckpoint({ path: checkpointPath(data_dir) });
  checkpoint.load();
  const flushed = checkpoint.state.commit_log_flushed_offset;
  const tails = readQueueTails(data_dir, crash_store.consume_queue_entries_per_segment);
  const covered_max = Math.max(...tails.map((tail) => tail.coverage_end));
  const segments = new SegmentSet(commitLogDir(data_dir), crash_store.commit_log_segment_bytes, 'read-write').load();
  const starts: number[] = [];
  recoverCommitLog(segments, flushed, { zero_after_end: false }, (_, offset) => {
    if (offset < covered_max) starts.push(offset);
  });
  t.ok(starts.length >= 20, `${starts.length} records between the checkpoint (${flushed}) and the queues' end (${covered_max})`);
  const cut = starts[Math.floor(starts.length / 2)] as number;
  const segment = segments.find(cut);
  segment?.buffer.fill(0, cut - segment.start_offset);
  segment?.flush();
  segments.removeAfter(cut);
  segments.close();
  t.ok(readQueueTails(data_dir, crash_store.consume_queue_entries_per_segment).some((tail) => tail.coverage_end > cut), 'some ConsumeQueues now point past the CommitLog\'s end');

  const opened = await openCounted(t, { data_dir, ...crash_store });
  t.equal(writeOffsetOf(opened.store), cut, 'recovery finds the CommitLog\'s end where its tail was lost');
  await checkRecoveredQueues(t, opened, data_dir);
  // The writer's next queue offsets come from the queues as cut, not as they were.
  await checkContinues(t, opened, data_dir, 5_000_000);
});
