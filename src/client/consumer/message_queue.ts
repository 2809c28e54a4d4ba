import type { MessageQueue } from '../topic_route.js';

/**
 * A message queue as a consumer sees it — one ConsumeQueue of one topic on one broker group
 * (the type is topic_route.ts's). Queue ids are per broker group, so a queue is named by all
 * three. Every member of a group sorts queues the same way (`compareMessageQueues`), which is
 * what lets each compute the same assignment on its own.
 */
export type { MessageQueue };

/** A stable string naming the queue: map keys, log lines, the consistent-hash ring. */
export function messageQueueKey(queue: MessageQueue): string {
  return `${queue.topic}@${queue.brokerName}@${queue.queueId}`;
}

/** Orders by topic, then broker name, then queue id (code-unit string order, not locale). */
export function compareMessageQueues(a: MessageQueue, b: MessageQueue): number {
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  if (a.brokerName !== b.brokerName) return a.brokerName < b.brokerName ? -1 : 1;
  return a.queueId - b.queueId;
}

/** A sorted copy without duplicates. */
export function sortedMessageQueues(queues: readonly MessageQueue[]): MessageQueue[] {
  const sorted = [...queues].sort(compareMessageQueues);
  return sorted.filter((queue, index) => index === 0 || compareMessageQueues(queue, sorted[index - 1] as MessageQueue) !== 0);
}
