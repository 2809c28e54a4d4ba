import { defineControlBlock, type ControlBlockLayout } from '../runtime/control_block.js';

/**
 * How long each CommitLog flush (the fdatasync of every segment it covers) took, as a
 * cumulative histogram in a SharedArrayBuffer: written by the flush actor only (one add per
 * slot per flush, no message), read at scrape time by the admin server's thread.
 *
 *   count        flushes done
 *   micros_total their summed duration, µs
 *   le_<i>       flushes that took at most flush_latency_bounds_s[i] seconds (cumulative, as
 *                Prometheus buckets are; the +Inf bucket is `count`)
 */
export const flush_latency_bounds_s = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1] as const;

const layout: ControlBlockLayout = {
  count: 'i64',
  micros_total: 'i64',
  ...Object.fromEntries(flush_latency_bounds_s.map((_, index) => [`le_${index}`, 'i64'])),
};

export const flush_latency_control = defineControlBlock('flush_latency', layout, { padding: 'packed' });

export interface FlushLatencySnapshot {
  count: number;
  sum_s: number;
  /** Cumulative counts per bound of flush_latency_bounds_s, in order. */
  buckets: number[];
}

/** Flush actor only. */
export class FlushLatencyRecorder {
  private readonly block;

  constructor(sab: SharedArrayBuffer) {
    this.block = flush_latency_control.attach(sab);
  }

  record(duration_ms: number): void {
    const seconds = duration_ms / 1000;
    this.block.add('count', 1);
    this.block.add('micros_total', Math.round(duration_ms * 1000));
    for (const [index, bound] of flush_latency_bounds_s.entries()) if (seconds <= bound) this.block.add(`le_${index}`, 1);
  }
}

/** Any thread: the histogram as it stands (slots read one by one; a flush recorded meanwhile
 *  may show in some and not yet in others, never more than one flush apart). */
export function readFlushLatency(sab: SharedArrayBuffer): FlushLatencySnapshot {
  const block = flush_latency_control.attach(sab);
  return {
    count: block.load('count'),
    sum_s: block.load('micros_total') / 1e6,
    buckets: flush_latency_bounds_s.map((_, index) => block.load(`le_${index}`)),
  };
}
