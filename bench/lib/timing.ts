/** Time budgets and waiting helpers shared by the benches; every wait has a deadline. */

/** How long and how much one bench case may run. */
export interface CaseBudget {
  /** Untimed messages first, so that the JIT has compiled the hot paths before measuring. */
  warmup_messages: number;
  /** The measured phase stops sending at this time... */
  duration_ms: number;
  /** ...or at this many messages, whichever comes first. */
  messages_max: number;
  /** A case that makes no progress for this long has failed (a bug, not a slow machine). */
  stall_timeout_ms: number;
}

export function nowMs(): number {
  return performance.now();
}

/** Resolves when `condition` holds, checking on every event loop turn; throws after timeout_ms. */
export async function until(condition: () => boolean, what: string, timeout_ms: number): Promise<void> {
  const deadline_ms = nowMs() + timeout_ms;
  while (!condition()) {
    if (nowMs() > deadline_ms) throw new Error(`bench stalled: ${what} did not happen within ${timeout_ms} ms`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

export function perSecond(count: number, elapsed_ms: number): number {
  return elapsed_ms > 0 ? (count * 1_000) / elapsed_ms : 0;
}
