import { MqError } from '../../runtime/errors.js';
import { ConsistentHashRing } from './consistent_hash_ring.js';
import { messageQueueKey, sortedMessageQueues, type MessageQueue } from './message_queue.js';

/**
 * Queue allocation for clustering consumption: which queues of a topic one member of a
 * group consumes. Every member runs the same strategy on the same inputs — the group's
 * members sorted by client id (GET_CONSUMER_LIST answers them sorted) and the topic's
 * queues sorted by broker name and queue id — so the members agree on an assignment in
 * which every queue has exactly one member, without talking to each other. While members
 * see different inputs (one has noticed a join, another not yet) a queue may briefly have
 * two owners or none; the next rebalance tick converges, and offsets make the overlap a
 * re-delivery, never a loss.
 */
export const allocation_strategy_names = ['averagely', 'circle', 'consistent-hash'] as const;
export type AllocationStrategyName = (typeof allocation_strategy_names)[number];

/** `members` and `queues` are sorted and without duplicates; `member` is one of `members`. */
export type AllocationStrategy = (member: string, members: readonly string[], queues: readonly MessageQueue[]) => MessageQueue[];

/**
 * `averagely`: the sorted queues are cut into one contiguous block per member, in member
 * order; sizes differ by at most one, the first `queues % members` members taking the
 * larger blocks (RocketMQ's AllocateMessageQueueAveragely). With more members than queues
 * the last members get nothing. Keeps a member's queues together (often on one broker).
 */
export const allocateAveragely: AllocationStrategy = (member, members, queues) => {
  const index = members.indexOf(member);
  const base = Math.floor(queues.length / members.length);
  const remainder = queues.length % members.length;
  const size = base + (index < remainder ? 1 : 0);
  const start = index * base + Math.min(index, remainder);
  return queues.slice(start, start + size);
};

/**
 * `circle`: queues are dealt out like cards — queue i goes to member i mod members
 * (RocketMQ's AllocateMessageQueueAveragelyByCircle). Same counts as `averagely`, but a
 * member's queues are spread across brokers, so one broker's loss hits every member a little.
 */
export const allocateByCircle: AllocationStrategy = (member, members, queues) => {
  const index = members.indexOf(member);
  return queues.filter((_, queue_index) => queue_index % members.length === index);
};

/**
 * `consistent-hash`: each queue goes to its owner on a consistent-hash ring of the members
 * (consistent_hash_ring.ts). Counts are only roughly even, but a join or leave moves only
 * about 1/members of the queues, so fewer queues change hands (fewer re-deliveries) than
 * with the two even splits, which shift most queues when the member count changes.
 */
export const allocateByConsistentHash: AllocationStrategy = (member, members, queues) => {
  const ring = new ConsistentHashRing(members);
  return queues.filter((queue) => ring.owner(messageQueueKey(queue)) === member);
};

const strategies: Readonly<Record<AllocationStrategyName, AllocationStrategy>> = {
  averagely: allocateAveragely,
  circle: allocateByCircle,
  'consistent-hash': allocateByConsistentHash,
};

export function allocationStrategy(name: string): AllocationStrategy {
  if (!(allocation_strategy_names as readonly string[]).includes(name)) {
    throw new MqError('BAD_REQUEST', `allocation '${name}' is unknown; use one of ${allocation_strategy_names.join(', ')}`);
  }
  return strategies[name as AllocationStrategyName];
}

/**
 * The queues `member` consumes. Sorts and de-duplicates both lists first, so callers may pass
 * them in any order. A member missing from `members` (the broker has not seen its heartbeat
 * yet) gets nothing rather than a guess that would double-assign queues.
 */
export function allocateQueues(strategy: AllocationStrategy, member: string, members: readonly string[], queues: readonly MessageQueue[]): MessageQueue[] {
  const sorted_members = [...new Set(members)].sort();
  if (!sorted_members.includes(member) || queues.length === 0) return [];
  return strategy(member, sorted_members, sortedMessageQueues(queues));
}
