import fs from 'node:fs';
import { nowMs } from './timing.js';

/**
 * Where the CPU went during one measured phase, from /proc (Linux): per thread of this
 * process, time on a CPU and time runnable but waiting for one (schedstat, nanoseconds); for
 * the machine, how many cores other processes kept busy meanwhile. A bench on two vCPUs
 * shared with other work is only as good as these say: a thread that waited for a CPU half
 * the time measured the neighbours, not the code.
 */
export interface ThreadCpu {
  /** Time on a CPU over the phase's wall time (1 = one core all the time). */
  run_ratio: number;
  /** Time runnable but not running (waiting for a CPU) over the wall time. */
  wait_ratio: number;
}

export interface CpuUse {
  threads: Record<string, ThreadCpu>;
  /** Cores busy with other processes, on average (machine busy time minus this process's). */
  other_processes_cores: number;
  /** Cores this process kept busy, all its threads together. */
  process_cores: number;
}

interface Snapshot {
  at_ms: number;
  threads: Map<string, { run_ns: number; wait_ns: number }>;
  machine_busy_ticks: number;
  process_ticks: number;
}

/** USER_HZ: /proc/stat and /proc/<pid>/stat count in these (100 on Linux builds that matter). */
const ticks_per_s = 100;

function readSchedStat(tid: number): { run_ns: number; wait_ns: number } | undefined {
  try {
    const [run, wait] = fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').trim().split(/\s+/);
    return { run_ns: Number(run), wait_ns: Number(wait) };
  } catch {
    return undefined;
  }
}

function readMachineBusyTicks(): number {
  try {
    const fields = (fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait.
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
    return user + nice + system + irq + softirq + steal;
  } catch {
    return 0;
  }
}

function readProcessTicks(): number {
  try {
    // Fields after the parenthesised command name: utime is the 14th field, stime the 15th.
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** Measures CPU use between `start` and `stop` for the named kernel threads (name → tid). */
export class CpuMeter {
  private started: Snapshot | undefined;

  constructor(private readonly thread_ids: ReadonlyMap<string, number>) {}

  start(): void {
    this.started = this.snapshot();
  }

  stop(): CpuUse {
    const end = this.snapshot();
    const start = this.started ?? end;
    const wall_ns = Math.max(1, (end.at_ms - start.at_ms) * 1e6);
    const wall_ticks = Math.max(1e-9, ((end.at_ms - start.at_ms) / 1_000) * ticks_per_s);
    const threads: Record<string, ThreadCpu> = {};
    for (const [name, after] of end.threads) {
      const before = start.threads.get(name);
      if (before === undefined) continue;
      threads[name] = { run_ratio: round3((after.run_ns - before.run_ns) / wall_ns), wait_ratio: round3((after.wait_ns - before.wait_ns) / wall_ns) };
    }
    const process_ticks = end.process_ticks - start.process_ticks;
    const machine_ticks = end.machine_busy_ticks - start.machine_busy_ticks;
    return {
      threads,
      other_processes_cores: round3(Math.max(0, machine_ticks - process_ticks) / wall_ticks),
      process_cores: round3(process_ticks / wall_ticks),
    };
  }

  private snapshot(): Snapshot {
    const threads = new Map<string, { run_ns: number; wait_ns: number }>();
    for (const [name, tid] of this.thread_ids) {
      const stat = tid > 0 ? readSchedStat(tid) : undefined;
      if (stat !== undefined) threads.set(name, stat);
    }
    return { at_ms: nowMs(), threads, machine_busy_ticks: readMachineBusyTicks(), process_ticks: readProcessTicks() };
  }
}

/** The main thread's kernel id: the process id. */
export function mainThreadId(): number {
  return process.pid;
}

function round3(value: number): number {
  return Math.round(value * 1_000) / 1_000;
}
