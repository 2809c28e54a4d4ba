import type { Metric, Registry } from 'prom-client';
import { flush_latency_bounds_s, type FlushLatencySnapshot } from '../storage/flush_latency.js';
import type { AdminSource } from './admin_source.js';

/**
 * `mq_flush_latency_seconds`, a Prometheus histogram of CommitLog flushes. The flush actor
 * keeps the buckets itself, in a SharedArrayBuffer (storage/flush_latency.ts), so the
 * histogram is read whole at scrape time; prom-client's Histogram only observes values one
 * by one, hence this small metric of our own with the same `get()` shape.
 */
export function registerFlushMetrics(registry: Registry, source: AdminSource): void {
  const read = source.flushLatency;
  if (read === undefined) return;
  const name = 'mq_flush_latency_seconds';
  const metric = {
    name,
    help: 'How long each CommitLog flush (fdatasync of the segments it covers) took.',
    type: 'histogram',
    aggregator: 'sum',
    get: async () => ({ name, help: metric.help, type: 'histogram', aggregator: 'sum', values: valuesOf(read()) }),
  };
  registry.registerMetric(metric as unknown as Metric);
}

function valuesOf(snapshot: FlushLatencySnapshot | undefined): Array<{ metricName: string; labels: Record<string, string | number>; value: number }> {
  if (snapshot === undefined) return [];
  return [
    ...flush_latency_bounds_s.map((bound, index) => ({ metricName: 'mq_flush_latency_seconds_bucket', labels: { le: bound }, value: snapshot.buckets[index] ?? 0 })),
    { metricName: 'mq_flush_latency_seconds_bucket', labels: { le: '+Inf' }, value: snapshot.count },
    { metricName: 'mq_flush_latency_seconds_sum', labels: {}, value: snapshot.sum_s },
    { metricName: 'mq_flush_latency_seconds_count', labels: {}, value: snapshot.count },
  ];
}
