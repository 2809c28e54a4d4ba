import path from 'node:path';
import { system_clock } from '../../src/runtime/clock.js';
import { CommitLog, type AppendedRecord, type SegmentSource } from '../../src/storage/commit_log.js';
import { MappedFile } from '../../src/storage/mapped_file.js';
import { blank_bytes_min, type RecordInput } from '../../src/storage/record.js';
import { SegmentSet } from '../../src/storage/segment_set.js';
import { CpuMeter, mainThreadId, type CpuUse } from './store_cpu.js';
import { nowMs } from './timing.js';
import { LatencyRecorder, type LatencySummary } from './store_latency.js';
import { megabytesPerSecond, round, withTempDir } from './store_files.js';
import { log_record_bytes, recordInput } from './store_records.js';

/**
 * How the CommitLog gets its segments in an engine case:
 *   - sparse: created on the roll, inside the timed append (ftruncate'd, nothing touched):
 *     every page faults in fresh while records are written — no pre-allocation;
 *   - warmed: created and MappedFile.warm()ed before the run, through the writer's own
 *     mapping, so appends only write into pages already mapped;
 *   - page_cache: created and warmed through another mapping which is then closed, and
 *     opened by the writer at the roll — what the segment allocator actor hands the writer:
 *     the pages are in the page cache, the writer's mapping still maps them on first touch.
 */
export type SegmentPreparation = 'sparse' | 'warmed' | 'page_cache';

export interface EngineBudget {
  segment_bytes: number;
  /** Segments the run may fill: the log ends at segments × segment_bytes at most. */
  segments: number;
  warmup_records: number;
  duration_ms: number;
}

export interface EngineResult {
  name: string;
  batch_records: number;
  segments: SegmentPreparation;
  records: number;
  log_bytes: number;
  elapsed_ms: number;
  records_per_s: number;
  /** CommitLog bytes (header + body + topic + properties) per second, 10^6. */
  mb_per_s: number;
  /** The fdatasync of every written segment after the run (async flush's deferred cost). */
  final_fdatasync_ms: number;
  mb_per_s_with_fdatasync: number;
  /** Time to prepare the segments before the run (untimed for the appends). */
  prepare_ms: number;
  /** Per appendBatch call. */
  latency: LatencySummary;
  rolls: number;
  /** The slowest call that rolled to a new segment (null if none rolled). */
  worst_roll_us: number | null;
  /** The measured appends (the main thread runs them). */
  cpu: CpuUse;
}

/** Records the log can take before running past its last prepared segment. */
function capacityRecords(budget: EngineBudget): number {
  return budget.segments * Math.floor((budget.segment_bytes - blank_bytes_min) / log_record_bytes);
}

/** Makes every segment file ahead of the run, as `preparation` says; returns the source
 *  the CommitLog takes them from at each roll. */
function prepareSegments(segments: SegmentSet, preparation: SegmentPreparation, budget: EngineBudget): SegmentSource {
  if (preparation === 'sparse') return { next: (start) => segments.createNext(start) };
  const ready = new Set<number>();
  for (let index = 0; index < budget.segments; index++) {
    const start = index * budget.segment_bytes;
    if (preparation === 'warmed') {
      segments.createNext(start).warm();
    } else {
      const file = MappedFile.create(segments.pathOf(start), start, budget.segment_bytes);
      file.warm();
      file.close();
      ready.add(start);
    }
  }
  if (preparation === 'warmed') {
    return {
      next: (start) => {
        const segment = segments.find(start);
        if (segment === undefined) throw new Error(`bench: no segment prepared at ${start}`);
        return segment;
      },
    };
  }
  return {
    next: (start) => {
      if (!ready.delete(start)) throw new Error(`bench: no segment prepared at ${start}`);
      const segment = MappedFile.open(segments.pathOf(start), start, budget.segment_bytes, 'read-write');
      segments.addNext(segment);
      return segment;
    },
  };
}

/**
 * The storage engine alone: one CommitLog on this thread, no actors, no flush in the loop
 * (async flush: the fdatasync after the run is timed apart). Each appendBatch call is timed.
 */
export async function measureEngine(batch_records: number, preparation: SegmentPreparation, budget: EngineBudget): Promise<EngineResult> {
  return withTempDir('engine', (dir) => {
    const segments = new SegmentSet(path.join(dir, 'commitlog'), budget.segment_bytes, 'read-write').load();
    const prepare_started_ms = nowMs();
    const source = prepareSegments(segments, preparation, budget);
    const prepare_ms = nowMs() - prepare_started_ms;
    const log = new CommitLog(segments, { write_offset: 0, queue_offsets: new Map() }, { ipv4: 0x7f000001, port: 10_911 }, system_clock, source);
    const latency = new LatencyRecorder();
    try {
      const batch: RecordInput[] = Array.from({ length: batch_records }, (_, index) => recordInput(index));
      const results: AppendedRecord[] = [];
      const calls_max = Math.floor(capacityRecords(budget) / batch_records);
      const warmup_calls = Math.min(Math.ceil(budget.warmup_records / batch_records), Math.floor(calls_max / 10));
      for (let call = 0; call < warmup_calls; call++) log.appendBatch(batch, results);
      const from_offset = log.offset;
      let calls = 0;
      let rolls = 0;
      let worst_roll_ms: number | null = null;
      const cpu = new CpuMeter(new Map([['main', mainThreadId()]]));
      cpu.start();
      const started_ms = nowMs();
      const deadline_ms = started_ms + budget.duration_ms;
      let ended_ms = started_ms;
      while (warmup_calls + calls < calls_max) {
        const segment_before = Math.floor(log.offset / budget.segment_bytes);
        const call_started_ms = nowMs();
        log.appendBatch(batch, results);
        ended_ms = nowMs();
        const call_ms = ended_ms - call_started_ms;
        latency.record(call_ms);
        calls++;
        if (Math.floor(log.offset / budget.segment_bytes) !== segment_before) {
          rolls++;
          worst_roll_ms = Math.max(worst_roll_ms ?? 0, call_ms);
        }
        if (ended_ms > deadline_ms) break;
      }
      const elapsed_ms = ended_ms - started_ms;
      const cpu_use = cpu.stop();
      const log_bytes = log.offset - from_offset;
      const flush_started_ms = nowMs();
      for (const segment of log.segmentsBetween(0, log.offset)) segment.flush();
      const final_fdatasync_ms = nowMs() - flush_started_ms;
      const records = calls * batch_records;
      return {
        name: `${batch_records === 1 ? 'unbatched (1 per call)' : `batch of ${batch_records}`}, ${preparation} segments`,
        batch_records,
        segments: preparation,
        records,
        log_bytes,
        elapsed_ms: round(elapsed_ms, 1),
        records_per_s: Math.round((records * 1_000) / elapsed_ms),
        mb_per_s: round(megabytesPerSecond(log_bytes, elapsed_ms), 1),
        final_fdatasync_ms: round(final_fdatasync_ms, 1),
        mb_per_s_with_fdatasync: round(megabytesPerSecond(log_bytes, elapsed_ms + final_fdatasync_ms), 1),
        prepare_ms: round(prepare_ms, 1),
        latency: latency.summary(),
        rolls,
        worst_roll_us: worst_roll_ms === null ? null : round(worst_roll_ms * 1_000, 1),
        cpu: cpu_use,
      };
    } finally {
      latency.destroy();
      log.close();
    }
  });
}
