import { statfsSync } from 'node:fs';
import { system_clock, type Clock } from '../runtime/clock.js';
import { MqError } from '../runtime/errors.js';
import { logger, type Logger } from '../runtime/log.js';

/**
 * The disk high-water mark: once the file system holding the data directory is fuller than
 * the high-water ratio, appends are refused (reads continue) until usage drops below the
 * low-water ratio — retention deleting old segments, or an operator freeing space. The gap
 * between the two marks (hysteresis) keeps the broker from flapping between refusing and
 * accepting while a retention pass frees a few segments and new appends fill them again.
 */

export const disk_usage_limits = {
  high_water_ratio_default: 0.9,
  low_water_ratio_default: 0.85,
  /**
   * How long a measurement is reused. `checkWritable` runs on every append batch, and a
   * statfs call costs a system call; at 1 GB/s a half-second interval lets ~0.5 GB through
   * between checks, which the 10% above the default high-water mark absorbs on any disk
   * large enough to hold a broker.
   */
  refresh_interval_ms: 500,
} as const;

/** The fields of fs.StatFs this module reads (block counts and size). */
export interface DiskBlocks {
  /** Blocks in the file system. */
  blocks: number;
  /** Free blocks, including those reserved for root. */
  bfree: number;
  /** Free blocks an unprivileged process may use. */
  bavail: number;
  bsize: number;
}

/** fs.statfsSync by default; tests pass a function that reports any fullness they need. */
export type StatfsFunction = (directory: string) => DiskBlocks;

/**
 * Used fraction as `df` shows it: used / (used + available to users). Blocks reserved for
 * root count as neither, since the broker cannot write them.
 */
export function diskUsedRatio(stats: DiskBlocks): number {
  const used = stats.blocks - stats.bfree;
  const usable = used + stats.bavail;
  // A file system that reports no blocks (some FUSE and pseudo file systems) gives nothing
  // to guard; its writes fail by themselves if it fills.
  if (usable <= 0) return 0;
  return used / usable;
}

export interface DiskGuardOptions {
  /** The data directory (any path on the file system to watch). */
  directory: string;
  /** Appends are refused once the used ratio passes this (0 < low ≤ high ≤ 1). */
  high_water_ratio?: number;
  /** ... and accepted again once it drops below this. */
  low_water_ratio?: number;
  statfs?: StatfsFunction;
  clock?: Clock;
  refresh_interval_ms?: number;
  log?: Logger;
}

export interface DiskUsage {
  /** Last measured used ratio (0 before the first measurement succeeds). */
  used_ratio: number;
  /** True while appends are refused. */
  refusing: boolean;
  high_water_ratio: number;
  low_water_ratio: number;
}

/**
 * Answers "may the broker append?" from a cached statfs of the data directory. Owned by one
 * thread (the CommitLog writer's); each thread that needs the answer keeps its own guard.
 */
export class DiskGuard {
  readonly directory: string;
  readonly high_water_ratio: number;
  readonly low_water_ratio: number;
  private readonly statfs: StatfsFunction;
  private readonly clock: Clock;
  private readonly refresh_interval_ms: number;
  private readonly log: Logger;
  private used_ratio = 0;
  private refusing = false;
  /** Monotonic time of the last measurement attempt; -Infinity forces the first one. */
  private measured_at_ms = Number.NEGATIVE_INFINITY;

  constructor(options: DiskGuardOptions) {
    this.directory = options.directory;
    this.high_water_ratio = options.high_water_ratio ?? disk_usage_limits.high_water_ratio_default;
    // A high-water mark set below the default low-water mark brings the low mark down with it.
    this.low_water_ratio = options.low_water_ratio ?? Math.min(disk_usage_limits.low_water_ratio_default, this.high_water_ratio);
    if (!(this.high_water_ratio > 0 && this.high_water_ratio <= 1)) {
      throw new MqError('BAD_REQUEST', `disk high-water ratio ${this.high_water_ratio} must be in (0, 1], e.g. 0.9 for 90%: fix --disk-high-water`);
    }
    if (!(this.low_water_ratio > 0 && this.low_water_ratio <= this.high_water_ratio)) {
      throw new MqError('BAD_REQUEST', `disk low-water ratio ${this.low_water_ratio} must be in (0, high-water ${this.high_water_ratio}]: appends resume once usage drops below it`);
    }
    this.statfs = options.statfs ?? ((directory: string): DiskBlocks => statfsSync(directory));
    this.clock = options.clock ?? system_clock;
    this.refresh_interval_ms = options.refresh_interval_ms ?? disk_usage_limits.refresh_interval_ms;
    this.log = options.log ?? logger('disk_guard', { directory: options.directory });
  }

  /**
   * Throws when appends are refused. The code is BROKER_UNAVAILABLE (retriable), a contract
   * code: it tells a producer to send to another broker group, which is what it should do —
   * RocketMQ answers a full disk with SERVICE_NOT_AVAILABLE for the same reason. BUSY would
   * send it back to this broker after a backoff, and a disk does not empty in a backoff.
   */
  checkWritable(): void {
    this.refreshIfStale();
    if (!this.refusing) return;
    throw new MqError(
      'BROKER_UNAVAILABLE',
      `disk ${percent(this.used_ratio)}% full, high-water ${percent(this.high_water_ratio)}%: appends refused, reads continue; ` +
        `free space or raise --disk-high-water (appends resume below ${percent(this.low_water_ratio)}%)`,
    );
  }

  /** The current answer, measured again if the last measurement is older than the refresh interval. */
  usage(): DiskUsage {
    this.refreshIfStale();
    return { used_ratio: this.used_ratio, refusing: this.refusing, high_water_ratio: this.high_water_ratio, low_water_ratio: this.low_water_ratio };
  }

  /** Measures now, whatever the age of the last measurement. */
  refresh(): void {
    this.measured_at_ms = this.clock.monotonicMs();
    let ratio: number;
    try {
      ratio = diskUsedRatio(this.statfs(this.directory));
    } catch (error) {
      // Fail open: a guard that cannot measure keeps its last answer rather than stopping
      // every append; if the disk is really gone, the appends fail with their own errors.
      // Retried after the refresh interval, so this logs at most once per interval.
      this.log.warn({ err: error }, 'cannot measure disk usage: keeping the last answer');
      return;
    }
    this.used_ratio = ratio;
    if (!this.refusing && ratio > this.high_water_ratio) {
      this.refusing = true;
      this.log.warn({ used_ratio: ratio, high_water_ratio: this.high_water_ratio }, 'disk above the high-water mark: appends refused, reads continue');
    } else if (this.refusing && ratio < this.low_water_ratio) {
      this.refusing = false;
      this.log.info({ used_ratio: ratio, low_water_ratio: this.low_water_ratio }, 'disk below the low-water mark: appends accepted again');
    }
  }

  private refreshIfStale(): void {
    if (this.clock.monotonicMs() - this.measured_at_ms >= this.refresh_interval_ms) this.refresh();
  }
}

/** 0.934 → "93.4", 0.9 → "90". */
function percent(ratio: number): string {
  return String(Math.round(ratio * 1000) / 10);
}
