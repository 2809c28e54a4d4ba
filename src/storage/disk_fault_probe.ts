import { readFileSync } from 'node:fs';
import path from 'node:path';
import { system_clock, type Clock } from '../runtime/clock.js';
import type { DiskBlocks, StatfsFunction } from './disk_usage.js';

/**
 * Fault probe (Redpanda style, like the replicator's `ha_hold`): a file named `disk_fault`
 * in a broker's data directory makes its disk misbehave, for chaos runs and drills, without
 * a slow or full device:
 *
 *   slow <ms>   every CommitLog flush (fdatasync) first waits <ms>: a disk that lags
 *   full        the disk guard sees a full file system: appends are refused, reads go on
 *
 * Absent (the normal case), or anything else in it: no fault. The file is read at most once
 * per refresh interval per thread that asks (the CommitLog writer, the flush actor), never
 * per append.
 */

export const disk_fault_limits = {
  file_name: 'disk_fault',
  refresh_interval_ms: 250,
  /** A longer delay is cut to this: a flush still ends. */
  slow_ms_max: 60_000,
} as const;

export type DiskFault = { kind: 'none' } | { kind: 'slow'; delay_ms: number } | { kind: 'full' };

const no_fault: DiskFault = { kind: 'none' };

/** The fault a probe file's text names. */
export function parseDiskFault(text: string): DiskFault {
  const [word, argument] = text.trim().split(/\s+/);
  if (word === 'full') return { kind: 'full' };
  const delay_ms = /^\d+$/.test(argument ?? '') ? Number(argument) : 0;
  if (word === 'slow' && delay_ms > 0) return { kind: 'slow', delay_ms: Math.min(delay_ms, disk_fault_limits.slow_ms_max) };
  return no_fault;
}

/** Reads `<data_dir>/disk_fault`, cached for the refresh interval. Owned by one thread. */
export class DiskFaultProbe {
  private readonly file: string;
  private fault: DiskFault = no_fault;
  private read_at_ms = Number.NEGATIVE_INFINITY;

  constructor(
    data_dir: string,
    private readonly clock: Clock = system_clock,
  ) {
    this.file = path.join(data_dir, disk_fault_limits.file_name);
  }

  current(): DiskFault {
    const now_ms = this.clock.monotonicMs();
    if (now_ms - this.read_at_ms < disk_fault_limits.refresh_interval_ms) return this.fault;
    this.read_at_ms = now_ms;
    try {
      this.fault = parseDiskFault(readFileSync(this.file, 'utf8'));
    } catch {
      this.fault = no_fault;
    }
    return this.fault;
  }

  /** A statfs that reports a full file system while the probe says `full`, else `statfs`'s answer. */
  statfs(statfs: StatfsFunction): StatfsFunction {
    return (directory: string): DiskBlocks => (this.current().kind === 'full' ? { blocks: 1_000, bfree: 0, bavail: 0, bsize: 4_096 } : statfs(directory));
  }
}
