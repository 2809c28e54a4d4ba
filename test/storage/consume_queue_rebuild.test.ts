import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { CpuPool } from '../../src/runtime/cpu_pool.js';
import { ManualClock } from '../../src/runtime/clock.js';
import { CommitLog, queueKey } from '../../src/storage/commit_log.js';
import { SegmentSet } from '../../src/storage/segment_set.js';
import { ConsumeQueue } from '../../src/storage/consume_queue.js';
import { applyRebuildResult, planRebuild, rebuild_task_module, rebuildConsumeQueues, rebuildConsumeQueuesInPool, scanForConsumeQueues, type RebuildResult, type RebuildTask } from '../../src/storage/consume_queue_rebuild.js';
import { commitLogDir, consumeQueueRootDir, segmentFileName } from '../../src/storage/storage_paths.js';
import { tagHash } from '../../src/storage/tag_hash.js';
import { input, openCommitLog, patternBody, prng, store_host, tempDir } from './commit_log_helpers.js';
import { lean_worker_exec_argv } from '../helpers/tap_hooks.js';

const commit_log_segment_bytes = 64 * 1024;
const entries_per_segment = 64;
const topics = ['orders', 'payments', 'audit'];
const queues_per_topic = 4;
const record_count = 4000;

interface Written {
  data_dir: string;
  commit_log_end: number;
  /** Every ConsumeQueue file's bytes as built while writing, by path under the data dir. */
  files: Map<string, Buffer>;
}

/**
 * Writes a CommitLog of several topics and queues over many segment rolls, and builds the
 * ConsumeQueues as dispatch would, entry by entry from each append's result.
 */
function writeStore(t: Test): Written {
  const data_dir = tempDir(t);
  const { log } = openCommitLog(commitLogDir(data_dir), commit_log_segment_bytes);
  const queues = new Map<string, ConsumeQueue>();
  const random = prng(31337);
  const batch: ReturnType<typeof input>[] = [];
  const flushBatch = (): void => {
    const results = log.appendBatch(batch);
    results.forEach((result, index) => {
      const record = batch[index] as ReturnType<typeof input>;
      const key = queueKey(record.topic, record.queue_id);
      let queue = queues.get(key);
      if (queue === undefined) {
        queue = new ConsumeQueue({ data_dir, topic: record.topic, queue_id: record.queue_id, entries_per_segment }).load();
        queues.set(key, queue);
      }
      queue.append(result.queue_offset, result.physical_offset, result.size, record.tag_hash);
    });
    batch.length = 0;
  };
  for (let index = 0; index < record_count; index++) {
    const topic = topics[Math.floor(random() * topics.length)] as string;
    const record = input(topic, Math.floor(random() * queues_per_topic), patternBody(index, 10 + Math.floor(random() * 2000)));
    record.tag_hash = tagHash(`tag-${index % 3}`);
    batch.push(record);
    if (batch.length === 16 || random() < 0.2) flushBatch();
  }
  flushBatch();
  const commit_log_end = log.offset;
  log.close();
  for (const queue of queues.values()) {
    queue.flush();
    queue.close();
  }
  return { data_dir, commit_log_end, files: readQueueFiles(data_dir) };
}

function readQueueFiles(data_dir: string): Map<string, Buffer> {
  const root = consumeQueueRootDir(data_dir);
  const files = new Map<string, Buffer>();
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    files.set(path.relative(root, full), readFileSync(full));
  }
  return files;
}

/** Opens queues on demand for a rebuild, and closes them all at the end. */
function queueOpener(data_dir: string) {
  const open = new Map<string, ConsumeQueue>();
  return {
    queueFor: (topic: string, queue_id: number): ConsumeQueue => {
      const key = queueKey(topic, queue_id);
      let queue = open.get(key);
      if (queue === undefined) {
        queue = new ConsumeQueue({ data_dir, topic, queue_id, entries_per_segment }).load();
        open.set(key, queue);
      }
      return queue;
    },
    open,
    closeAll: (): void => {
      for (const queue of open.values()) {
        queue.flush();
        queue.close();
      }
    },
  };
}

function sameFiles(t: Test, actual: Map<string, Buffer>, expected: Map<string, Buffer>, what: string): void {
  t.same([...actual.keys()].sort(), [...expected.keys()].sort(), `${what}: the same segment files`);
  const differing = [...expected].filter(([name, bytes]) => !actual.get(name)?.equals(bytes)).map(([name]) => name);
  t.same(differing, [], `${what}: every segment byte-identical`);
}

t.test('delete the ConsumeQueues, rebuild them from the CommitLog on this thread: equal to the ones built while writing', async (t) => {
  const written = writeStore(t);
  t.ok(written.commit_log_end > 40 * commit_log_segment_bytes, `the CommitLog rolled over ${Math.ceil(written.commit_log_end / commit_log_segment_bytes)} segments`);
  t.ok(written.files.size > topics.length * queues_per_topic * 3, `${written.files.size} ConsumeQueue segments`);
  rmSync(consumeQueueRootDir(written.data_dir), { recursive: true });

  const opener = queueOpener(written.data_dir);
  const started = process.hrtime.bigint();
  const summary = rebuildConsumeQueues({ commit_log_dir: commitLogDir(written.data_dir), segment_bytes: commit_log_segment_bytes, from_offset: 0, to_offset: written.commit_log_end }, opener.queueFor);
  const elapsed_ms = Number(process.hrtime.bigint() - started) / 1e6;
  t.equal(summary.records, record_count, 'every record scanned');
  t.equal(summary.entries_appended, record_count, 'one entry per record');
  t.equal(summary.queues, topics.length * queues_per_topic);
  t.equal(summary.tasks, Math.ceil(written.commit_log_end / commit_log_segment_bytes), 'one task per CommitLog segment');
  t.comment(`rebuild on this thread: ${record_count} records in ${elapsed_ms.toFixed(1)} ms`);
  for (const queue of opener.open.values()) t.equal(queue.coverage_end <= written.commit_log_end, true);
  opener.closeAll();
  sameFiles(t, readQueueFiles(written.data_dir), written.files, 'rebuilt');

  // One scan over the whole log (across segment ends) gives the same queues.
  rmSync(consumeQueueRootDir(written.data_dir), { recursive: true });
  const whole = scanForConsumeQueues({ commit_log_dir: commitLogDir(written.data_dir), segment_bytes: commit_log_segment_bytes, from_offset: 0, to_offset: written.commit_log_end, records_max: record_count });
  t.equal(whole.records, record_count);
  t.ok(whole.queues.every((queue) => queue.entry_count > 256), 'every queue outgrew its first buffer');
  const from_one_scan = queueOpener(written.data_dir);
  t.equal(applyRebuildResult(whole, from_one_scan.queueFor), record_count);
  from_one_scan.closeAll();
  sameFiles(t, readQueueFiles(written.data_dir), written.files, 'rebuilt from one scan');

  // Rebuilding again over complete queues: every entry compared, none added.
  const again = queueOpener(written.data_dir);
  const second = rebuildConsumeQueues({ commit_log_dir: commitLogDir(written.data_dir), segment_bytes: commit_log_segment_bytes, from_offset: 0, to_offset: written.commit_log_end }, again.queueFor);
  t.equal(second.entries_appended, 0, 'a second rebuild is a no-op');
  again.closeAll();
});

t.test('the same through CpuPool.run, split per segment and chained within one', async (t) => {
  const written = writeStore(t);
  const pool = new CpuPool(2, lean_worker_exec_argv);
  t.teardown(() => pool.destroy());
  const commit_log_dir = commitLogDir(written.data_dir);
  const range = { commit_log_dir, segment_bytes: commit_log_segment_bytes, from_offset: 0, to_offset: written.commit_log_end };

  // One task by hand: the result comes back with its entries in one transferred buffer.
  const [first_task] = planRebuild(range);
  const by_hand = await pool.run<RebuildTask, RebuildResult>(rebuild_task_module, first_task as RebuildTask);
  const here = scanForConsumeQueues(first_task as RebuildTask);
  t.ok(by_hand.entries instanceof ArrayBuffer);
  t.equal(by_hand.entries.byteLength, by_hand.records * 20, 'one 20-byte entry per record, all in one buffer');
  t.same(by_hand.queues, here.queues, 'the pool thread finds what this thread finds');
  t.ok(Buffer.from(by_hand.entries).equals(Buffer.from(here.entries)));

  rmSync(consumeQueueRootDir(written.data_dir), { recursive: true });
  const opener = queueOpener(written.data_dir);
  const started = process.hrtime.bigint();
  const summary = await rebuildConsumeQueuesInPool(pool, { ...range, task_records_max: 25 }, opener.queueFor, { tasks_in_flight_max: 3 });
  const elapsed_ms = Number(process.hrtime.bigint() - started) / 1e6;
  t.equal(summary.records, record_count);
  t.equal(summary.entries_appended, record_count);
  t.ok(summary.tasks > planRebuild(range).length, `segments with more than 25 records took several tasks (${summary.tasks} tasks)`);
  t.comment(`rebuild on the pool (2 threads, tasks of 25 records): ${record_count} records in ${elapsed_ms.toFixed(1)} ms, ${summary.tasks} tasks`);
  opener.closeAll();
  sameFiles(t, readQueueFiles(written.data_dir), written.files, 'rebuilt on the pool');

  rmSync(consumeQueueRootDir(written.data_dir), { recursive: true });
  const whole = queueOpener(written.data_dir);
  const whole_started = process.hrtime.bigint();
  const whole_summary = await rebuildConsumeQueuesInPool(pool, range, whole.queueFor);
  t.comment(`rebuild on the pool (one task per segment): ${record_count} records in ${(Number(process.hrtime.bigint() - whole_started) / 1e6).toFixed(1)} ms, ${whole_summary.tasks} tasks`);
  whole.closeAll();
  sameFiles(t, readQueueFiles(written.data_dir), written.files, 'rebuilt on the pool, one task per segment');
});

t.test('a lagging queue is completed from its coverage end; a queue that disagrees is reported', async (t) => {
  const written = writeStore(t);
  const commit_log_dir = commitLogDir(written.data_dir);
  const lagging = new ConsumeQueue({ data_dir: written.data_dir, topic: 'payments', queue_id: 2, entries_per_segment }).load();
  const full_max = lagging.max_offset;
  const middle = lagging.entryAt(Math.floor(full_max / 2));
  t.ok(middle !== undefined);
  const dropped = lagging.truncateToCommitLog((middle as { commit_log_offset: number }).commit_log_offset);
  t.ok(dropped > 0, `${dropped} entries dropped, as if the queue had not been flushed`);
  const from = lagging.coverage_end;
  const summary = rebuildConsumeQueues({ commit_log_dir, segment_bytes: commit_log_segment_bytes, from_offset: from, to_offset: written.commit_log_end }, (topic, queue_id) => (topic === 'payments' && queue_id === 2 ? lagging : undefined));
  t.equal(summary.entries_appended, dropped, 'exactly the missing entries were appended');
  t.equal(lagging.max_offset, full_max);
  lagging.flush();
  lagging.close();
  sameFiles(t, readQueueFiles(written.data_dir), written.files, 'completed');

  // Damage one entry: a rebuild over it refuses to paper over the disagreement.
  const damaged = new ConsumeQueue({ data_dir: written.data_dir, topic: 'orders', queue_id: 0, entries_per_segment }).load();
  const entry = damaged.entryAt(5) as { commit_log_offset: number; size: number; tag_hash: number };
  damaged.truncateToCommitLog(entry.commit_log_offset);
  damaged.append(5, entry.commit_log_offset, entry.size, entry.tag_hash + 1);
  t.throws(
    () => rebuildConsumeQueues({ commit_log_dir, segment_bytes: commit_log_segment_bytes, from_offset: 0, to_offset: written.commit_log_end }, (topic, queue_id) => (topic === 'orders' && queue_id === 0 ? damaged : undefined)),
    { code: 'INTERNAL', message: /orders\/0: queue offset 5 holds .* disagree/ },
  );
  damaged.close();

  rmSync(path.join(commit_log_dir, segmentFileName(3 * commit_log_segment_bytes)));
  t.throws(() => rebuildConsumeQueues({ commit_log_dir, segment_bytes: commit_log_segment_bytes, from_offset: 0, to_offset: written.commit_log_end }, () => undefined), { code: 'INTERNAL', message: /missing/ }, 'a missing CommitLog segment is reported');
  t.throws(() => scanForConsumeQueues({ commit_log_dir, segment_bytes: commit_log_segment_bytes, from_offset: 0, to_offset: 5 * commit_log_segment_bytes, records_max: record_count }), { code: 'INTERNAL', message: /stopped at 196608: the segment holding it is missing/ }, 'also by a task that meets it');
  t.throws(() => scanForConsumeQueues({ commit_log_dir, segment_bytes: commit_log_segment_bytes, from_offset: 10, to_offset: written.commit_log_end, records_max: 10 }), { code: 'INTERNAL' }, 'a scan from inside a record finds no record there');
});

t.test('CommitLog queue offsets that jump cannot be rebuilt from, and say so', async (t) => {
  const data_dir = tempDir(t);
  const commit_log_dir = commitLogDir(data_dir);
  const first = openCommitLog(commit_log_dir, commit_log_segment_bytes);
  first.log.appendBatch([input('T', 0, Buffer.from('a')), input('T', 0, Buffer.from('b'))]);
  const end = first.log.offset;
  first.log.close();
  const segments = new SegmentSet(commit_log_dir, commit_log_segment_bytes, 'read-write').load();
  const jumping = new CommitLog(segments, { write_offset: end, queue_offsets: new Map([[queueKey('T', 0), 10]]) }, store_host, new ManualClock(0));
  jumping.appendBatch([input('T', 0, Buffer.from('c'))]);
  t.throws(() => scanForConsumeQueues({ commit_log_dir, segment_bytes: commit_log_segment_bytes, from_offset: 0, to_offset: jumping.offset, records_max: 100 }), {
    code: 'INTERNAL',
    message: new RegExp(`record at ${end} has queue offset 10 for T/0, expected 2: the CommitLog's queue offsets are not consecutive`),
  });
  jumping.close();
});
