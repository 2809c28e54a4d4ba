import {
  decodeGetOffsetResponse,
  decodeQueryConsumerOffsetResponse,
  encodeGetOffsetRequest,
  encodeQueryConsumerOffsetRequest,
  offset_none,
  request_codes,
} from '../protocol/index.js';
import { MqError } from '../runtime/errors.js';
import { queuesOf, type GroupLag, type QueueLag, type QueueRef, type RouteView } from './admin_views.js';
import { mapBounded } from './bounded_parallel.js';

export const group_lag_limits = {
  /** Requests one lag scan has under way at once. */
  requests_in_flight_max: 16,
} as const;

/** What a lag scan needs from Admin. */
export interface LagScanDeps {
  route(topic: string): Promise<RouteView>;
  brokerRequest(address: string, code: number, body: Uint8Array): Promise<Uint8Array>;
}

/**
 * A consumer group's lag per queue over `topics`. When `all_topics` is set the topics are
 * every topic of the cluster, and only those where the group committed some offset are
 * reported (the brokers do not say which topics a group subscribes to); a topic named
 * explicitly is reported whole, committed or not.
 */
export async function scanGroupLag(deps: LagScanDeps, group: string, topics: readonly string[], all_topics: boolean): Promise<GroupLag> {
  const per_topic = await mapBounded(topics, group_lag_limits.requests_in_flight_max, async (topic) => {
    let route: RouteView;
    try {
      route = await deps.route(topic);
    } catch (error) {
      // Scanning everything, a topic without live brokers is skipped, not fatal.
      if (all_topics && error instanceof MqError && (error.code === 'NO_ROUTE' || error.code === 'TOPIC_NOT_FOUND')) return [];
      throw error;
    }
    return queuesOf(route);
  });
  const queues = per_topic.flat();
  const committed = await mapBounded(queues, group_lag_limits.requests_in_flight_max, (queue) => consumerOffset(deps, group, queue));
  const reported_topics = new Set(queues.filter((_, index) => !all_topics || (committed[index] as number) !== offset_none).map((queue) => queue.topic));
  const reported = queues.map((queue, index) => ({ queue, consumer_offset: committed[index] as number })).filter(({ queue }) => reported_topics.has(queue.topic));
  const rows = await mapBounded(reported, group_lag_limits.requests_in_flight_max, async ({ queue, consumer_offset }): Promise<QueueLag> => {
    const broker_offset = await queueOffset(deps, queue, 'max');
    const from = consumer_offset === offset_none ? await queueOffset(deps, queue, 'min') : consumer_offset;
    return {
      topic: queue.topic,
      brokerName: queue.brokerName,
      queueId: queue.queueId,
      brokerOffset: broker_offset,
      consumerOffset: consumer_offset,
      lag: Math.max(0, broker_offset - from),
    };
  });
  rows.sort((a, b) => compareText(a.topic, b.topic) || compareText(a.brokerName, b.brokerName) || a.queueId - b.queueId);
  return { group, lag: rows.reduce((total, row) => total + row.lag, 0), queues: rows };
}


async function consumerOffset(deps: LagScanDeps, group: string, queue: QueueRef): Promise<number> {
  const reply = decodeQueryConsumerOffsetResponse(
    await deps.brokerRequest(queue.address, request_codes.QUERY_CONSUMER_OFFSET, encodeQueryConsumerOffsetRequest({ group, topic: queue.topic, queueId: queue.queueId })),
  );
  if (!reply.ok) throw new MqError('INTERNAL', `unreadable consumer offset from ${queue.brokerName}: ${reply.error.message}`);
  return reply.value.offset;
}

async function queueOffset(deps: LagScanDeps, queue: QueueRef, end: 'min' | 'max'): Promise<number> {
  const code = end === 'max' ? request_codes.GET_MAX_OFFSET : request_codes.GET_MIN_OFFSET;
  const reply = decodeGetOffsetResponse(await deps.brokerRequest(queue.address, code, encodeGetOffsetRequest({ topic: queue.topic, queueId: queue.queueId })));
  if (!reply.ok) throw new MqError('INTERNAL', `unreadable queue offset from ${queue.brokerName}: ${reply.error.message}`);
  return reply.value.offset;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
