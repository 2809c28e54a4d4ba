import type { Metric, Registry } from 'prom-client';
import { flush_latency_histogram, replication_lag_histogram, type HistogramSnapshot, type SharedHistogramDefinition } from '../storage/shared_histogram.js';
import type { AdminSource } from './admin_source.js';

/**
 * Histograms that actors keep themselves in SharedArrayBuffers (storage/shared_histogram.ts),
 * read whole at scrape time: `mq_flush_latency_seconds` (CommitLog flushes) and
 * `mq_replication_ack_lag_bytes` (how far behind the slaves were when their acknowledgement
 * moved the replicated offset). prom-client's Histogram only observes values one by one,
 * hence this small metric of our own with the same `get()` shape.
 */
export function registerStoreHistograms(registry: Registry, source: AdminSource): void {
  if (source.flushLatency !== undefined) {
    register(registry, 'mq_flush_latency_seconds', 'How long each CommitLog flush (fdatasync of the segments it covers) took.', flush_latency_histogram, source.flushLatency);
  }
  if (source.replicationLag !== undefined) {
    register(registry, 'mq_replication_ack_lag_bytes', 'Bytes the slaves were behind the log end when their acknowledgement moved the replicated offset (a master).', replication_lag_histogram, source.replicationLag);
  }
}

function register(registry: Registry, name: string, help: string, definition: SharedHistogramDefinition, read: () => HistogramSnapshot | undefined): void {
  const get = async () => ({ name, help, type: 'histogram', aggregator: 'sum', values: valuesOf(name, definition.bounds, read()) });
  registry.registerMetric({ name, help, type: 'histogram', aggregator: 'sum', get } as unknown as Metric);
}

function valuesOf(name: string, bounds: readonly number[], snapshot: HistogramSnapshot | undefined): Array<{ metricName: string; labels: Record<string, string | number>; value: number }> {
  if (snapshot === undefined) return [];
  return [
    ...bounds.map((bound, index) => ({ metricName: `${name}_bucket`, labels: { le: bound }, value: snapshot.buckets[index] ?? 0 })),
    { metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: snapshot.count },
    { metricName: `${name}_sum`, labels: {}, value: snapshot.sum },
    { metricName: `${name}_count`, labels: {}, value: snapshot.count },
  ];
}
