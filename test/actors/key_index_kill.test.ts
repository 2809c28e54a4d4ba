import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { Test } from 'tap';
import { Store } from '../../src/actors/store/store.js';
import { internal_topics } from '../../src/protocol/index.js';
import { CommitLogReader } from '../../src/storage/commit_log_reader.js';
import { decodeMessageProperties } from '../../src/storage/message_properties.js';
import { SegmentSet } from '../../src/storage/segment_set.js';
import { store_control } from '../../src/storage/store_control.js';
import { commitLogDirs } from '../../src/storage/storage_paths.js';
import { childEnv } from '../cli/node_process.js';
import { startActorSystem } from '../helpers/actor_systems.js';
import { prng } from '../helpers/prng.js';
import { bodyOf, keysOf, kill_store_options, kill_workload, topicOf } from './fixtures/key_index_kill_workload.js';

/**
 * The key index after kill -9: a child (fixtures/key_index_appender.ts) appends keyed records
 * under sync flush and is killed with SIGKILL — after some acknowledgements, or (one round in
 * three) at a random moment after spawn, which may fall in its recovery and the key index's
 * re-indexing. Each life re-indexes from the covered offset the last one left (up to a second
 * behind its entries, by design) and must add nothing twice. At the end this process opens
 * the data dir and checks that:
 * - every acknowledged record is found by its unique key, exactly once, body equal;
 * - every record in the CommitLog (acknowledged or in flight at a kill) likewise;
 * - the index holds exactly one entry per distinct key of each record in the log: no entry
 *   lost, none twice;
 * - a shared key finds its newest 64 records, in order.
 *
 * Replay: MQ_TEST_SEED=<seed printed in the round names>.
 */

const kill_limits = {
  rounds: 8,
  early_kill_one_in: 3,
  early_kill_delay_ms_max: 1_500,
  acks_before_kill_max: 80,
  kill_delay_ms_max: 30,
  output_timeout_ms: 30_000,
  child_run_ms_max: 60_000,
  exit_timeout_ms: 10_000,
  index_wait_ms: 20_000,
} as const;

const appender_path = fileURLToPath(new URL('./fixtures/key_index_appender.js', import.meta.url));
const seed = Number(process.env['MQ_TEST_SEED'] ?? Date.now() % 1_000_000);
const dir = mkdtempSync(path.join(tmpdir(), 'mq-key-index-kill-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const data_dir = path.join(dir, 'data');
const acked: number[] = [];

interface Child {
  lines(): string[];
  stderr(): string;
  waitForAcks(count: number, timeout_ms: number): Promise<void>;
  kill(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the appender; t.teardown kills it by its PID if it still runs. */
function spawnAppender(t: Test, first_seq: number): Child {
  const child = spawn(process.execPath, [appender_path, data_dir, String(first_seq), String(kill_limits.child_run_ms_max)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: childEnv({ MQ_LOG_LEVEL: process.env['MQ_LOG_LEVEL'] ?? 'warn' }),
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('the appender child did not start');
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  t.teardown(() => {
    if (alive()) process.kill(pid, 'SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk.slice(0, 1 << 20)));
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const lines = (): string[] => stdout.split('\n').slice(0, -1);
  return {
    lines,
    stderr: () => stderr,
    waitForAcks: async (count, timeout_ms) => {
      const deadline = performance.now() + timeout_ms;
      while (lines().filter((text) => text.startsWith('A ')).length < count) {
        if (!alive()) throw new Error(`the child exited first; stderr: ${stderr.slice(-2_000)}`);
        if (performance.now() > deadline) throw new Error(`${count} acknowledgements not within ${timeout_ms} ms; stderr: ${stderr.slice(-2_000)}`);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    },
    kill: async () => {
      if (alive()) process.kill(pid, 'SIGKILL');
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([closed, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`child ${pid} did not exit after SIGKILL`)), kill_limits.exit_timeout_ms)))]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

for (let round = 0; round < kill_limits.rounds; round++) {
  t.test(`round ${round}: keyed appends under sync flush, SIGKILL (MQ_TEST_SEED=${seed})`, async (t) => {
    const random = prng(seed * 1_000 + round);
    const early = round > 0 && random() < 1 / kill_limits.early_kill_one_in;
    const acks_wanted = 1 + Math.floor(random() * kill_limits.acks_before_kill_max);
    const child = spawnAppender(t, round * kill_workload.seq_stride);
    if (early) await new Promise((resolve) => setTimeout(resolve, random() * kill_limits.early_kill_delay_ms_max));
    else {
      await child.waitForAcks(acks_wanted, kill_limits.output_timeout_ms);
      await new Promise((resolve) => setTimeout(resolve, random() * kill_limits.kill_delay_ms_max));
    }
    const exit = await child.kill();
    t.equal(exit.signal, 'SIGKILL', 'the child died of the kill', { stderr: child.stderr().slice(-2_000) });
    t.same(child.lines().filter((text) => text.startsWith('E ')), [], 'no append failed');
    let count = 0;
    for (const text of child.lines()) {
      if (!text.startsWith('A ')) continue;
      const [, first, records] = text.split(' ').map(Number) as [number, number, number];
      for (let seq = first; seq < first + records; seq++) acked.push(seq);
      count += records;
    }
    if (!early) t.ok(count > 0, `${count} records acknowledged in this life`);
    t.comment(`${early ? 'killed early' : `killed after ${acks_wanted}+ acknowledged batches`}; ${acked.length} records acknowledged in all`);
  });
}

t.test('after the last kill: every record in the log is found by its keys, exactly once; the index has one entry per key', async (t) => {
  const system = await startActorSystem({ threads: 2 });
  let store: Store | undefined;
  t.teardown(async () => {
    await store?.close().catch(() => undefined);
    await system.stop();
  });
  store = await Store.open(system, { data_dir, ...kill_store_options, flush_mode: 'sync' });
  const write_offset = store_control.attach(store.args.control).load('write_offset');

  // The truth: every record of the recovered CommitLog, with its sequence number and keys.
  const log: Array<{ seq: number; offset: number; keys: string[] }> = [];
  const segments = new SegmentSet(commitLogDirs({ data_dir }), kill_store_options.commit_log_segment_bytes as number, 'read-only').load();
  new CommitLogReader(segments).scan(segments.min_offset, write_offset, (record, offset) => {
    if (internal_topics.has(record.topic)) return;
    const properties = decodeMessageProperties(record.properties);
    log.push({ seq: Number(properties.properties['SEQ']), offset, keys: properties.keys });
  });
  segments.close();
  const log_seqs = new Set(log.map((record) => record.seq));
  t.equal(log_seqs.size, log.length, `${log.length} records in the log, each sequence number once`);
  t.same(acked.filter((seq) => !log_seqs.has(seq)), [], `all ${acked.length} acknowledged records are in the log`);

  const deadline = performance.now() + kill_limits.index_wait_ms;
  let status = await store.key_index.ask({ kind: 'status' });
  while (status.covered_offset < write_offset && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    status = await store.key_index.ask({ kind: 'status' });
  }
  t.equal(status.covered_offset, write_offset, 'the index covers the recovered log');
  const keys_in_log = log.reduce((sum, record) => sum + new Set(record.keys).size, 0);
  t.equal(status.entries, keys_in_log, `the index holds ${keys_in_log} entries: one per key of each record in the log — none lost, none twice (over ${status.files} files)`);

  const problems: string[] = [];
  const acked_set = new Set(acked);
  let acked_found = 0;
  for (const record of log) {
    for (const key of [`k-${record.seq}`, ...(record.seq % 3 === 0 ? [`t-${record.seq}`] : [])]) {
      const found = await store.lookupByKey(topicOf(record.seq), key, 64);
      if (found.length !== 1 || found[0]?.physical_offset !== record.offset || !found[0].body.equals(bodyOf(record.seq))) {
        if (problems.length < 10) problems.push(`${key}: found ${found.length} records at ${JSON.stringify(found.map((view) => view.physical_offset))}, want one at ${record.offset}`);
      } else if (key.startsWith('k-') && acked_set.has(record.seq)) acked_found++;
    }
  }
  t.same(problems, [], 'every record of the log is found by each unique key, once, body equal');
  t.equal(acked_found, acked.length, `every acknowledged record (${acked.length}) among them`);

  const shared: string[] = [];
  for (let group = 0; group < kill_workload.groups; group += 7) {
    for (const topic of kill_workload.topics) {
      const want = log.filter((record) => topicOf(record.seq) === topic && keysOf(record.seq).includes(`g-${group}`)).map((record) => record.offset).reverse().slice(0, 64);
      const got = (await store.lookupByKey(topic, `g-${group}`, 64)).map((view) => view.physical_offset);
      if (JSON.stringify(got) !== JSON.stringify(want) && shared.length < 5) shared.push(`${topic}/g-${group}: got ${got.length}, want ${want.length}`);
    }
  }
  t.same(shared, [], 'shared keys: their newest 64 records, newest first, no duplicate');
});
