import type { PopQueue } from './pop_queue.js';
import type { PopSubscription } from './pop_subscription.js';

/**
 * - `invisible`: delivered, its deadline ahead (in the timing wheel);
 * - `visible`: its deadline passed without an ack: waiting in its subscription's visible set
 *   for the next receive, which redelivers it with a new handle (its last handle still acks
 *   it until then, as RocketMQ's does);
 * - `dead_lettering`: its copy into `%DLQ%<group>` is being stored; no handle names it;
 * - `done`: acked, dead-lettered, or gone; kept only until the queue's committed offset
 *   passes it (pop_queue.ts).
 */
export type InFlightState = 'invisible' | 'visible' | 'dead_lettering' | 'done';

/**
 * One received message of one (group, topic), from its first delivery until it is acked or
 * dead-lettered. Holds where the message is (queue, offsets), not the message: a redelivery
 * reads it again from the store. Owned by the broker's main thread, like the whole engine.
 */
export interface InFlightMessage {
  readonly subscription: PopSubscription;
  readonly queue: PopQueue;
  readonly queue_offset: number;
  readonly commit_log_offset: number;
  readonly msg_id: string;
  /** Its place in its queue's `order` (pop_queue.ts), set when added. */
  order_index: number;
  /** The sequence in the current receipt handle; 0 while no handle names the message. */
  delivery_seq: number;
  /** Deliveries so far (the proto's delivery_attempt of the latest one). */
  attempt: number;
  /** Deliveries allowed before the dead letters, as the latest receive asked. */
  max_attempts: number;
  /** Monotonic ms (Clock.monotonicMs) when it becomes visible again. */
  deadline_ms: number;
  state: InFlightState;
}
