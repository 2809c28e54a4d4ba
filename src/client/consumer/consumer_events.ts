import type { SendBackDestination } from '../../protocol/index.js';
import type { ReceivedMessage } from '../message.js';
import type { MessageQueue } from './message_queue.js';
import type { CommittedOffset } from './offset_store.js';

/**
 * What a consumer reports about itself, for monitoring and tests (`consumer.onEvent`).
 * Listeners are called synchronously; one that throws disturbs nothing.
 */
export type ConsumerEvent =
  /** The queues this member consumes changed (a rebalance); `queues` is the whole new set. */
  | { kind: 'assigned'; queues: MessageQueue[] }
  /** These offsets were committed (the broker acknowledged them, or the file was written). */
  | { kind: 'committed'; offsets: CommittedOffset[] }
  /**
   * A queue was handed over: its listener calls finished (or were given up) and `offset`
   * committed (undefined: none was known yet). `unacked` messages at or above it had been
   * pulled without being acked; the next owner delivers them again.
   */
  | { kind: 'released'; queue: MessageQueue; offset: number | undefined; unacked: number }
  /**
   * Broadcasting only: a message failed `maxReconsumeTimes + 1` times and is given up: acked
   * without success so that its queue moves on (broadcasting has no retry topic; RocketMQ
   * drops these too). Clustering consumers never give up on a message: they send it back.
   */
  | { kind: 'gave-up'; message: ReceivedMessage; error: unknown }
  /**
   * Clustering: a failed message was handed to its broker (CONSUMER_SEND_BACK), which stored
   * a copy in `topic`: the group's retry topic (`destination` 'RETRY', redelivered later with
   * `reconsumeTimes`) or its dead-letter topic ('DLQ', delivered to no one; see
   * `Admin.deadLetters`). The failed message was then acked. `message` is the one the
   * listener failed, as delivered first (its topic the user's, for a retried message).
   */
  | { kind: 'sent-back'; message: ReceivedMessage; destination: SendBackDestination; topic: string; reconsumeTimes: number };

export type ConsumerEventListener = (event: ConsumerEvent) => void;

export class ConsumerEvents {
  private readonly listeners: ConsumerEventListener[] = [];

  on(listener: ConsumerEventListener): void {
    this.listeners.push(listener);
  }

  emit(event: ConsumerEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // The listener's own failure; the consumer goes on.
      }
    }
  }
}
