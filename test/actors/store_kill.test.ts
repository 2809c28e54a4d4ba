import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { Store } from '../../src/actors/store/store.js';
import { type ActorSystem } from '../../src/runtime/actor_system.js';
import { startActorSystem } from '../helpers/actor_systems.js';
import { store_control } from '../../src/storage/store_control.js';
import { abortMarkerPath } from '../../src/storage/storage_paths.js';
import { prng } from '../storage/commit_log_helpers.js';
import { ackedOf, commitLogContent, emptySegmentFiles, spawnAppender, until } from './fixtures/store_kill_helpers.js';
import { allQueues, checkStore, kill_store_options, kill_store_threads, oneRecordPerQueue, placementOf, queueName, recordOf, workload, type AckedRecord, type StoreCheck } from './fixtures/store_kill_workload.js';

/**
 * What was acknowledged under sync flush survives a kill -9, and the log goes on cleanly.
 *
 * One data dir, many lives. Each round starts the child (fixtures/store_appender.ts) on it:
 * the child opens the Store — crash recovery, since the last life was killed and left its
 * abort marker — checks that every record acknowledged in all earlier lives is readable at
 * the queue offset it was given, byte-equal, with every queue's offsets dense, and reports
 * the check on stdout: once right after the open (V1), once more after its first
 * acknowledged batch (V2). Then it appends batches from several writers and prints each
 * PUT_OK (sequence numbers and queue offsets) after the acknowledgement, with a synchronous
 * write. We SIGKILL it after a random number of acknowledgements plus a random short delay; one
 * round in five is killed at a random moment after spawn instead (during recovery, the check
 * or the first appends). A line in the pipe outlives its writer, so every acknowledgement
 * the child printed is known here.
 *
 * At the end this process recovers the dir itself and checks everything again, appends to
 * every queue (the queue offsets must continue where the log's records end), and reads every
 * record of the log through the queues: records that were in flight at a kill (written, not
 * acknowledged) may have survived, and each must be whole and exactly what was sent.
 *
 * A kill can fall between creating a segment file and sizing it: the next open must remove
 * the empty file and go on (the child would otherwise exit by itself, not die of the kill).
 *
 * A SIGKILL loses no page cache: this checks recovery and the acknowledgement protocol, not
 * the disk's durability (fdatasync itself).
 *
 * Replay: MQ_TEST_SEED=<seed printed in the round names>.
 */

const kill_limits = {
  rounds: 10,
  /** One round in this many is killed at a random time after spawn, not after acknowledgements. */
  early_kill_one_in: 5,
  early_kill_delay_ms_max: 1_500,
  acks_before_kill_min: 1,
  acks_before_kill_max: 150,
  /** After the wanted acknowledgements, the kill waits up to this: it lands anywhere in a batch. */
  kill_delay_ms_max: 20,
  /** How long the child's checks wait for the queues to publish the acknowledged offsets:
   *  the first (before any append) shorter, as a round where it fails waits all of it. */
  first_check_wait_ms: 2_000,
  check_wait_ms: 10_000,
  /** Until the child has printed the wanted acknowledgements (a loaded 2-core machine). */
  output_timeout_ms: 30_000,
  /** The child's own bound, so it ends even if this test does not kill it. */
  child_run_ms_max: 60_000,
  final_wait_ms: 20_000,
} as const;

const seed = Number(process.env['MQ_TEST_SEED'] ?? Date.now() % 1_000_000);
const dir = mkdtempSync(path.join(tmpdir(), 'mq-store-kill-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const ledger_path = path.join(dir, 'acked.json');
const data_dir = path.join(dir, 'data');

/** Every record acknowledged so far, and who holds each acknowledged (queue, offset). */
const ledger: AckedRecord[] = [];
const acked_positions = new Map<string, number>();
const stats = { early_kills: 0, kills_before_check: 0, acked: 0, timeouts: 0, empty_segments: 0 };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

for (let round = 0; round < kill_limits.rounds; round++) {
  t.test(`round ${round}: append under sync flush, SIGKILL (MQ_TEST_SEED=${seed})`, async (t) => {
    const random = prng(seed * 1_000 + round);
    const early = round > 0 && random() < 1 / kill_limits.early_kill_one_in;
    const acks_wanted = kill_limits.acks_before_kill_min + Math.floor(random() * (kill_limits.acks_before_kill_max - kill_limits.acks_before_kill_min + 1));
    const delay_ms = early ? random() * kill_limits.early_kill_delay_ms_max : random() * kill_limits.kill_delay_ms_max;
    writeFileSync(ledger_path, JSON.stringify(ledger));
    // Empty segment files the last kill left (created, not yet sized): the open must cope.
    const left_empty = emptySegmentFiles(data_dir);
    stats.empty_segments += left_empty.length;
    if (left_empty.length > 0) t.comment(`the last kill left empty segment files: ${left_empty.join(', ')}`);
    const child = spawnAppender(t, {
      data_dir,
      flush_mode: 'sync',
      first_seq: round * workload.seq_stride,
      ledger_path: round === 0 ? '-' : ledger_path,
      first_check_wait_ms: kill_limits.first_check_wait_ms,
      check_wait_ms: kill_limits.check_wait_ms,
      run_ms_max: kill_limits.child_run_ms_max,
    });
    // A child that exits by itself (an open that fails, an append that throws) is reported
    // below, from its exit and stderr. (A late kill comes after the child's checks too.)
    const done = (): boolean => child.ackLines() >= acks_wanted && (round === 0 || child.lines().some((line) => line.startsWith('V2 ')));
    if (!early) await child.waitFor(done, kill_limits.output_timeout_ms, `${acks_wanted} acknowledged batches`).catch(() => undefined);
    await sleep(delay_ms);
    const exit = await child.kill();
    t.equal(exit.signal, 'SIGKILL', 'the child died of the kill, not by itself', { stderr: child.stderr().slice(-2_000) });
    if (!early) t.ok(child.lines().includes('O'), `the child opened the store${left_empty.length > 0 ? `, ${left_empty.length} empty segment files notwithstanding` : ''}`);
    if (!early) t.ok(child.ackLines() >= acks_wanted, `killed after at least ${acks_wanted} acknowledged batches`);

    const lines = child.lines();
    t.same(lines.filter((line) => line.startsWith('E ')), [], 'no append failed');
    const first_check_line = lines.find((line) => line.startsWith('V1 '));
    if (first_check_line !== undefined) {
      const first_check = JSON.parse(first_check_line.slice(3)) as StoreCheck;
      // No append has flushed yet: what the queues serve here, recovery alone dispatched.
      t.same(first_check.problems, [], 'right after recovery, before any append: every queue dense from 0, every acknowledged record readable, every record whole and exactly what was sent');
      t.equal(first_check.acked_found, ledger.length, `right after recovery, before any append: all ${ledger.length} acknowledged records are there, byte-equal, at their queue offsets`);
      // The log continues where it ended: new acknowledgements take offsets past everything
      // the recovered queues published (the next round checks they are dense).
      const below = ackedOf(lines).filter(([seq, queue_offset]) => {
        const { topic, queue_id } = placementOf(seq);
        return queue_offset < (first_check.max_offsets[queueName(topic, queue_id)] ?? 0);
      });
      t.same(below, [], 'records appended after recovery got queue offsets past the recovered ones');
    }
    const check_line = lines.find((line) => line.startsWith('V2 '));
    if (check_line !== undefined) {
      const check = JSON.parse(check_line.slice(3)) as StoreCheck;
      t.same(check.problems, [], 'once the log goes on: every queue dense from 0, every record whole and exactly what was sent');
      t.equal(check.acked_found, ledger.length, `all ${ledger.length} acknowledged records are there, byte-equal, at their queue offsets`);
    } else if (round > 0) {
      t.ok(early, 'only a round killed early may end before the child checked the recovered store');
      stats.kills_before_check++;
    }

    const acked = ackedOf(lines);
    const reused: string[] = [];
    for (const [seq, queue_offset] of acked) {
      const { topic, queue_id } = placementOf(seq);
      const position = `${queueName(topic, queue_id)}@${queue_offset}`;
      const holder = acked_positions.get(position);
      if (holder !== undefined) reused.push(`${position}: seq ${holder}, then seq ${seq}`);
      acked_positions.set(position, seq);
      ledger.push([seq, queue_offset]);
    }
    t.same(reused, [], 'no queue offset was acknowledged twice');
    if (!early) t.ok(acked.length > 0, `${acked.length} records acknowledged in this life`);
    if (early) stats.early_kills++;
    stats.acked += acked.length;
    stats.timeouts += lines.filter((line) => line.startsWith('T ')).length;
    t.comment(`${early ? `killed ${delay_ms.toFixed(0)} ms after spawn` : `killed after ${acks_wanted}+ acknowledged batches`}; ${lines.length} lines; ${ledger.length} records acknowledged in all`);
  });
}

t.test('after the last kill: recovery here serves every acknowledged record, the log continues, records in flight at a kill are whole', async (t) => {
  t.ok(existsSync(abortMarkerPath(data_dir)), 'the killed child left its abort marker: this open is a crash recovery');
  const system = await startActorSystem({ threads: kill_store_threads });
  let store: Store | undefined;
  t.teardown(async () => {
    await store?.close().catch(() => undefined);
    await system.stop();
  });
  const left_empty = emptySegmentFiles(data_dir);
  stats.empty_segments += left_empty.length;
  store = await Store.open(system, { data_dir, ...kill_store_options, flush_mode: 'sync' });
  const recovered = await checkStore(store.reader, ledger, kill_limits.first_check_wait_ms);
  t.same(recovered.problems, [], 'recovered, before any append: every queue dense, every acknowledged record readable, every record whole and exactly what was sent');
  t.equal(recovered.acked_found, ledger.length, `recovered, before any append: all ${ledger.length} acknowledged records are there at their offsets`);

  // Continue: one record to every queue. Each must take the offset right after the last
  // record its queue has in the log (recovered ones included, acknowledged or not).
  const seqs = oneRecordPerQueue(kill_limits.rounds * workload.seq_stride);
  const reply = await store.append(seqs.map((seq) => recordOf(seq)));
  t.equal(reply.status, 'PUT_OK', 'an append after recovery is acknowledged');
  const final_acked: AckedRecord[] = seqs.map((seq, index) => [seq, reply.results[index]?.queue_offset ?? -1]);
  const write_offset = store_control.attach(store.args.control).load('write_offset');
  const log = commitLogContent(data_dir, kill_store_options.commit_log_segment_bytes as number, write_offset);
  t.equal(log.end_offset, write_offset, 'every record of the CommitLog passes its checks up to the write offset');
  t.ok(log.dense, 'in the CommitLog, every queue\'s offsets run 0, 1, 2, ... without gap or repeat');
  t.same(
    final_acked.filter(([seq, queue_offset]) => {
      const { topic, queue_id } = placementOf(seq);
      return log.queue_ends[queueName(topic, queue_id)] !== queue_offset + 1;
    }),
    [],
    'each new record is its queue\'s last in the log: the offsets continue right after the recovered records',
  );

  // Every record of the log must reach its queue: wait for the queues to publish them all.
  const reader = store.reader;
  await until(
    () => allQueues().every(({ topic, queue_id }) => (reader.window(topic, queue_id)?.max_offset ?? 0) === (log.queue_ends[queueName(topic, queue_id)] ?? 0)),
    kill_limits.final_wait_ms,
    () => `queues published ${JSON.stringify(allQueues().map(({ topic, queue_id }) => reader.window(topic, queue_id)?.max_offset ?? 0))}, the log holds ${JSON.stringify(log.queue_ends)}`,
  );
  const all = await checkStore(reader, [...ledger, ...final_acked], kill_limits.final_wait_ms);
  t.same(all.problems, [], 'every record of the log read through its queue: whole, exactly what was sent, once');
  t.equal(all.entries, log.records, `the queues hold every one of the log's ${log.records} records`);
  t.equal(all.acked_found, ledger.length + final_acked.length, 'and every acknowledged one at its offset');
  // Every queue has taken a record since the open, so every segment set was loaded read-write.
  t.same(emptySegmentFiles(data_dir), [], `no empty segment file is left (${left_empty.length} were there before this open)`);
  t.comment(`${all.unacked} records were in flight at a kill (not acknowledged) and survived, each whole; ${stats.early_kills} early kills (${stats.kills_before_check} before the check), ${stats.timeouts} FLUSH_DISK_TIMEOUT answers; ${stats.empty_segments} empty segment files seen after kills`);

  // A clean stop and start serve the same.
  await store.close();
  store = undefined;
  t.notOk(existsSync(abortMarkerPath(data_dir)), 'a clean stop removes the abort marker');
  store = await Store.open(system, { data_dir, ...kill_store_options, flush_mode: 'sync' });
  const clean = await checkStore(store.reader, [...ledger, ...final_acked], kill_limits.final_wait_ms);
  t.same(clean.problems, [], 'after a clean restart: the same');
  t.equal(clean.entries, log.records, 'the same records');
});
