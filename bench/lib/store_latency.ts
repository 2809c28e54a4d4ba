import hdr from 'hdr-histogram-js';

/** Latency percentiles of one case, in microseconds. */
export interface LatencySummary {
  samples: number;
  mean_us: number;
  p50_us: number;
  p99_us: number;
  p999_us: number;
  max_us: number;
}

/** Longest latency the histogram tracks (a longer one is clamped: a bench case is shorter). */
const latency_ns_max = 120e9;

/**
 * An HDR histogram of durations, recorded in nanoseconds (3 significant digits) and reported
 * in microseconds. One per case; `destroy` frees it.
 */
export class LatencyRecorder {
  private readonly histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: latency_ns_max, numberOfSignificantValueDigits: 3 });

  /** Records one duration given in milliseconds (performance.now() differences). */
  record(elapsed_ms: number): void {
    this.histogram.recordValue(Math.min(latency_ns_max, Math.max(1, Math.round(elapsed_ms * 1e6))));
  }

  summary(): LatencySummary {
    const h = this.histogram;
    const us = (ns: number) => Math.round(ns / 10) / 100;
    return {
      samples: h.totalCount,
      mean_us: us(h.mean),
      p50_us: us(h.getValueAtPercentile(50)),
      p99_us: us(h.getValueAtPercentile(99)),
      p999_us: us(h.getValueAtPercentile(99.9)),
      max_us: us(h.maxValue),
    };
  }

  destroy(): void {
    this.histogram.destroy();
  }
}
