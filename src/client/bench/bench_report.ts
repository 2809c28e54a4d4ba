/**
 * The result of a bench run: one JSON object (`--json`, field names carry their units) or a
 * short text with a latency table. Throughput counts from the first send (or the consumer's
 * start) to the last acknowledgement (or the last counted message); MB is 10^6 bytes.
 */
import { formatTable, type Cell } from '../admin_table.js';
import type { LatencySummary } from './latency_histogram.js';

export interface Throughput {
  elapsed_s: number;
  msgs_per_s: number;
  mb_per_s: number;
}

export interface ProduceReport extends Throughput {
  command: 'produce';
  topic: string;
  run_id: number;
  count: number;
  size_bytes: number;
  producers: number;
  inflight_per_producer: number;
  rate_target_per_s: number | null;
  sent: number;
  failed: number;
  errors: Record<string, number>;
  window_stalls: number;
  send_ack_latency_us: LatencySummary | null;
  stopped_by: string;
}

export interface ConsumeReport extends Throughput {
  command: 'consume';
  topic: string;
  group: string;
  count_target: number | null;
  received: number;
  unique: number;
  duplicates: number;
  unstamped: number;
  /** From the consumer's start to its first message (joining the group, first pulls). */
  first_message_s: number | null;
  e2e_latency_us: LatencySummary | null;
  /** Stamps later than the consumer's clock (another process): latency clamped to 0. */
  e2e_negative: number;
  stopped_by: string;
}

export interface E2eReport {
  command: 'e2e';
  topic: string;
  group: string;
  run_id: number;
  count: number;
  size_bytes: number;
  producers: number;
  inflight_per_producer: number;
  rate_target_per_s: number;
  rate_achieved_per_s: number;
  sent: number;
  failed: number;
  errors: Record<string, number>;
  window_stalls: number;
  received: number;
  duplicates: number;
  send_ack_latency_us: LatencySummary | null;
  e2e_latency_us: LatencySummary | null;
  stopped_by: string;
}

export type BenchReport = ProduceReport | ConsumeReport | E2eReport;

export function throughput(messages: number, bytes: number, elapsed_us: number): Throughput {
  const seconds = elapsed_us / 1e6;
  if (seconds <= 0) return { elapsed_s: 0, msgs_per_s: 0, mb_per_s: 0 };
  return { elapsed_s: round(seconds, 3), msgs_per_s: Math.round(messages / seconds), mb_per_s: round(bytes / 1e6 / seconds, 2) };
}

export function formatJson(report: BenchReport): string {
  return `${JSON.stringify(report)}\n`;
}

export function formatText(report: BenchReport): string {
  switch (report.command) {
    case 'produce':
      return [
        `bench produce: topic ${report.topic}, ${report.count} x ${report.size_bytes} B, ${report.producers} producer(s) x ${report.inflight_per_producer} in flight, ${pace(report.rate_target_per_s)}`,
        `sent ${report.sent}, failed ${report.failed}${errorsText(report.errors)}, window stalls ${report.window_stalls}; stopped by ${report.stopped_by}`,
        `throughput: ${report.msgs_per_s} msgs/s, ${report.mb_per_s} MB/s over ${report.elapsed_s} s (first send to last ack)`,
        '',
        latencyTable([['send -> ack', report.send_ack_latency_us]]),
      ].join('\n');
    case 'consume':
      return [
        `bench consume: topic ${report.topic}, group ${report.group}, ${report.count_target === null ? 'until idle' : `${report.count_target} messages`}`,
        `received ${report.received} (unique ${report.unique}, duplicates ${report.duplicates}, unstamped ${report.unstamped}); first after ${report.first_message_s ?? '-'} s; stopped by ${report.stopped_by}`,
        `throughput: ${report.msgs_per_s} msgs/s, ${report.mb_per_s} MB/s over ${report.elapsed_s} s (consumer start to last message)`,
        '',
        latencyTable([['send -> listener', report.e2e_latency_us]]),
      ].join('\n');
    case 'e2e':
      return [
        `bench e2e: topic ${report.topic}, group ${report.group}, ${report.count} x ${report.size_bytes} B at ${report.rate_target_per_s} msgs/s (achieved ${report.rate_achieved_per_s}), ${report.producers} producer(s) x ${report.inflight_per_producer} in flight`,
        `sent ${report.sent}, failed ${report.failed}${errorsText(report.errors)}, window stalls ${report.window_stalls}; received ${report.received}, duplicates ${report.duplicates}; stopped by ${report.stopped_by}`,
        '',
        latencyTable([['send -> ack', report.send_ack_latency_us], ['send -> listener', report.e2e_latency_us]]),
      ].join('\n');
  }
}

function latencyTable(rows: ReadonlyArray<readonly [string, LatencySummary | null]>): string {
  const cells = rows.map(([name, s]): Cell[] => (s === null ? [name, 0, '-', '-', '-', '-', '-', '-'] : [name, s.samples, s.p50_us, s.p90_us, s.p99_us, s.p999_us, s.max_us, s.mean_us]));
  return formatTable(['LATENCY (us)', 'SAMPLES', 'P50', 'P90', 'P99', 'P99.9', 'MAX', 'MEAN'], cells);
}

function pace(rate: number | null): string {
  return rate === null ? 'unpaced' : `paced at ${rate} msgs/s`;
}

function errorsText(errors: Record<string, number>): string {
  const entries = Object.entries(errors);
  return entries.length === 0 ? '' : ` (${entries.map(([code, n]) => `${code} ${n}`).join(', ')})`;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
