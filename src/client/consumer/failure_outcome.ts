import type { ResolvedConsumerOptions } from './consumer_options.js';

/**
 * What becomes of a failed message (see `AssignedQueue.failed`):
 * - `retry-locally`: back into this queue's buffer after a backoff;
 * - `send-back`: to the broker's retry topic, or with `max_reconsume_times` 0 its dead-letter
 *   topic; acked once the broker has the copy, retried locally when it does not answer OK;
 * - `give-up`: acked without success (broadcasting only).
 */
export type FailureOutcome = { kind: 'retry-locally' } | { kind: 'send-back'; max_reconsume_times: number } | { kind: 'give-up' };

/** The outcome of a message's `failures`-th failed listener call, by consumption mode. */
export function failureOutcome(options: Pick<ResolvedConsumerOptions, 'mode' | 'orderly' | 'max_reconsume_times'>, failures: number): FailureOutcome {
  const exhausted = failures > options.max_reconsume_times;
  if (options.mode === 'broadcasting') return exhausted ? { kind: 'give-up' } : { kind: 'retry-locally' };
  // Orderly: a retry topic would deliver the message after the ones behind it, so it is
  // retried here, and only dead-lettered (a bound of 0) once it has failed too often.
  if (options.orderly) return exhausted ? { kind: 'send-back', max_reconsume_times: 0 } : { kind: 'retry-locally' };
  // The broker counts the attempts (the stored reconsumeTimes) and picks retry or dead letter.
  return { kind: 'send-back', max_reconsume_times: options.max_reconsume_times };
}
