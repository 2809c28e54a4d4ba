/**
 * The hierarchical timing wheel (src/storage/hierarchical_wheel.ts) at 1,000,000 entries, on
 * this thread, no actors:
 *   1. schedule rate and memory per entry (the wheel's own arrays, and the process's heap +
 *      array buffers grown, after a full GC when node runs with --expose-gc);
 *   2. tick cost: advance() per tick over consecutive ticks of a simulated clock with the
 *      entries live (emitted entries are scheduled again, so the count stays at 1,000,000);
 *      the ticks cross a UTC midnight, where the day slot cascades;
 *   3. drain: one advance() across the whole delay range, every entry emitted;
 *   4. delivery lag on the real clock: entries due within the next few seconds, advance(Date.now())
 *      from a timer aligned to tick boundaries, lag = Date.now() at emission - deliver_at;
 *   5. the same through a real broker (a standalone child process): messages scheduled with
 *      sendBatch, consumed, lag = receive time - DELIVER_AT_MS and store time - DELIVER_AT_MS.
 * Seeded random delays; bounded in entries and in time.
 *
 * Run: `npm run bench -- wheel [--json] [--duration-ms N]` (N = spread of the real-clock case);
 * `node --expose-gc dist/bench/run.js wheel` for the heap figure after a forced GC.
 */
import { HierarchicalWheel } from '../src/storage/hierarchical_wheel.js';
import { machineInfo, type MachineInfo } from './lib/machine.js';
import { measureWheelBroker, type WheelBrokerResult } from './lib/wheel_broker.js';
import { formatTable, type Column } from './lib/table.js';

const day_ms = 86_400_000;
const tick_ms = 100;
const level_slots = [10, 60, 60, 24, 64] as const;
const entries = 1_000_000;
const measured_ticks = 10_000;
/** 500 s before a UTC midnight whose day is 40 of the top level's 64-day turn: the measured ticks
 *  cross the day cascade, and the 40-day delays reach 16 days into the next turn (the overflow heap). */
const simulated_start_ms = Date.UTC(2025, 5, 25) - 500_000;
const delay_cases: ReadonlyArray<{ name: string; spread_ms: number }> = [
  { name: 'delays 0..40 days', spread_ms: 40 * day_ms },
  { name: 'delays 0..60 s', spread_ms: 60_000 },
];
const delivery_entries = 100_000;
const delivery_spread_ms_default = 5_000;
const delivery_spread_ms_max = 10_000;
/** The real-clock case stops this long after its last due time even if entries are missing. */
const delivery_grace_ms = 10_000;

interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}

export interface WheelCaseResult {
  name: string;
  entries: number;
  schedule_per_s: number;
  wheel_bytes_per_entry: number;
  process_bytes_per_entry: number;
  tick_us: Percentiles;
  ticks: number;
  emitted_per_tick: number;
  drain_per_s: number;
}

export interface WheelDeliveryResult {
  entries: number;
  emitted: number;
  spread_ms: number;
  lag_ms: Percentiles;
  /** How late the timer fired after the tick boundary it aimed at. */
  timer_late_ms: Percentiles;
}

export interface WheelBenchReport {
  bench: 'wheel';
  machine: MachineInfo;
  settings: { tick_ms: number; level_slots: readonly number[]; entries: number; measured_ticks: number; gc_forced: boolean };
  cases: WheelCaseResult[];
  delivery: WheelDeliveryResult;
  broker: WheelBrokerResult;
}

/** The broker case: 20,000 messages due 3..8 s after their send, sent 100 per batch. */
const broker_budget = { messages: 20_000, delay_min_ms: 3_000, delay_max_ms: 8_000, batch_messages: 100, timeout_ms: 60_000 } as const;

const broker_columns: readonly Column<WheelBrokerResult>[] = [
  { header: 'through a standalone broker', value: (row) => `${row.messages.toLocaleString('en-US')} due in ${broker_budget.delay_min_ms / 1000}..${broker_budget.delay_max_ms / 1000} s` },
  { header: 'delivered', value: (row) => row.delivered },
  { header: 'early', value: (row) => row.early },
  { header: 'schedule/s', value: (row) => row.schedule_per_s },
  { header: 'store lag p50 ms', value: (row) => row.store_lag_ms.p50 },
  { header: 'store lag p99 ms', value: (row) => row.store_lag_ms.p99 },
  { header: 'store lag max ms', value: (row) => row.store_lag_ms.max },
  { header: 'receive lag p50 ms', value: (row) => row.receive_lag_ms.p50 },
  { header: 'receive lag p99 ms', value: (row) => row.receive_lag_ms.p99 },
  { header: 'receive lag max ms', value: (row) => row.receive_lag_ms.max },
];

/** mulberry32: the same delays on every run. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = Math.imul(state ^ (state >>> 15), 1 | state);
    value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value;
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function percentiles(values: Float64Array): Percentiles {
  if (values.length === 0) return { p50: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(values).sort();
  const at = (fraction: number) => sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
  const round = (value: number) => Math.round(value * 100) / 100;
  return { p50: round(at(0.5)), p99: round(at(0.99)), max: round(sorted[sorted.length - 1]!) };
}

const gc = (globalThis as { gc?: () => void }).gc;

/** After a full GC and a pause: V8 frees array buffers' memory on a concurrent sweeper, after gc() returns. */
async function processBytes(): Promise<number> {
  for (let round = 0; round < 2; round++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

async function measureCase(name: string, spread_ms: number): Promise<WheelCaseResult> {
  const random = prng(20260101);
  // Drawn before the baseline: the delays are the bench's, not the wheel's.
  const delays_ms = new Float64Array(entries);
  for (let index = 0; index < entries; index++) delays_ms[index] = Math.floor(random() * spread_ms);
  const bytes_before = await processBytes();
  const wheel = new HierarchicalWheel({ tick_ms, level_slots, start_ms: simulated_start_ms, entries_max: entries });
  const schedule_start_ms = performance.now();
  for (let index = 0; index < entries; index++) {
    if (!wheel.schedule(simulated_start_ms + delays_ms[index]!, index * 64, 64)) throw new Error('schedule refused below entries_max');
  }
  const schedule_ms = performance.now() - schedule_start_ms;
  const process_bytes = (await processBytes()) - bytes_before;

  // Emitted entries go back in at once, after the timed call, so that 1,000,000 stay live.
  const again = new Float64Array(entries);
  let again_count = 0;
  let emitted = 0;
  const collect = (_deliver_at_ms: number, offset: number) => {
    again[again_count++] = offset;
  };
  const tick_us = new Float64Array(measured_ticks);
  let now_ms = simulated_start_ms;
  for (let tick = 0; tick < measured_ticks; tick++) {
    now_ms += tick_ms;
    const call_start_ms = performance.now();
    wheel.advance(now_ms, collect);
    tick_us[tick] = (performance.now() - call_start_ms) * 1_000;
    emitted += again_count;
    // The same delay again (delays_ms stays live through the memory figure above).
    for (let index = 0; index < again_count; index++) wheel.schedule(now_ms + tick_ms + delays_ms[(again[index]! / 64 + tick) % entries]!, again[index]!, 64);
    again_count = 0;
  }
  if (wheel.size !== entries) throw new Error(`${wheel.size} live after the ticks, expected ${entries}`);

  const drain_start_ms = performance.now();
  const drained = wheel.advance(now_ms + 2 * spread_ms, () => {});
  const drain_ms = performance.now() - drain_start_ms;
  const left: number = wheel.size; // not narrowed by the check above: the drain changed it
  if (drained !== entries || left !== 0) throw new Error(`drain emitted ${drained} of ${entries}`);
  return {
    name,
    entries,
    schedule_per_s: Math.round((entries * 1_000) / schedule_ms),
    wheel_bytes_per_entry: Math.round((wheel.memory_bytes / entries) * 10) / 10,
    process_bytes_per_entry: Math.round((process_bytes / entries) * 10) / 10,
    tick_us: percentiles(tick_us),
    ticks: measured_ticks,
    emitted_per_tick: Math.round((emitted / measured_ticks) * 100) / 100,
    drain_per_s: Math.round((entries * 1_000) / drain_ms),
  };
}

async function measureDelivery(spread_ms: number): Promise<WheelDeliveryResult> {
  const random = prng(7);
  const base_ms = Date.now();
  const wheel = new HierarchicalWheel({ tick_ms, level_slots, start_ms: base_ms, entries_max: delivery_entries });
  for (let index = 0; index < delivery_entries; index++) wheel.schedule(base_ms + Math.floor(random() * spread_ms), index, 0);
  const lags_ms = new Float64Array(delivery_entries);
  let emitted = 0;
  const timer_late_ms: number[] = [];
  const deadline_ms = base_ms + spread_ms + delivery_grace_ms;
  const onDue = (deliver_at_ms: number) => {
    lags_ms[emitted++] = Date.now() - deliver_at_ms;
  };
  // Aimed 1 ms past the boundary: a timer is never early by its own clock, but Date.now() may be.
  let aim_ms = 0;
  const arm = (onTimer: () => void) => {
    const delay_ms = tick_ms - (Date.now() % tick_ms) + 1;
    aim_ms = Date.now() + delay_ms;
    setTimeout(onTimer, delay_ms);
  };
  await new Promise<void>((resolve) => {
    const onTimer = () => {
      const now_ms = Date.now();
      timer_late_ms.push(now_ms - aim_ms);
      wheel.advance(now_ms, onDue);
      if (emitted === delivery_entries || now_ms > deadline_ms) resolve();
      else arm(onTimer);
    };
    arm(onTimer);
  });
  return {
    entries: delivery_entries,
    emitted,
    spread_ms,
    lag_ms: percentiles(lags_ms.subarray(0, emitted)),
    timer_late_ms: percentiles(Float64Array.from(timer_late_ms)),
  };
}

const case_columns: Column<WheelCaseResult>[] = [
  { header: 'case (1M live)', value: (row) => row.name },
  { header: 'schedule/s', value: (row) => row.schedule_per_s },
  { header: 'wheel B/entry', value: (row) => row.wheel_bytes_per_entry, digits: 1 },
  { header: 'process B/entry', value: (row) => row.process_bytes_per_entry, digits: 1 },
  { header: 'tick p50 µs', value: (row) => row.tick_us.p50, digits: 2 },
  { header: 'tick p99 µs', value: (row) => row.tick_us.p99, digits: 2 },
  { header: 'tick max µs', value: (row) => row.tick_us.max, digits: 0 },
  { header: 'emitted/tick', value: (row) => row.emitted_per_tick, digits: 2 },
  { header: 'drain entries/s', value: (row) => row.drain_per_s },
];

const delivery_columns: Column<WheelDeliveryResult>[] = [
  { header: 'real clock', value: (row) => `${row.entries.toLocaleString('en-US')} due in 0..${row.spread_ms} ms` },
  { header: 'emitted', value: (row) => row.emitted },
  { header: 'lag p50 ms', value: (row) => row.lag_ms.p50 },
  { header: 'lag p99 ms', value: (row) => row.lag_ms.p99 },
  { header: 'lag max ms', value: (row) => row.lag_ms.max },
  { header: 'timer late p50 ms', value: (row) => row.timer_late_ms.p50 },
  { header: 'timer late p99 ms', value: (row) => row.timer_late_ms.p99 },
  { header: 'timer late max ms', value: (row) => row.timer_late_ms.max },
];

function printReport(report: WheelBenchReport): void {
  const { machine, settings } = report;
  const lines = [
    `wheel: tick ${settings.tick_ms} ms, levels [${settings.level_slots.join(', ')}], ${settings.entries.toLocaleString('en-US')} entries`,
    `node ${machine.node}, ${machine.cpus} vCPUs (${machine.cpu_model}), load ${machine.load_average_1m}`,
    '',
    formatTable(case_columns, report.cases),
    '',
    formatTable(delivery_columns, [report.delivery]),
    '',
    formatTable(broker_columns, [report.broker]),
    'notes:',
    '  wheel B/entry: memory_bytes (the pool, heap and slot arrays) / entries. process B/entry: heapUsed + arrayBuffers grown',
    `  while scheduling, / entries, ${settings.gc_forced ? 'after a forced full GC (--expose-gc)' : 'WITHOUT a forced GC (run node with --expose-gc): includes garbage such as outgrown pools'}.`,
    `  tick: one advance() per simulated ${settings.tick_ms} ms tick over ${settings.measured_ticks.toLocaleString('en-US')} ticks across a UTC midnight (the max is the`,
    '  day slot cascading); emitted entries are scheduled again outside the timed call. drain: one advance() over 2x the spread.',
    '  real clock: lag = Date.now() at emission - deliver_at; the timer aims 1 ms past each tick boundary, so lag is up to one',
    '  tick (the entry waits for the boundary of its tick) plus the timer lateness.',
    '  broker: store lag = the delivered copy\'s store time - DELIVER_AT_MS (the wheel actor and the CommitLog writer);',
    '  receive lag adds dispatch to the ConsumeQueue, the long-polling pull and the listener call.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

export async function run(options: { json: boolean; duration_ms?: number }): Promise<WheelBenchReport> {
  const spread_ms = Math.min(options.duration_ms ?? delivery_spread_ms_default, delivery_spread_ms_max);
  const cases: WheelCaseResult[] = [];
  for (const { name, spread_ms: case_spread_ms } of delay_cases) {
    cases.push(await measureCase(name, case_spread_ms));
    if (!options.json) process.stderr.write(`  ${name}: done\n`);
  }
  const delivery = await measureDelivery(spread_ms);
  if (!options.json) process.stderr.write('  real clock: done\n');
  const broker = await measureWheelBroker(broker_budget);
  const report: WheelBenchReport = {
    bench: 'wheel',
    machine: machineInfo(),
    settings: { tick_ms, level_slots, entries, measured_ticks, gc_forced: gc !== undefined },
    cases,
    delivery,
    broker,
  };
  if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else printReport(report);
  return report;
}
