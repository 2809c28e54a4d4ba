import { retry_topic_prefix, system_properties } from '../../protocol/index.js';
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

/**
 * A pulled message as the listener sees it. One from the group's retry topic shows the topic
 * it was first consumed from (ORIGIN_TOPIC), so user code sees its own topic, as RocketMQ's
 * does; everything that says where the copy is stored (brokerName, queueId, queueOffset,
 * commitLogOffset, msgId) stays the retry copy's, which the ack and the next send-back need.
 * The producer's id is in `properties.ORIGIN_MESSAGE_ID`.
 */
export function listenerViewOf(message: ReceivedMessage): ReceivedMessage {
  if (!message.topic.startsWith(retry_topic_prefix)) return message;
  const origin_topic = message.properties[system_properties.origin_topic];
  return origin_topic === undefined || origin_topic === '' ? message : { ...message, topic: origin_topic };
}
