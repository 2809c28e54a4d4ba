import type { I32Slot } from './control_block.js';
import { spinUntil } from './ring_layout.js';

/** Per-side counters, kept by the side's own thread (plain fields, never shared). */
export interface RingSideStats {
  /** Times this side went to sleep (Atomics.wait / waitAsync) because it could not go on. */
  sleeps: number;
  /** Times this side woke the other one (a notify after finding its waiting flag set). */
  notifies: number;
}

/**
 * Waits until `ready()` holds or `timeout_ms` passes; true if it held. First spins briefly
 * (spinUntil), then sleeps on the side's own waiting flag:
 *
 *   1. store flag = 1, 2. check ready() again, 3. wait while flag is still 1.
 *
 * The other side makes progress, then finds flag = 1, sets it to 0 and notifies. All of
 * these are sequentially consistent Atomics, so either the check in step 2 sees the
 * progress, or the other side sees flag = 1 and changes it, in which case the wait in
 * step 3 returns at once or is woken: a wake-up cannot be lost. Bounded by the deadline;
 * each round sleeps or returns.
 */
export function waitUntil(flag: I32Slot, ready: () => boolean, timeout_ms: number, stats: RingSideStats): boolean {
  if (spinUntil(ready)) return true;
  const deadline_ms = performance.now() + timeout_ms;
  try {
    for (;;) {
      flag.store(1);
      if (ready()) return true;
      const remaining_ms = deadline_ms - performance.now();
      if (remaining_ms <= 0) return false;
      stats.sleeps++;
      flag.wait(1, remaining_ms);
    }
  } finally {
    flag.store(0);
  }
}

/** waitUntil for threads that must not block (the main thread): sleeps with waitAsync. */
export async function waitUntilAsync(
  flag: I32Slot,
  ready: () => boolean,
  timeout_ms: number,
  stats: RingSideStats,
): Promise<boolean> {
  if (spinUntil(ready)) return true;
  const deadline_ms = performance.now() + timeout_ms;
  try {
    for (;;) {
      flag.store(1);
      if (ready()) return true;
      const remaining_ms = deadline_ms - performance.now();
      if (remaining_ms <= 0) return false;
      stats.sleeps++;
      await flag.waitAsync(1, remaining_ms);
    }
  } finally {
    flag.store(0);
  }
}

/** Wakes the other side if (and only if) it said it is sleeping: a busy stream makes no syscalls. */
export function wakeIfWaiting(flag: I32Slot, stats: RingSideStats): void {
  if (flag.load() === 1 && flag.compareExchange(1, 0) === 1) {
    flag.notify();
    stats.notifies++;
  }
}
