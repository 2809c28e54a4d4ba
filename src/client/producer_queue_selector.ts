import { MqError } from '../runtime/errors.js';
import type { Message } from './message.js';
import type { BrokerFaultTracker } from './producer_fault_tracker.js';
import type { MessageQueue, TopicRoute } from './topic_route.js';

/**
 * Picks the queue of an ordered send: all messages given the same `orderKey` must get the
 * same queue while the route stays the same. `queues` is the topic's writable queues in
 * route order.
 */
export type QueueSelectorFunction = (queues: readonly MessageQueue[], message: Message, orderKey: string | undefined) => MessageQueue;

/** Topics whose round-robin position one producer keeps (beyond: all start afresh). */
const topics_max = 100_000;
/** Positions wrap here, far beyond any run's sends (the wrap skips at most one queue, once). */
const position_wrap = 2 ** 40;

/**
 * Round-robin over the topic's writable queues, which the route interleaves across broker
 * groups (a0 b0 a1 b1 ...), so consecutive sends alternate groups. Groups the fault tracker
 * avoids are skipped, and so is the group of the attempt that just failed; when every group
 * is avoided, any group but the one that just failed is still tried (better than failing
 * without trying). Each producer starts at a random position so that many producers do not
 * all begin on the same queue.
 */
export class RoundRobinQueueSelector {
  private readonly next_index = new Map<string, number>();

  constructor(
    private readonly faults: BrokerFaultTracker,
    private readonly random: () => number,
  ) {}

  select(route: TopicRoute, failed_broker: string | undefined): MessageQueue {
    const queues = route.writeQueues;
    if (queues.length === 0) throw noWritableQueue(route.topic);
    const start = this.startIndex(route.topic, queues.length);
    let fallback: MessageQueue | undefined;
    for (let step = 0; step < queues.length; step++) {
      const queue = queues[(start + step) % queues.length] as MessageQueue;
      if (queue.brokerName === failed_broker) continue;
      if (this.faults.isAvailable(queue.brokerName)) {
        this.next_index.set(route.topic, (start + step + 1) % position_wrap);
        return queue;
      }
      fallback ??= queue;
    }
    this.next_index.set(route.topic, (start + 1) % position_wrap);
    return fallback ?? (queues[start % queues.length] as MessageQueue);
  }

  private startIndex(topic: string, length: number): number {
    const index = this.next_index.get(topic);
    if (index !== undefined) return index;
    if (this.next_index.size >= topics_max) this.next_index.clear();
    return Math.floor(this.random() * length);
  }
}

/** The default selector of ordered sends: a stable hash of the key over the writable queues. */
export const selectQueueByKey: QueueSelectorFunction = (queues, _message, orderKey) => {
  if (orderKey === undefined) throw new MqError('BAD_REQUEST', 'an ordered send needs an orderKey');
  return queues[fnv1a32(orderKey) % queues.length] as MessageQueue;
};

/** Runs a selector and checks that it answered one of the queues it was given. */
export function selectOrdered(selector: QueueSelectorFunction, route: TopicRoute, message: Message, orderKey: string | undefined): MessageQueue {
  if (route.writeQueues.length === 0) throw noWritableQueue(route.topic);
  const chosen = selector(route.writeQueues, message, orderKey);
  const queue = route.writeQueues.find((candidate) => candidate.brokerName === chosen?.brokerName && candidate.queueId === chosen.queueId);
  if (queue === undefined) throw new MqError('BAD_REQUEST', `the queue selector returned ${JSON.stringify(chosen)}, which is not a writable queue of topic '${route.topic}'; return one of the queues it is given`);
  return queue;
}

function noWritableQueue(topic: string): MqError {
  return new MqError('NO_ROUTE', `topic '${topic}' has no writable queue on a broker group with a master now; retry later, or check the topic's permissions`);
}

/** FNV-1a over the UTF-16 code units: fast, stable across processes and versions. */
function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
