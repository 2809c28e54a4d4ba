/**
 * Exponential backoff with full jitter (the AWS "full jitter" scheme that KafkaJS also uses):
 * attempt n waits a uniform random time in [base/2, min(max, base * 2^n)]. The random part
 * spreads clients that failed together (a broker restart) so they do not come back in step;
 * the floor keeps a retry from spinning on a peer that refuses at once.
 */
export interface BackoffPolicy {
  base_ms: number;
  max_ms: number;
}

export function backoffDelayMs(policy: BackoffPolicy, attempt: number, random: () => number): number {
  const ceiling_ms = Math.min(policy.max_ms, policy.base_ms * 2 ** Math.min(Math.max(attempt, 0), 30));
  const floor_ms = Math.min(policy.base_ms / 2, ceiling_ms);
  return floor_ms + random() * (ceiling_ms - floor_ms);
}

/**
 * Resolves after `delay_ms`. The timer keeps the process alive on purpose: a user awaits
 * the call that is backing off, and a process that exited under that await would look like
 * a hang that ended in silence.
 */
export function sleep(delay_ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, delay_ms));
}
