import { system_clock, type Clock } from './clock.js';

export interface LogThrottleOptions {
  /** One line per key at most this often. */
  interval_ms: number;
  /** Keys remembered; beyond, the table starts over (keys name accounts and addresses, so a
   *  flood from many of them must not grow it without end). */
  keys_max: number;
  clock?: Clock;
}

/**
 * Decides whether a repeated log line is written now: at most once per interval for each key
 * (a reason, an account). A flood of refused requests must not become a flood of log lines.
 * Owned by one thread; no concurrency.
 */
export class LogThrottle {
  private readonly logged_ms = new Map<string, number>();
  private readonly clock: Clock;

  constructor(private readonly options: LogThrottleOptions) {
    this.clock = options.clock ?? system_clock;
  }

  /** True when `key` was not logged within the interval; it counts as logged now. */
  allow(key: string): boolean {
    const now_ms = this.clock.monotonicMs();
    if ((this.logged_ms.get(key) ?? -Infinity) + this.options.interval_ms > now_ms) return false;
    if (this.logged_ms.size >= this.options.keys_max) this.logged_ms.clear();
    this.logged_ms.set(key, now_ms);
    return true;
  }
}
