import hdr from 'hdr-histogram-js';

/** Percentiles of one latency, in microseconds (HDR: 3 significant digits). */
export interface LatencySummary {
  samples: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  p999_us: number;
  max_us: number;
  mean_us: number;
}

export const latency_histogram_limits = {
  /** Longest latency tracked; a longer one (or a clock step) is clamped to it. */
  latency_us_max: 3_600_000_000,
} as const;

/**
 * An HDR histogram of latencies recorded in microseconds. Negative values (a consumer in
 * another process whose clock read a hair earlier) are clamped to 0 and counted, so a
 * report can say how many there were. Owned by the bench's thread.
 */
export class LatencyHistogram {
  private readonly histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: latency_histogram_limits.latency_us_max,
    numberOfSignificantValueDigits: 3,
    autoResize: false,
  });
  negative = 0;

  record(latency_us: number): void {
    if (latency_us < 0) this.negative++;
    this.histogram.recordValue(Math.min(latency_histogram_limits.latency_us_max, Math.max(0, Math.round(latency_us))));
  }

  get samples(): number {
    return this.histogram.totalCount;
  }

  valueAtPercentileUs(percentile: number): number {
    return this.histogram.totalCount === 0 ? 0 : this.histogram.getValueAtPercentile(percentile);
  }

  /** The summary; undefined when nothing was recorded. */
  summary(): LatencySummary | undefined {
    const h = this.histogram;
    if (h.totalCount === 0) return undefined;
    return {
      samples: h.totalCount,
      p50_us: h.getValueAtPercentile(50),
      p90_us: h.getValueAtPercentile(90),
      p99_us: h.getValueAtPercentile(99),
      p999_us: h.getValueAtPercentile(99.9),
      max_us: h.maxValue,
      mean_us: Math.round(h.mean * 10) / 10,
    };
  }

  destroy(): void {
    this.histogram.destroy();
  }
}
