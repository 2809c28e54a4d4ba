import type { Message, SendResult } from '../index.js';
import { PayloadWriter, type BenchClock } from './bench_payload.js';
import { LatencyHistogram } from './latency_histogram.js';

/** What the load needs of a Producer (a fake in unit tests). */
export interface MessageSender {
  send(message: Message): Promise<SendResult>;
}

export interface ProducePlan {
  topic: string;
  count: number;
  size_bytes: number;
  /** Unacknowledged sends per sender. */
  inflight: number;
  /** Messages per second over all senders; undefined: as fast as `inflight` allows. */
  rate_per_s: number | undefined;
  /** The run stops issuing sends once this many failed. */
  errors_max: number;
  run_id: number;
}

export type ProduceStop = 'count' | 'duration' | 'errors' | 'stopped';

/** Counters of one produce run; read by the progress line while it runs. */
export class ProduceStats {
  issued = 0;
  sent = 0;
  failed = 0;
  /** A paced send was due while its sender had `inflight` sends unacknowledged: it went later. */
  window_stalls = 0;
  readonly errors = new Map<string, number>();
  readonly ack_latency = new LatencyHistogram();
  /** The first failure, for the one line a failed run prints. */
  first_error: string | undefined;
  first_send_us: number | undefined;
  last_ack_us: number | undefined;

  elapsedUs(): number {
    if (this.first_send_us === undefined || this.last_ack_us === undefined) return 0;
    return this.last_ack_us - this.first_send_us;
  }
}

/** A timer scheduler, injected so tests can drive the pacing. */
export interface TickScheduler {
  later(callback: () => void): void;
}

const tick_ms = 1;
export const immediate_ticks: TickScheduler = { later: (callback) => void setTimeout(callback, tick_ms) };

/**
 * Sends `count` stamped messages through several senders (one lane each; the count and the
 * rate are split between lanes in proportion). Without a rate, each lane keeps `inflight`
 * sends outstanding; with one, a lane sends what is due every millisecond (catching up after
 * a late timer) and never more than `inflight` outstanding: a due send that finds the window
 * full waits and is counted in window_stalls, so the offered rate is visible in the report.
 * Latency is send() to its acknowledgement. Runs on the caller's thread.
 */
export class ProduceLoad {
  readonly stats = new ProduceStats();
  private stop_reason: ProduceStop | undefined;
  private readonly writer: PayloadWriter;

  constructor(
    private readonly senders: readonly MessageSender[],
    private readonly plan: ProducePlan,
    private readonly clock: BenchClock,
    private readonly ticks: TickScheduler = immediate_ticks,
  ) {
    this.writer = new PayloadWriter(plan.size_bytes, plan.run_id);
  }

  /** Issues no further sends; run() resolves once the outstanding ones settle. */
  stop(reason: ProduceStop = 'stopped'): void {
    this.stop_reason ??= reason;
  }

  /** Resolves when every send settled, with why the run ended. */
  async run(): Promise<ProduceStop> {
    const lanes = this.senders.length;
    let seq_start = 0;
    const running: Promise<void>[] = [];
    for (let lane = 0; lane < lanes; lane++) {
      const quota = Math.floor(this.plan.count / lanes) + (lane < this.plan.count % lanes ? 1 : 0);
      const rate = this.plan.rate_per_s === undefined ? undefined : (this.plan.rate_per_s * quota) / this.plan.count;
      running.push(this.lane(this.senders[lane] as MessageSender, quota, seq_start, rate));
      seq_start += quota;
    }
    await Promise.all(running);
    return this.stop_reason ?? 'count';
  }

  private lane(sender: MessageSender, quota: number, seq_start: number, rate_per_s: number | undefined): Promise<void> {
    const { stats, plan, clock } = this;
    return new Promise<void>((resolve) => {
      let issued = 0;
      let inflight = 0;
      const start_us = clock.nowUs();
      const finished = (): boolean => issued === quota || this.stop_reason !== undefined;
      const settle = (): void => {
        if (inflight === 0 && finished()) resolve();
      };
      const sendOne = (): void => {
        const seq = seq_start + issued;
        issued++;
        inflight++;
        stats.issued++;
        const sent_us = clock.nowUs();
        stats.first_send_us ??= sent_us;
        sender.send({ topic: plan.topic, body: this.writer.body(seq, sent_us) }).then(
          () => {
            const acked_us = clock.nowUs();
            stats.sent++;
            stats.ack_latency.record(acked_us - sent_us);
            stats.last_ack_us = acked_us;
          },
          (error: unknown) => {
            stats.failed++;
            const code = errorCode(error);
            stats.errors.set(code, (stats.errors.get(code) ?? 0) + 1);
            stats.first_error ??= `${code}: ${error instanceof Error ? error.message : String(error)}`;
            if (stats.failed >= plan.errors_max) this.stop('errors');
          },
        ).finally(() => {
          inflight--;
          if (rate_per_s === undefined) fill();
          settle();
        });
      };
      // Unpaced: keep the window full.
      const fill = (): void => {
        while (inflight < plan.inflight && !finished()) sendOne();
      };
      // Paced: message i is due at start + i / rate; the first one at once.
      const tick = (): void => {
        if (finished()) return settle();
        const due = Math.min(quota, Math.floor(((clock.nowUs() - start_us) / 1e6) * (rate_per_s as number)) + 1);
        while (issued < due && !finished()) {
          if (inflight >= plan.inflight) {
            stats.window_stalls++;
            break;
          }
          sendOne();
        }
        if (finished()) settle();
        else this.ticks.later(tick);
      };
      if (quota === 0) return resolve();
      if (rate_per_s === undefined) fill();
      else tick();
    });
  }
}

function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string') return (error as { code: string }).code;
  return 'ERROR';
}
