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
   * A message failed `maxReconsumeTimes + 1` times and is given up: acked without success so
   * that its queue moves on (the retry topic and dead-letter queue take these later).
   */
  | { kind: 'gave-up'; message: ReceivedMessage; error: unknown };

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
