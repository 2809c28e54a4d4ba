/**
 * Store throughput, 1 KiB message bodies, at three levels measured in one run:
 *   1. the raw disk: sequential 1 MiB writes to a file under os.tmpdir(), fdatasync at the
 *      end or every few MiB — the bandwidth the store is compared with;
 *   2. the storage engine alone: CommitLog.appendBatch on this thread, no actors, async flush
 *      (the fdatasync after the run is timed apart), batched and unbatched, with segments
 *      created on the roll or prepared and warmed ahead (the roll stall with and without
 *      pre-allocation);
 *   3. through the actors: Store.append from the main thread to the CommitLog writer on a
 *      worker thread, async flush with several batches in flight, and sync flush with one
 *      writer against 64 (group commit).
 * Every case runs on a fresh temp dir, removed afterwards even on failure, and is bounded in
 * time and in records.
 *
 * Run: `npm run bench -- store [--json] [--duration-ms N]`.
 */
import { machineInfo, type MachineInfo } from './lib/machine.js';
import { actor_threads, measureActors, type ActorBudget, type ActorCaseSpec, type ActorResult } from './lib/store_actors.js';
import { measureRawDisk, type RawDiskBudget, type RawDiskResult } from './lib/store_disk.js';
import { measureEngine, type EngineBudget, type EngineResult, type SegmentPreparation } from './lib/store_engine.js';
import type { CpuUse } from './lib/store_cpu.js';
import { mebibyte_bytes, round } from './lib/store_files.js';
import { body_bytes, log_record_bytes } from './lib/store_records.js';
import { formatTable, type Column } from './lib/table.js';

/** Measured time of each engine and actor case, unless --duration-ms says otherwise. */
const duration_ms_default = 2_000;
/** Segment size of every case: large enough for a run, under the binding's 2 GiB mapping. */
const segment_bytes = 256 * mebibyte_bytes;

/** Issue targets (async flush, 1 KiB records; sync group commit). */
export const store_targets = {
  disk_bandwidth_ratio_min: 0.5,
  records_per_s_min: 300_000,
  sync_writers_speedup_min: 10,
} as const;

const raw_disk_attempts = 2;
const raw_disk_sync_every_bytes: ReadonlyArray<number | null> = [null, 64 * mebibyte_bytes, 16 * mebibyte_bytes];

const engine_cases: ReadonlyArray<{ batch_records: number; segments: SegmentPreparation }> = [
  { batch_records: 32, segments: 'sparse' },
  { batch_records: 32, segments: 'page_cache' },
  { batch_records: 32, segments: 'warmed' },
  { batch_records: 1, segments: 'sparse' },
  { batch_records: 1, segments: 'warmed' },
];

const actor_cases: readonly ActorCaseSpec[] = [
  { flush_mode: 'async', batch_records: 32, writers: 8 },
  { flush_mode: 'async', batch_records: 1, writers: 64 },
  { flush_mode: 'sync', batch_records: 1, writers: 1 },
  { flush_mode: 'sync', batch_records: 1, writers: 64 },
];

/** Thread hand-offs on the way from a send to its acknowledgement (main thread = 0). */
export const store_hops = {
  async_append:
    '2 per batch: main -> writer thread 1 (the ask, in the one postMessage that carries every ask of that event-loop turn), ' +
    'writer -> main (the reply, batched the same way). Dispatch follows the write offset through the control block, off the ack path.',
  sync_append:
    '4 actor-thread hops per batch plus libuv: main -> writer (thread 1) -> flush actor (thread 2, `flush` tell) -> ' +
    'libuv pool thread (fdatasync) -> flush actor -> writer (`flushed` tell) -> main; one flush answers every append it covers.',
} as const;

interface TargetCheck {
  level: string;
  case: string;
  figure: string;
  target: string;
  met: boolean;
}

export interface StoreBenchReport {
  bench: 'store';
  machine: MachineInfo;
  settings: {
    body_bytes: number;
    log_record_bytes: number;
    segment_bytes: number;
    duration_ms: number;
    actor_threads: number;
  };
  /** Each variant's best attempt, with every attempt's MB/s. */
  raw_disk: Array<RawDiskResult & { attempts_mb_per_s: number[] }>;
  /** The raw figure the ratios use: 1 MiB writes, fdatasync at the end. */
  raw_disk_mb_per_s: number;
  engine: Array<EngineResult & { disk_ratio: number }>;
  actors: Array<ActorResult & { disk_ratio: number }>;
  /** Sync flush: records/s of 64 writers over one writer. */
  sync_writers_speedup: number | null;
  targets: TargetCheck[];
  hops: typeof store_hops;
}

function progress(json: boolean, line: string): void {
  if (!json) process.stderr.write(`  ${line}\n`);
}

function asyncTargets(level: string, rows: ReadonlyArray<{ name: string; records_per_s: number; disk_ratio: number }>): TargetCheck[] {
  return rows.flatMap((row) => [
    {
      level,
      case: row.name,
      figure: `${Math.round(row.disk_ratio * 100)}% of raw disk`,
      target: `>= ${store_targets.disk_bandwidth_ratio_min * 100}%`,
      met: row.disk_ratio >= store_targets.disk_bandwidth_ratio_min,
    },
    {
      level,
      case: row.name,
      figure: `${row.records_per_s.toLocaleString('en-US')} records/s`,
      target: `>= ${store_targets.records_per_s_min.toLocaleString('en-US')}`,
      met: row.records_per_s >= store_targets.records_per_s_min,
    },
  ]);
}

const latency_columns = <Row extends { latency: { p50_us: number; p99_us: number; p999_us: number; max_us: number } }>(): Column<Row>[] => [
  { header: 'p50 µs', value: (row) => row.latency.p50_us, digits: 1 },
  { header: 'p99 µs', value: (row) => row.latency.p99_us, digits: 1 },
  { header: 'p99.9 µs', value: (row) => row.latency.p999_us, digits: 1 },
  { header: 'max µs', value: (row) => row.latency.max_us, digits: 0 },
];

/** `run/wait` of one thread: cores' worth of time on a CPU / waiting for one. */
function threadCpu(cpu: CpuUse, name: string): string {
  const thread = cpu.threads[name];
  return thread === undefined ? '-' : `${thread.run_ratio.toFixed(2)}/${thread.wait_ratio.toFixed(2)}`;
}

const raw_columns: Column<StoreBenchReport['raw_disk'][number]>[] = [
  { header: 'raw disk', value: (row) => row.name },
  { header: 'MiB', value: (row) => row.bytes / mebibyte_bytes },
  { header: 'write ms', value: (row) => row.write_ms, digits: 0 },
  { header: 'final fdatasync ms', value: (row) => row.final_fdatasync_ms, digits: 1 },
  { header: 'MB/s', value: (row) => row.mb_per_s, digits: 0 },
  { header: 'attempts MB/s', value: (row) => row.attempts_mb_per_s.map((value) => Math.round(value)).join(', ') },
  { header: 'main cpu run/wait', value: (row) => threadCpu(row.cpu, 'main') },
  { header: 'others cores', value: (row) => row.cpu.other_processes_cores, digits: 2 },
];

const engine_columns: Column<StoreBenchReport['engine'][number]>[] = [
  { header: 'engine alone (CommitLog, async flush)', value: (row) => row.name },
  { header: 'records', value: (row) => row.records },
  { header: 'records/s', value: (row) => row.records_per_s },
  { header: 'MB/s', value: (row) => row.mb_per_s, digits: 0 },
  { header: 'x disk', value: (row) => row.disk_ratio, digits: 2 },
  ...latency_columns<StoreBenchReport['engine'][number]>(),
  { header: 'rolls', value: (row) => row.rolls },
  { header: 'worst roll µs', value: (row) => row.worst_roll_us, digits: 0 },
  { header: 'final fdatasync ms', value: (row) => row.final_fdatasync_ms, digits: 0 },
  { header: 'MB/s with it', value: (row) => row.mb_per_s_with_fdatasync, digits: 0 },
  { header: 'prepare ms', value: (row) => row.prepare_ms, digits: 0 },
  { header: 'main cpu run/wait', value: (row) => threadCpu(row.cpu, 'main') },
  { header: 'others cores', value: (row) => row.cpu.other_processes_cores, digits: 2 },
];

const actor_columns: Column<StoreBenchReport['actors'][number]>[] = [
  { header: `through the actors (${actor_threads} threads)`, value: (row) => row.name },
  { header: 'records', value: (row) => row.records },
  { header: 'records/s', value: (row) => row.records_per_s },
  { header: 'MB/s', value: (row) => row.mb_per_s, digits: 1 },
  { header: 'x disk', value: (row) => row.disk_ratio, digits: 2 },
  ...latency_columns<StoreBenchReport['actors'][number]>(),
  { header: 'writer msgs/append', value: (row) => row.writer_messages_per_append, digits: 2 },
  { header: 'flushes', value: (row) => row.flushes },
  { header: 'appends/flush', value: (row) => row.appends_per_flush, digits: 1 },
  { header: 'not ok', value: (row) => row.not_ok },
  { header: 'writer µs/record', value: (row) => row.writer_cpu_us_per_record, digits: 2 },
  { header: 'writer run/wait', value: (row) => threadCpu(row.cpu, 'writer') },
  { header: 'service run/wait', value: (row) => threadCpu(row.cpu, 'service') },
  { header: 'main run/wait', value: (row) => threadCpu(row.cpu, 'main') },
  { header: 'others cores', value: (row) => row.cpu.other_processes_cores, digits: 2 },
];

/** Splits a note into indented lines of at most `width` characters, at spaces. */
function wrap(text: string, width = 118): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line.length > 0 && line.length + 1 + word.length > width) {
      lines.push(`  ${line}`);
      line = word;
    } else {
      line = line.length === 0 ? word : `${line} ${word}`;
    }
  }
  if (line.length > 0) lines.push(`  ${line}`);
  return lines;
}

function printReport(report: StoreBenchReport): void {
  const { machine, settings } = report;
  const lines = [
    `store bench: ${settings.body_bytes} B bodies (${settings.log_record_bytes} B per CommitLog record), ` +
      `${settings.segment_bytes / mebibyte_bytes} MiB segments, ${settings.duration_ms} ms per case ` +
      `(node ${machine.node}, ${machine.cpus} cpus, load ${machine.load_average_1m})`,
    formatTable(raw_columns, report.raw_disk),
    '',
    formatTable(engine_columns, report.engine),
    '',
    formatTable(actor_columns, report.actors),
    '',
    `sync flush, 64 writers over 1 writer: ${report.sync_writers_speedup === null ? '-' : `${report.sync_writers_speedup}x`}`,
    'targets:',
    ...report.targets.map((check) => `  ${check.met ? 'met    ' : 'MISSED '} ${check.level}: ${check.case}: ${check.figure} (target ${check.target})`),
    'notes:',
    '  MB/s counts CommitLog bytes (10^6 per MB); x disk divides by the raw disk row with fdatasync at the end.',
    '  Engine latency is per appendBatch call; actor latency is the ask, send to reply, on the main thread, per batch.',
    '  Segments: sparse = created at the roll, pages fault in while appending (no pre-allocation); page_cache = created and',
    '  warmed through another mapping ahead (what the allocator actor hands the writer); warmed = MappedFile.warm() on the',
    "  writer's own mapping ahead. Worst roll = the slowest call that crossed into a new segment.",
    ...wrap(`Hops, async append: ${report.hops.async_append}`),
    ...wrap(`Hops, sync append: ${report.hops.sync_append}`),
    '  writer msgs/append: messages the writer handled per append (1 + flush notes); appends/flush: group commit.',
    '  run/wait: share of the wall time a thread ran on a CPU / sat runnable waiting for one (from /proc schedstat);',
    '  writer µs/record: CPU time of the writer thread per record; others cores: CPU kept busy by other processes.',
    `  The main thread (producer) shares the ${machine.cpus} vCPUs with the ${settings.actor_threads} actor threads.`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

export async function run(options: { json: boolean; duration_ms?: number }): Promise<StoreBenchReport> {
  // The actors' info lines (recovery, offsets loaded) would bury the table; an explicit
  // MQ_LOG_LEVEL still wins. Worker threads copy the environment when they start.
  process.env['MQ_LOG_LEVEL'] ??= 'warn';
  const duration_ms = options.duration_ms ?? duration_ms_default;
  const raw_budget: RawDiskBudget = { bytes_max: 1024 * mebibyte_bytes, duration_ms: Math.max(duration_ms, 1_000) };
  const engine_budget: EngineBudget = { segment_bytes, segments: 3, warmup_records: 20_000, duration_ms };
  const actor_budget: ActorBudget = { segment_bytes, warmup_ms: Math.min(500, duration_ms), duration_ms, records_max: 3_000_000 };

  const raw_disk: StoreBenchReport['raw_disk'] = [];
  for (const sync_every of raw_disk_sync_every_bytes) {
    // The best of a few: a neighbour's burst only ever slows the disk down, and the best
    // figure makes the store's ratio to it the conservative one.
    const attempts: RawDiskResult[] = [];
    for (let attempt = 0; attempt < raw_disk_attempts; attempt++) attempts.push(await measureRawDisk(sync_every, raw_budget));
    const best = attempts.reduce((a, b) => (b.mb_per_s > a.mb_per_s ? b : a));
    raw_disk.push({ ...best, attempts_mb_per_s: attempts.map((attempt) => attempt.mb_per_s) });
    progress(options.json, `raw disk, ${best.name}: ${attempts.map((attempt) => attempt.mb_per_s).join(', ')} MB/s`);
  }
  const raw_disk_mb_per_s = raw_disk[0]!.mb_per_s;
  const ratio = (mb_per_s: number) => round(mb_per_s / raw_disk_mb_per_s, 3);

  const engine: StoreBenchReport['engine'] = [];
  for (const { batch_records, segments } of engine_cases) {
    const result = await measureEngine(batch_records, segments, engine_budget);
    engine.push({ ...result, disk_ratio: ratio(result.mb_per_s) });
    progress(options.json, `engine, ${result.name}: ${result.records_per_s.toLocaleString('en-US')} records/s`);
  }

  const actors: StoreBenchReport['actors'] = [];
  for (const spec of actor_cases) {
    const result = await measureActors(spec, actor_budget);
    actors.push({ ...result, disk_ratio: ratio(result.mb_per_s) });
    progress(options.json, `actors, ${result.name}: ${result.records_per_s.toLocaleString('en-US')} records/s`);
  }

  const sync_one = actors.find((row) => row.flush_mode === 'sync' && row.writers === 1);
  const sync_many = actors.find((row) => row.flush_mode === 'sync' && row.writers === 64);
  const sync_writers_speedup = sync_one !== undefined && sync_many !== undefined && sync_one.records_per_s > 0 ? round(sync_many.records_per_s / sync_one.records_per_s, 1) : null;
  const targets: TargetCheck[] = [
    ...asyncTargets('engine', engine),
    ...asyncTargets('actors', actors.filter((row) => row.flush_mode === 'async')),
  ];
  if (sync_writers_speedup !== null) {
    targets.push({
      level: 'actors',
      case: 'sync flush, 64 writers vs 1',
      figure: `${sync_writers_speedup}x`,
      target: `>= ${store_targets.sync_writers_speedup_min}x`,
      met: sync_writers_speedup >= store_targets.sync_writers_speedup_min,
    });
  }

  const report: StoreBenchReport = {
    bench: 'store',
    machine: machineInfo(),
    settings: { body_bytes, log_record_bytes, segment_bytes, duration_ms, actor_threads },
    raw_disk,
    raw_disk_mb_per_s,
    engine,
    actors,
    sync_writers_speedup,
    targets,
    hops: store_hops,
  };
  if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else printReport(report);
  return report;
}
