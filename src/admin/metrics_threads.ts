import { Gauge, type Registry } from 'prom-client';
import type { Bound } from './admin_server.js';
import type { AdminSource, ThreadStats } from './admin_source.js';

/**
 * Per worker thread: its V8 heap, and how late its event loop ran since the previous scrape
 * (`mq_worker_event_loop_delay_seconds{quantile="0.5"|"0.99"|"1"}`). The main thread's own
 * figures are prom-client's default `nodejs_*` metrics. The four gauges share one read of
 * the threads per scrape: a read resets the delay histograms, so it must happen once.
 */
export function registerThreadMetrics(registry: Registry, source: AdminSource, bounded: Bound): void {
  const read_threads = source.threadStats;
  if (read_threads === undefined) return;
  let in_flight: Promise<ThreadStats[]> | null = null;
  const snapshot = (): Promise<ThreadStats[]> => {
    // prom-client starts every collector of a scrape in one turn: they all share this read.
    in_flight ??= bounded(read_threads(), 'reading the worker threads').finally(() => {
      in_flight = null;
    });
    return in_flight;
  };
  const gauge = (name: string, help: string, value: (stats: ThreadStats) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['thread'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const stats of await snapshot()) this.set({ thread: String(stats.thread) }, value(stats));
      },
    });
  };
  gauge('mq_worker_heap_used_bytes', 'V8 heap in use on the worker thread.', (stats) => stats.heapUsedBytes);
  gauge('mq_worker_heap_total_bytes', 'V8 heap allocated by the worker thread.', (stats) => stats.heapTotalBytes);
  new Gauge({
    name: 'mq_worker_event_loop_delay_seconds',
    help: 'How late the worker thread\'s event loop ran since the previous scrape (quantile 1: the maximum).',
    labelNames: ['thread', 'quantile'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const stats of await snapshot()) {
        const thread = String(stats.thread);
        this.set({ thread, quantile: '0.5' }, stats.eventLoopDelayP50Ms / 1000);
        this.set({ thread, quantile: '0.99' }, stats.eventLoopDelayP99Ms / 1000);
        this.set({ thread, quantile: '1' }, stats.eventLoopDelayMaxMs / 1000);
      }
    },
  });
}
