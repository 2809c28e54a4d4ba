import type { StoreControl } from '../../storage/store_control.js';

export const pull_hold_limits = {
  /** Pulls held at once on this broker; more are answered at once (empty). */
  held_max: 65_536,
  /** A held pull is answered after this long at the most, whatever it asked for. */
  hold_ms_max: 30_000,
  /** The wait on the dispatch counter is re-armed at least this often. */
  wait_slice_ms: 1_000,
} as const;

interface HeldPull {
  /** True once the queue has something at or past the pull's offset. */
  ready(): boolean;
  answer(): void;
  deadline_ms: number;
}

/**
 * Long polling: a pull at the end of its queue is held until the queue grows or its poll
 * time runs out. No busy loop: while pulls are held, one Atomics.waitAsync sleeps on the
 * store's dispatch counter, which every ConsumeQueue actor bumps after publishing entries;
 * each wake re-checks the held pulls (a read of shared positions, no message). Timers answer
 * the pulls whose time runs out. Owned by the broker's main thread.
 */
export class PullHold {
  private readonly held = new Set<HeldPull>();
  private waiting = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly control: StoreControl) {}

  get size(): number {
    return this.held.size;
  }

  /** Holds a pull; false when the hold is full (the caller answers at once). */
  hold(ready: () => boolean, answer: () => void, hold_ms: number): boolean {
    if (this.closed || this.held.size >= pull_hold_limits.held_max) return false;
    const pull: HeldPull = { ready, answer, deadline_ms: Date.now() + Math.min(hold_ms, pull_hold_limits.hold_ms_max) };
    this.held.add(pull);
    this.armTimer();
    this.watch();
    return true;
  }

  /** Answers every held pull now (the broker stops). */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const pull of this.held) pull.answer();
    this.held.clear();
  }

  private watch(): void {
    if (this.waiting || this.held.size === 0 || this.closed) return;
    this.waiting = true;
    const seen = this.control.load('dispatch_seq');
    void this.control.waitAsync('dispatch_seq', seen, pull_hold_limits.wait_slice_ms).then(() => {
      this.waiting = false;
      this.check();
      this.watch();
    });
  }

  private check(): void {
    const now_ms = Date.now();
    for (const pull of this.held) {
      if (pull.ready() || pull.deadline_ms <= now_ms) {
        this.held.delete(pull);
        pull.answer();
      }
    }
    this.armTimer();
  }

  private armTimer(): void {
    clearTimeout(this.timer);
    if (this.held.size === 0 || this.closed) return;
    let next_ms = Infinity;
    for (const pull of this.held) next_ms = Math.min(next_ms, pull.deadline_ms);
    this.timer = setTimeout(() => this.check(), Math.max(0, next_ms - Date.now()));
  }
}
