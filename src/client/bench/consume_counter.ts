import { readStamp, type BenchClock } from './bench_payload.js';
import { DeliveryTracker } from './delivery_tracker.js';
import { LatencyHistogram } from './latency_histogram.js';

/** The listener's answer for a message past the target: not acked, so the group keeps it. */
export const not_counted = 'RETRY';

/**
 * The bench consumer's listener: counts deliveries and bytes, de-duplicates stamped messages
 * (DeliveryTracker) and records end-to-end latency (stamp -> now) of each first delivery.
 *
 * With a target, deliveries after the target-th answer 'RETRY': they are not acked, so the
 * offset committed at shutdown stays below them and the next consumer of the group gets
 * them, instead of the bench swallowing messages it never counted.
 * `only_run` (e2e) counts only the messages of one produce run; others are acked and ignored.
 * Runs on the consumer's thread (listener calls interleave only between messages).
 */
export class ConsumeCounter {
  received = 0;
  bytes = 0;
  /** Deliveries without a stamp (other producers, or bodies shorter than the stamp). */
  unstamped = 0;
  readonly tracker = new DeliveryTracker();
  readonly e2e_latency = new LatencyHistogram();
  first_us: number | undefined;
  last_us: number | undefined;
  private reached: (() => void) | undefined;
  /** Resolves when the target is reached (never without a target). */
  readonly target_reached: Promise<void>;

  constructor(
    private readonly target: number | undefined,
    private readonly clock: BenchClock,
    private readonly only_run?: number,
  ) {
    this.target_reached = new Promise((resolve) => (this.reached = resolve));
  }

  get done(): boolean {
    return this.target !== undefined && this.received >= this.target;
  }

  /** The listener body: undefined acks, `not_counted` leaves the message to the group. */
  onMessage(body: Buffer): typeof not_counted | undefined {
    if (this.done) return not_counted;
    const now_us = this.clock.nowUs();
    const stamp = readStamp(body);
    if (this.only_run !== undefined && stamp?.run_id !== this.only_run) return undefined;
    this.received++;
    this.bytes += body.byteLength;
    this.first_us ??= now_us;
    this.last_us = now_us;
    if (stamp === undefined) this.unstamped++;
    else if (this.tracker.see(stamp)) this.e2e_latency.record(now_us - stamp.sent_us);
    if (this.done) this.reached?.();
    return undefined;
  }
}
