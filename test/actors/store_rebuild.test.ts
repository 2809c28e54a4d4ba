import { closeSync, cpSync, existsSync, openSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { Store, type StoreOptions } from '../../src/actors/store/store.js';
import { ActorSystem } from '../../src/runtime/actor_system.js';
import { StoreCheckpoint } from '../../src/storage/checkpoint.js';
import { consume_queue_entry_bytes } from '../../src/storage/consume_queue_entry.js';
import { readQueueTails } from '../../src/storage/queue_tails.js';
import { recoverCommitLog } from '../../src/storage/commit_log_recovery.js';
import { SegmentSet } from '../../src/storage/segment_set.js';
import { store_control } from '../../src/storage/store_control.js';
import type { StoreReader } from '../../src/storage/store_reader.js';
import { abortMarkerPath, checkpointPath, commitLogDir, consumeQueueDir, consumeQueueRootDir } from '../../src/storage/storage_paths.js';
import { tempDir } from '../storage/commit_log_helpers.js';
import { ackedOf, commitLogContent, emptySegmentFiles, empty_segment_refused, isEmptySegmentRefusal, spawnAppender, until, type CommitLogContent } from './fixtures/store_kill_helpers.js';
import { allQueues, checkStore, kill_store_options, placementOf, queueName, recordOf, type AckedRecord, type Placement } from './fixtures/store_kill_workload.js';

/**
 * ConsumeQueues are derived data: whatever happens to them, a restart rebuilds them from
 * the CommitLog, equal to what they were.
 *
 * One store is written once (the golden dir): thousands of records over twelve queues,
 * many CommitLog rolls (1 MiB segments) and many ConsumeQueue rolls (100 entries a segment),
 * closed cleanly. Each test damages a copy of it and reopens: the queues must come back
 * byte-equal, file for file, and serve the same entries and records. Then crashes: a child
 * appending is killed with SIGKILL, and the queues of the recovered store must never point
 * past the recovered CommitLog's end, also when the log lost its unflushed tail.
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
} as const;

interface OpenedStore {
  system: ActorSystem;
  store: Store;
  /** Tasks the CPU pool ran while this store opened (ConsumeQueue rebuild scans). */
  pool_tasks(): number;
  close(): Promise<void>;
}

/** Opens a store on its own actor system, counting the tasks its CPU pool runs. */
async function openCounted(t: Test, data_dir: string, options: Partial<StoreOptions> = {}): Promise<OpenedStore> {
  const system = await ActorSystem.start({ threads: 2 });
  let tasks = 0;
  const run = system.cpu.run.bind(system.cpu);
  system.cpu.run = ((...args: Parameters<typeof run>) => {
    tasks++;
    return run(...args);
  }) as typeof system.cpu.run;
  let store: Store | undefined;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await store?.close().catch(() => undefined);
    await system.stop();
  };
  t.teardown(close);
  store = await Store.open(system, { data_dir, ...rebuild_store, ...options });
  return { system, store, pool_tasks: () => tasks, close };
}

/** Every ConsumeQueue file under the data dir: path (relative) → bytes. */
function consumeQueueFiles(data_dir: string): Map<string, Buffer> {
  const root = consumeQueueRootDir(data_dir);
  const files = new Map<string, Buffer>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else files.set(path.relative(root, full), readFileSync(full));
    }
  };
  if (existsSync(root)) walk(root);
  return files;
}

/** Names of the files that differ (missing on a side, or other bytes). */
function differingFiles(expected: Map<string, Buffer>, actual: Map<string, Buffer>): string[] {
  const names = new Set([...expected.keys(), ...actual.keys()]);
  return [...names].filter((name) => {
    const a = expected.get(name);
    const b = actual.get(name);
    return a === undefined || b === undefined || !a.equals(b);
  });
}

/** Every queue's entries as the reader serves them: "offset:physical offset:size:tag hash". */
function servedEntries(reader: StoreReader): Record<string, string[]> {
  const served: Record<string, string[]> = {};
  for (const { topic, queue_id } of allQueues()) {
    const entries: string[] = [];
    let next = 0;
    for (;;) {
      const pulled = reader.pull(topic, queue_id, next, { max_count: 1_000 });
      if (pulled.status !== 'found') break;
      for (const view of pulled.records) entries.push(`${view.queue_offset}:${view.physical_offset}:${view.total_size}:${view.tag_hash}`);
      next = pulled.next_queue_offset;
    }
    served[queueName(topic, queue_id)] = entries;
  }
  return served;
}

function writeOffsetOf(store: Store): number {
  return store_control.attach(store.args.control).load('write_offset');
}

/** Waits (bounded) until every queue publishes exactly as many entries as the log has records for it. */
async function untilQueuesMatchLog(reader: StoreReader, log: CommitLogContent, timeout_ms: number = rebuild_limits.dispatch_timeout_ms): Promise<void> {
  const published = (): number[] => allQueues().map(({ topic, queue_id }) => reader.window(topic, queue_id)?.max_offset ?? 0);
  const wanted = allQueues().map(({ topic, queue_id }) => log.queue_ends[queueName(topic, queue_id)] ?? 0);
  await until(() => published().every((max, index) => max === wanted[index]), timeout_ms, () => `queues published ${JSON.stringify(published())}, the CommitLog holds ${JSON.stringify(wanted)}`);
}

/** One record for every queue, from sequence numbers at and after `first_seq`. */
function oneRecordPerQueue(first_seq: number): number[] {
  const wanted = new Set(allQueues().map(({ topic, queue_id }) => queueName(topic, queue_id)));
  const seqs: number[] = [];
  for (let seq = first_seq; wanted.size > 0; seq++) {
    if (wanted.delete(queueName(placementOf(seq).topic, placementOf(seq).queue_id))) seqs.push(seq);
  }
  return seqs;
}

/**
 * Appends one record to every queue and checks that each takes the next offset after the
 * log's records of its queue, then that the queues serve it.
 */
async function checkContinues(t: Test, opened: OpenedStore, data_dir: string, first_seq: number, todo?: string): Promise<void> {
  const extra = todo === undefined ? {} : { todo };
  const { store } = opened;
  const before = commitLogContent(data_dir, store.args.commit_log_segment_bytes, writeOffsetOf(store));
  const seqs = oneRecordPerQueue(first_seq);
  const reply = await store.append(seqs.map((seq) => recordOf(seq)));
  const jumps = seqs.flatMap((seq, index) => {
    const name = queueName(placementOf(seq).topic, placementOf(seq).queue_id);
    const given = reply.results[index]?.queue_offset;
    return given === (before.queue_ends[name] ?? 0) ? [] : [`${name}: given ${given}, the log's next is ${before.queue_ends[name] ?? 0}`];
  });
  t.same(jumps, [], 'an append continues every queue right after its last record in the log', extra);
  const after = commitLogContent(data_dir, store.args.commit_log_segment_bytes, writeOffsetOf(store));
  t.ok(after.dense, 'the CommitLog\'s queue offsets stay dense', extra);
  // Twelve records: the queues have them at once, or never.
  await untilQueuesMatchLog(store.reader, after, rebuild_limits.append_dispatch_timeout_ms).then(
    () => t.pass('the queues serve the appended records'),
    (error: Error) => t.fail(error.message, extra),
  );
}

// The golden store: written once, closed cleanly, copied by each test.
const golden_dir = tempDir(t);
let golden_files = new Map<string, Buffer>();
let golden_served: Record<string, string[]> = {};
let golden_log: CommitLogContent | undefined;
let golden_acked: AckedRecord[] = [];

t.before(async () => {
  const system = await ActorSystem.start({ threads: 2 });
  try {
    const store = await Store.open(system, { data_dir: golden_dir, ...rebuild_store });
    for (let first = 0; first < rebuild_limits.records; first += rebuild_limits.batch_records) {
      const seqs = Array.from({ length: rebuild_limits.batch_records }, (_, index) => first + index);
      const reply = await store.append(seqs.map((seq) => recordOf(seq)));
      seqs.forEach((seq, index) => golden_acked.push([seq, reply.results[index]?.queue_offset ?? -1]));
    }
    golden_log = commitLogContent(golden_dir, rebuild_store.commit_log_segment_bytes, writeOffsetOf(store));
    await untilQueuesMatchLog(store.reader, golden_log);
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
});

t.test('delete the ConsumeQueue files; restart; they are rebuilt (on the CPU pool) and equal to before', async (t) => {
  const dir = goldenCopy(t);
  rmSync(consumeQueueRootDir(dir), { recursive: true, force: true });
  const opened = await openCounted(t, dir);
  t.ok(opened.pool_tasks() > 0, `the rebuild ran on the CPU pool (${opened.pool_tasks()} scan tasks)`);
  await untilQueuesMatchLog(opened.store.reader, golden_log as CommitLogContent);
  t.same(servedEntries(opened.store.reader), golden_served, 'every queue serves the same entries, entry for entry');
  const check = await checkStore(opened.store.reader, golden_acked, rebuild_limits.dispatch_timeout_ms);
  t.same(check.problems, [], 'every record pulled is byte-equal to what was appended, at its offset');
  t.equal(check.acked_found, rebuild_limits.records, 'all of them');
  await opened.close();
  t.same(differingFiles(golden_files, consumeQueueFiles(dir)), [], 'every ConsumeQueue file is byte-equal to before, and no file is missing or extra');
  await checkContinues(t, await openCounted(t, dir), dir, 1_000_000);
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
  const count = golden_served[queueName(lost_entries.topic, lost_entries.queue_id)]?.length ?? 0;
  const in_last_segment = count - Math.floor((count - 1) / rebuild_store.consume_queue_entries_per_segment) * rebuild_store.consume_queue_entries_per_segment;
  const zeroed = Math.min(37, in_last_segment);
  t.equal(statSync(last).size, rebuild_store.consume_queue_entries_per_segment * consume_queue_entry_bytes, 'the last segment file is whole');
  const fd = openSync(last, 'r+');
  writeSync(fd, Buffer.alloc(zeroed * consume_queue_entry_bytes), 0, zeroed * consume_queue_entry_bytes, (in_last_segment - zeroed) * consume_queue_entry_bytes);
  closeSync(fd);
  t.equal(statSync(last).size, rebuild_store.consume_queue_entries_per_segment * consume_queue_entry_bytes, 'and keeps its size');
  t.equal(readQueueTails(dir, rebuild_store.consume_queue_entries_per_segment).filter((tail) => tail.max_offset < (golden_log?.queue_ends[queueName(tail.topic, tail.queue_id)] ?? 0)).length, 2, 'two queues lag the CommitLog');

  const opened = await openCounted(t, dir);
  t.equal(opened.pool_tasks(), 0, 'a lag this small is left to the dispatch actor, not rebuilt on the pool');
  await untilQueuesMatchLog(opened.store.reader, golden_log as CommitLogContent);
  t.same(servedEntries(opened.store.reader), golden_served, 'every queue serves the same entries, entry for entry');
  await opened.close();
  t.same(differingFiles(golden_files, consumeQueueFiles(dir)), [], 'every ConsumeQueue file is byte-equal to before');
});

t.test('with no lag allowed, a lagging queue is rebuilt on the CPU pool, equal to before', async (t) => {
  const dir = goldenCopy(t);
  const [lost_segment] = mostEntries(1) as [Placement];
  const segment_dir = consumeQueueDir(dir, lost_segment.topic, lost_segment.queue_id);
  for (const name of readdirSync(segment_dir).sort().slice(-2)) rmSync(path.join(segment_dir, name));
  const opened = await openCounted(t, dir, { rebuild_gap_bytes: 0 });
  t.ok(opened.pool_tasks() > 0, `rebuilt on the CPU pool (${opened.pool_tasks()} scan tasks)`);
  await untilQueuesMatchLog(opened.store.reader, golden_log as CommitLogContent);
  t.same(servedEntries(opened.store.reader), golden_served, 'every queue serves the same entries');
  await opened.close();
  t.same(differingFiles(golden_files, consumeQueueFiles(dir)), [], 'every ConsumeQueue file is byte-equal to before');
});

/**
 * Open bug, so this test is todo: the errors of a damaged queue (consume_queue.ts checkSame,
 * consume_queue_reader.ts, store_reader.ts) tell the operator to delete that queue's
 * directory "to have it rebuilt from the CommitLog", but only a missing consumequeue/ as a
 * whole is rebuilt from the log's start. Store.rebuildLaggingQueues and DispatchActor.start
 * resume from the lowest coverage_end of the queues that exist on disk (readQueueTails); a
 * deleted queue has no tail, so nothing goes back for it: dispatch resumes near the end of
 * the log, the queue restarts fresh at the first queue offset it is sent, and its older
 * entries are gone (pulls from 0 answer offset_too_small).
 */
const deleted_queue_not_rebuilt = 'open bug: a single deleted ConsumeQueue directory is not rebuilt from the start of the CommitLog';

t.test('one queue\'s directory deleted (as the damaged-queue errors advise) is rebuilt from its first record', async (t) => {
  const todo = { todo: deleted_queue_not_rebuilt };
  const dir = goldenCopy(t);
  const [deleted] = mostEntries(1) as [Placement];
  const name = queueName(deleted.topic, deleted.queue_id);
  rmSync(consumeQueueDir(dir, deleted.topic, deleted.queue_id), { recursive: true });
  const opened = await openCounted(t, dir);
  await untilQueuesMatchLog(opened.store.reader, golden_log as CommitLogContent);
  t.same(opened.store.reader.window(deleted.topic, deleted.queue_id), { min_offset: 0, max_offset: golden_served[name]?.length }, 'the deleted queue\'s window starts at 0 again', todo);
  t.same(servedEntries(opened.store.reader)[name], golden_served[name], 'the deleted queue serves the same entries as before', todo);
  await opened.close();
  const files = consumeQueueFiles(dir);
  t.same(differingFiles(golden_files, files).filter((file) => !file.startsWith(name + path.sep)), [], 'the other queues\' files are untouched');
  t.same(differingFiles(golden_files, files), [], 'every ConsumeQueue file is byte-equal to before', todo);
});

/** Todo while the bug described at empty_segment_refused (fixtures/store_kill_helpers.ts) is open. */

t.test('a queue whose newest segment file is empty (a crash between creating and sizing it) is repaired on reopen', async (t) => {
  const todo = { todo: empty_segment_refused };
  const dir = goldenCopy(t);
  const [damaged] = mostEntries(1) as [Placement];
  const segment_dir = consumeQueueDir(dir, damaged.topic, damaged.queue_id);
  truncateSync(path.join(segment_dir, readdirSync(segment_dir).sort().at(-1) as string), 0);
  const opened = await openCounted(t, dir).catch((error: Error) => error);
  if (opened instanceof Error) {
    t.fail(`the store does not open: ${opened.message}`, todo);
    return;
  }
  await untilQueuesMatchLog(opened.store.reader, golden_log as CommitLogContent);
  t.same(servedEntries(opened.store.reader), golden_served, 'every queue serves the same entries');
  await opened.close();
  t.same(differingFiles(golden_files, consumeQueueFiles(dir)), [], 'every ConsumeQueue file is byte-equal to before');
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
  await untilQueuesMatchLog(opened.store.reader, log).catch((error: Error) => t.fail(error.message));
  const check = await checkStore(opened.store.reader, [], 0);
  t.same(check.problems, [], 'every queue is served dense from 0, each record whole and exactly what was sent');
  t.equal(check.entries, log.records, `the queues serve all ${log.records} records of the log`);
}

/**
 * Open bug, reported as todo where it strikes: under async flush, the flush actor's timer
 * starts with the actor (FlushActor.start), before the CommitLog writer's placement has
 * reached the flush thread (ActorSystem.spawnByName broadcasts it after the writer's start).
 * After a crash the recovered end lies past the checkpoint, so the first tick has bytes to
 * flush, and FlushActor.flushOnce's `writer.tell({ kind: 'flushed' })` throws
 * ACTOR_NOT_FOUND; nothing catches the rejection of `flushOnce()` (FlushActor.request), so
 * the whole worker thread dies and Store.open fails with "thread 2 exited with code 1 during
 * 'placement'". The data dir is unharmed: a second open usually gets through.
 */
const flush_tick_before_writer_known = 'open bug: after a crash under async flush, the flush timer can tell the writer before the writer is placed on the flush thread; the unhandled rejection kills the thread and Store.open fails';

const open_attempts_max = 3;

/** Opens the store a kill left; undefined (a todo failure) when the open trips over an empty segment file. */
async function openAfterKill(t: Test, data_dir: string): Promise<OpenedStore | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await openCounted(t, data_dir, crash_store);
    } catch (error) {
      const message = (error as Error).message;
      if (isEmptySegmentRefusal(message)) {
        t.fail(`the store does not open after the kill: ${message} (${emptySegmentFiles(data_dir).join(', ')})`, { todo: empty_segment_refused });
        return undefined;
      }
      if (!/thread \d+ exited with code \d+/.test(message) || attempt === open_attempts_max) throw error;
      t.fail(`open attempt ${attempt}: ${message}`, { todo: flush_tick_before_writer_known });
    }
  }
}

t.test('after a kill -9 the ConsumeQueues never point past the recovered CommitLog end', async (t) => {
  const data_dir = path.join(tempDir(t), 'data');
  const acked = await appendAndKill(t, data_dir);
  const opened = await openAfterKill(t, data_dir);
  if (opened === undefined) return;
  await checkRecoveredQueues(t, opened, data_dir);
  const check = await checkStore(opened.store.reader, acked, rebuild_limits.dispatch_timeout_ms);
  t.equal(check.acked_found, acked.length, `all ${acked.length} appended records survived the kill (the page cache outlives the process)`);
  await checkContinues(t, opened, data_dir, 5_000_000);
});

/**
 * Open bug, so the continuation checks of the next test are todo: CommitLogActor.start
 * (src/actors/commit_log/commit_log_actor.ts) seeds its next-queue-offset table from the
 * ConsumeQueue tails (readQueueTails, max_offset) as the files hold them, before the
 * ConsumeQueue actors cut entries past the recovered CommitLog end (they do it in their own
 * start, later). When the log lost its tail, the table keeps the queues' old ends: the next
 * append gets queue offsets past a gap, the ConsumeQueue refuses the gap (INTERNAL), and the
 * new records are never served.
 */
const queue_offsets_from_stale_tails = 'open bug: after the CommitLog is cut below the ConsumeQueues\' ends, the writer takes its next queue offsets from the uncut queues';

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

  const opened = await openAfterKill(t, data_dir);
  if (opened === undefined) return;
  t.equal(writeOffsetOf(opened.store), cut, 'recovery finds the CommitLog\'s end where its tail was lost');
  await checkRecoveredQueues(t, opened, data_dir);
  await checkContinues(t, opened, data_dir, 5_000_000, queue_offsets_from_stale_tails);
});
