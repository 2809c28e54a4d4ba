import type { ReceivedMessage } from '../message.js';

/** The listener's verdict: resolving (with anything else) acks the message. */
export type ListenerResult = unknown;

export type MessageListener = (message: ReceivedMessage) => Promise<ListenerResult> | ListenerResult;

/**
 * One pulled message on its way through a consumer: held in its queue's buffer from the pull
 * until it is acked or given up on. `failures` counts this consumer's failed listener calls;
 * each delivery hands the listener a fresh object whose `reconsumeTimes` adds them to the
 * broker's count, so user code never sees a message object change under it.
 */
export interface Delivery {
  readonly message: ReceivedMessage;
  /** Body bytes, for the buffer's byte bound. */
  readonly bytes: number;
  failures: number;
}

export function messageForAttempt(delivery: Delivery): ReceivedMessage {
  return delivery.failures === 0 ? delivery.message : { ...delivery.message, reconsumeTimes: delivery.message.reconsumeTimes + delivery.failures };
}
