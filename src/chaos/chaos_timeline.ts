/**
 * The per-second timeline of a chaos run (chaos_checker.ts puts it in the verdict; the chart
 * and the JSON file show it): sends, acks, errors, send latency percentiles and deliveries.
 * Pure: data in, timeline out.
 */
import type { ChaosHistory } from './chaos_history.js';

export const chaos_timeline_limits = {
  /** Longest timeline (one entry per second): a bogus timestamp must not allocate gigabytes. 24 h. */
  timeline_seconds_max: 86_400,
  ms_per_second: 1_000,
} as const;

/** One second of the run. */
export interface TimelineSecond {
  second: number;
  /** Sends that started in this second. */
  sends: number;
  /** Sends answered SEND_OK in this second (by end_ms: what the cluster accepted then). */
  acked: number;
  /** Sends answered failed or unknown in this second (by end_ms). */
  errors: number;
  /**
   * Send latency (end_ms - start_ms) of the sends that STARTED in this second, whatever
   * their outcome, so a stall shows where it began. Nearest-rank percentiles; null when no
   * send started in this second.
   */
  latency_p50_ms: number | null;
  latency_p99_ms: number | null;
  latency_max_ms: number | null;
  /** Deliveries (of any kind) in this second. */
  deliveries: number;
}

/**
 * The per-second timeline, from 0 to end_ms. Latencies are grouped by start second with a
 * counting sort into one Float64Array, then each second's slice is sorted: exact percentiles
 * (a second holds at most the send rate's worth of samples), where one HDR histogram per
 * second would cost ~100 KB each and round the values.
 */
export function buildTimeline(history: ChaosHistory): TimelineSecond[] {
  const seconds = timelineSeconds(history);
  const timeline: TimelineSecond[] = [];
  for (let second = 0; second < seconds; second++) {
    timeline.push({ second, sends: 0, acked: 0, errors: 0, latency_p50_ms: null, latency_p99_ms: null, latency_max_ms: null, deliveries: 0 });
  }
  if (seconds === 0) return timeline;
  const slot = (ms: number): TimelineSecond => timeline[secondOf(ms, seconds)] as TimelineSecond;

  const timed = history.sends.filter((send) => Number.isFinite(send.start_ms) && Number.isFinite(send.end_ms) && send.end_ms >= send.start_ms);
  for (const send of history.sends) {
    slot(send.start_ms).sends++;
    if (!Number.isFinite(send.end_ms)) continue;
    if (send.outcome === 'acked') slot(send.end_ms).acked++;
    else slot(send.end_ms).errors++;
  }
  for (const delivery of history.deliveries) slot(delivery.at_ms).deliveries++;

  // Counting sort: the latencies of second s go to latencies[begin[s] .. begin[s + 1]).
  const begin = new Uint32Array(seconds + 1);
  for (const send of timed) {
    const after = secondOf(send.start_ms, seconds) + 1;
    begin[after] = (begin[after] ?? 0) + 1;
  }
  for (let second = 0; second < seconds; second++) begin[second + 1] = (begin[second + 1] ?? 0) + (begin[second] ?? 0);
  const next = begin.slice(0, seconds);
  const latencies = new Float64Array(timed.length);
  for (const send of timed) {
    const second = secondOf(send.start_ms, seconds);
    const at = next[second] ?? 0;
    latencies[at] = send.end_ms - send.start_ms;
    next[second] = at + 1;
  }
  for (let second = 0; second < seconds; second++) {
    const samples = latencies.subarray(begin[second] ?? 0, begin[second + 1] ?? 0).sort();
    if (samples.length === 0) continue;
    const entry = timeline[second] as TimelineSecond;
    entry.latency_p50_ms = nearestRank(samples, 50);
    entry.latency_p99_ms = nearestRank(samples, 99);
    entry.latency_max_ms = samples[samples.length - 1] as number;
  }
  return timeline;
}

/**
 * Seconds from 0 to end_ms, stretched to cover any record after end_ms (a record at exactly
 * end_ms falls in the last second), within the limit.
 */
function timelineSeconds(history: ChaosHistory): number {
  const end_ms = Number.isFinite(history.end_ms) ? Math.max(0, history.end_ms) : 0;
  let last_record_ms = -Infinity;
  // A non-finite time (a bug in the recorder) must not poison the maximum; secondOf puts it in second 0.
  const consider = (ms: number): void => {
    if (Number.isFinite(ms) && ms > last_record_ms) last_record_ms = ms;
  };
  for (const send of history.sends) {
    consider(send.start_ms);
    consider(send.end_ms);
  }
  for (const delivery of history.deliveries) consider(delivery.at_ms);
  const ms_per_second = chaos_timeline_limits.ms_per_second;
  let seconds = Math.ceil(end_ms / ms_per_second);
  if (last_record_ms > end_ms) seconds = Math.max(seconds, Math.floor(last_record_ms / ms_per_second) + 1);
  // Any record at all needs a second to land in, even when end_ms says 0.
  if (history.sends.length + history.deliveries.length > 0) seconds = Math.max(seconds, 1);
  return Math.min(chaos_timeline_limits.timeline_seconds_max, seconds);
}

/** The timeline index of a time; records outside the timeline go to its first or last second. */
function secondOf(ms: number, seconds: number): number {
  const second = Math.floor(ms / chaos_timeline_limits.ms_per_second);
  if (!(second > 0)) return 0;
  return Math.min(seconds - 1, second);
}

/** Nearest-rank percentile of sorted samples: the smallest sample with `percent`% at or below it. */
function nearestRank(sorted: Float64Array, percent: number): number {
  const rank = Math.ceil((percent / 100) * sorted.length);
  return sorted[Math.max(0, rank - 1)] as number;
}
