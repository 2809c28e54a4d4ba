/**
 * The key index (lookup by business key) through a real Store on two actor threads:
 *   1. appends of 1 KiB records, async flush, batches of 32 from 8 writers, with two keys a
 *      record (one unique, `order-<n>`, one shared by 1 in 1,000 records, `batch-<n mod
 *      1000>`), and with the same strings as a user property instead (the same bytes to
 *      encode and store, nothing to index): what indexing costs the append rate, and how
 *      long after the last append the index has caught up with the CommitLog;
 *   2. lookups one after another through Store.lookupByKey (main thread → the key-index
 *      actor → main, then the record reads): a unique key (one message), and a shared key
 *      with the limit of 32 (newest first).
 * Every case runs on a fresh temp dir, removed afterwards even on failure, bounded in time
 * and in records.
 *
 * Run: `npm run bench -- keyindex [--json] [--duration-ms N]`.
 */
import { Store } from '../src/actors/store/store.js';
import { ActorSystem } from '../src/runtime/actor_system.js';
import { encodeMessageProperties } from '../src/storage/message_properties.js';
import type { RecordInput } from '../src/storage/record.js';
import { store_control } from '../src/storage/store_control.js';
import { tagHash } from '../src/storage/tag_hash.js';
import { machineInfo, type MachineInfo } from './lib/machine.js';
import { mebibyte_bytes, round, withTempDir } from './lib/store_files.js';
import { LatencyRecorder, type LatencySummary } from './lib/store_latency.js';
import { formatTable } from './lib/table.js';
import { nowMs } from './lib/timing.js';

const duration_ms_default = 3_000;
const segment_bytes = 256 * mebibyte_bytes;
const body_bytes = 1024;
const topic = 'KeyBench';
const queues = 4;
const batch_records = 32;
const writers = 8;
const records_max = 3_000_000;
const shared_keys = 1_000;
/** The index must catch up within this after the last append, or the bench fails. */
const catch_up_timeout_ms = 60_000;
const lookups_max = 200_000;

interface AppendRow {
  keys_per_record: number;
  records: number;
  records_per_s: number;
  /** From the last append's reply to the index covering the CommitLog's end. */
  index_catch_up_ms: number | null;
}

interface LookupRow {
  name: string;
  lookups: number;
  lookups_per_s: number;
  /** Messages each lookup returned (all the same, checked). */
  messages_each: number;
  latency: LatencySummary;
}

export interface KeyIndexBenchReport {
  bench: 'keyindex';
  machine: MachineInfo;
  settings: { body_bytes: number; batch_records: number; writers: number; duration_ms: number; shared_keys: number };
  appends: AppendRow[];
  lookups: LookupRow[];
}

const body = Buffer.alloc(body_bytes, 7);

function recordOf(index: number, keyed: boolean): RecordInput {
  const keys = [`order-${index}`, `batch-${index % shared_keys}`];
  return {
    topic,
    queue_id: index % queues,
    body,
    properties: encodeMessageProperties(keyed ? { tag: 'bench', keys, properties: {} } : { tag: 'bench', keys: [], properties: { ref: keys.join(' ') } }),
    tag_hash: tagHash('bench'),
    flags: 0,
    sys_flags: 0,
    born_timestamp: Date.now(),
    born_host: { ipv4: 0x7f000001, port: 40_000 },
    reconsume_times: 0,
    prepared_transaction_offset: 0,
  };
}

/** `writers` loops appending batches until the deadline; resolves with the records appended. */
async function appendFor(store: Store, keyed: boolean, deadline_ms: number): Promise<number> {
  let next = 0;
  const writer = async (): Promise<void> => {
    while (next < records_max && nowMs() < deadline_ms) {
      const first = next;
      next += batch_records;
      const reply = await store.append(Array.from({ length: batch_records }, (_, offset) => recordOf(first + offset, keyed)));
      if (reply.status !== 'PUT_OK') throw new Error(`append answered ${reply.status}`);
    }
  };
  await Promise.all(Array.from({ length: writers }, writer));
  return next;
}

async function untilIndexed(store: Store): Promise<number> {
  const started_ms = nowMs();
  const write_offset = store_control.attach(store.args.control).load('write_offset');
  for (;;) {
    const status = await store.key_index.ask({ kind: 'status' });
    if (status.covered_offset >= write_offset) return nowMs() - started_ms;
    if (nowMs() - started_ms > catch_up_timeout_ms) throw new Error(`the key index covered ${status.covered_offset} of ${write_offset} after ${catch_up_timeout_ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

async function lookupsFor(store: Store, name: string, duration_ms: number, keyOf: (n: number) => string, limit: number, expected: (n: number) => number): Promise<LookupRow> {
  const latency = new LatencyRecorder();
  const started_ms = nowMs();
  let lookups = 0;
  let messages_each = -1;
  while (lookups < lookups_max && nowMs() - started_ms < duration_ms) {
    const n = Math.floor(Math.random() * 1_000_000_007);
    const asked_ms = nowMs();
    const found = await store.lookupByKey(topic, keyOf(n), limit);
    latency.record(nowMs() - asked_ms);
    if (found.length !== expected(n)) throw new Error(`${name}: key ${keyOf(n)} found ${found.length} messages, expected ${expected(n)}`);
    messages_each = found.length;
    lookups++;
  }
  const elapsed_ms = nowMs() - started_ms;
  const summary = latency.summary();
  latency.destroy();
  return { name, lookups, lookups_per_s: Math.round((lookups * 1_000) / elapsed_ms), messages_each, latency: summary };
}

async function appendCase(keys_per_record: number, duration_ms: number, with_lookups: (store: Store, records: number) => Promise<LookupRow[]>): Promise<{ row: AppendRow; lookups: LookupRow[] }> {
  return withTempDir('keyindex', async (data_dir) => {
    const system = await ActorSystem.start({ threads: 2 });
    let store: Store | undefined;
    try {
      store = await Store.open(system, { data_dir, flush_mode: 'async', commit_log_segment_bytes: segment_bytes, preallocate: true });
      const started_ms = nowMs();
      const records = await appendFor(store, keys_per_record > 0, started_ms + duration_ms);
      const elapsed_ms = nowMs() - started_ms;
      const index_catch_up_ms = keys_per_record > 0 ? round(await untilIndexed(store), 1) : null;
      const row = { keys_per_record, records, records_per_s: Math.round((records * 1_000) / elapsed_ms), index_catch_up_ms };
      return { row, lookups: await with_lookups(store, records) };
    } finally {
      await store?.close();
      await system.stop();
    }
  });
}

export async function run(options: { json: boolean; duration_ms?: number }): Promise<KeyIndexBenchReport> {
  process.env['MQ_LOG_LEVEL'] ??= 'warn';
  const duration_ms = options.duration_ms ?? duration_ms_default;
  // Each case twice, alternating: the first run of a process pays the JIT's warm-up, and a
  // neighbour's load comes and goes; rows of one run are the comparison.
  const appends: AppendRow[] = [(await appendCase(0, duration_ms, async () => [])).row, (await appendCase(2, duration_ms, async () => [])).row];
  appends.push((await appendCase(0, duration_ms, async () => [])).row);
  const keyed = await appendCase(2, duration_ms, async (store, records) => {
    const per_shared_key = (n: number): number => Math.floor((records - 1 - (n % shared_keys)) / shared_keys) + 1;
    return [
      await lookupsFor(store, 'unique key (1 message)', duration_ms, (n) => `order-${n % records}`, 32, () => 1),
      await lookupsFor(store, `shared key (limit 32 of ~${Math.round(records / shared_keys)})`, duration_ms, (n) => `batch-${n % shared_keys}`, 32, (n) => Math.min(32, per_shared_key(n))),
    ];
  });
  const report: KeyIndexBenchReport = {
    bench: 'keyindex',
    machine: machineInfo(),
    settings: { body_bytes, batch_records, writers, duration_ms, shared_keys },
    appends: [...appends, keyed.row],
    lookups: keyed.lookups,
  };
  if (options.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return report;
  }
  process.stdout.write(`key index: 1 KiB records, async flush, ${writers} writers x batches of ${batch_records}, ${duration_ms} ms a case\n\n`);
  process.stdout.write(`${formatTable<AppendRow>([
    { header: 'keys a record', value: (row) => row.keys_per_record },
    { header: 'records', value: (row) => row.records },
    { header: 'records/s', value: (row) => row.records_per_s },
    { header: 'index caught up after (ms)', value: (row) => row.index_catch_up_ms, digits: 1 },
  ], report.appends)}\n\n`);
  process.stdout.write(`${formatTable<LookupRow>([
    { header: 'lookup', value: (row) => row.name },
    { header: 'lookups', value: (row) => row.lookups },
    { header: 'lookups/s', value: (row) => row.lookups_per_s },
    { header: 'messages each', value: (row) => row.messages_each },
    { header: 'p50 µs', value: (row) => row.latency.p50_us, digits: 1 },
    { header: 'p99 µs', value: (row) => row.latency.p99_us, digits: 1 },
    { header: 'max µs', value: (row) => row.latency.max_us, digits: 1 },
  ], report.lookups)}\n`);
  return report;
}
