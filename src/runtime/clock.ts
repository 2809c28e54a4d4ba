/**
 * Time is injected so that timers, heartbeats and timeouts can be tested fast and replayed.
 * Production code takes a Clock; tests may pass a ManualClock.
 */
export interface Clock {
  /** Wall-clock milliseconds since the epoch (stored in records, shown to users). */
  nowMs(): number;
  /** Monotonic milliseconds with sub-millisecond precision (durations, deadlines, rates). */
  monotonicMs(): number;
}

export const system_clock: Clock = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
};

export class ManualClock implements Clock {
  constructor(private current_ms = 0) {}
  nowMs(): number {
    return this.current_ms;
  }
  monotonicMs(): number {
    return this.current_ms;
  }
  advance(delta_ms: number): void {
    this.current_ms += delta_ms;
  }
}
