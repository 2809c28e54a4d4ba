import type { StoreView } from '../actors/store/store_view.js';
import type { HistogramSnapshot } from '../storage/shared_histogram.js';
import type { ActorStats, ThreadStats } from '../runtime/actor_stats.js';
import type { RestartOutcome } from '../runtime/actor_cell.js';
import type { TopicTraffic } from '../server/broker/broker_traffic.js';
import type { GroupLag } from './metrics_group_lag.js';
import type { StorePositions } from './metrics_store_positions.js';

export type { ActorStats, ThreadStats, GroupLag, StorePositions, StoreView, TopicTraffic };

/** Whether a node can serve: every worker thread answered a probe and its listeners are up. */
export interface HealthReport {
  ok: boolean;
  /** Why not, when `ok` is false: shown in the 503 body of /healthz. */
  reason?: string;
}

/**
 * What the admin HTTP server needs from a node. The ActorSystem satisfies it; tests pass a
 * fake, so the server is tested without threads. Both calls may be slow (they ask every
 * worker thread) and the server bounds them with its own timeout.
 */
export interface AdminSource {
  listActors(): Promise<ActorStats[]>;
  health(): Promise<HealthReport>;
  /** The broker's store (`GET /api/store`); undefined on a node without one (a nameserver). */
  storeView?: () => StoreView;
  /** Restarts one actor as its supervisor would (the inspector's restart button); false when
   *  no running actor has that address. */
  restartActor?: (address: string, hold_ms: number) => Promise<RestartOutcome>;
  /** A broker's per-topic totals since it started (`mq_topic_*_total`); cheap, read on this
   *  thread. Left out on a node without a broker. */
  topicTraffic?: () => TopicTraffic[];
  /** A broker's pulls held by long polling right now (`mq_broker_pulls_held`). */
  heldPulls?: () => number;
  /** A broker's consumer-group lag per queue (`mq_group_lag_messages`), at most
   *  `group_lag_limits.series_max` rows; empty while the store is not open. */
  groupLags?: () => Promise<GroupLag[]>;
  /** A broker's CommitLog positions (`mq_commitlog_*`, `mq_replication_*`); undefined while
   *  the store is not open. */
  storePositions?: () => Promise<StorePositions | undefined>;
  /** A broker's CommitLog flush latency histogram (`mq_flush_latency_seconds`); undefined
   *  while the store is not open. */
  flushLatency?: () => HistogramSnapshot | undefined;
  /** A master's replication lag at the slaves' acknowledgements (`mq_replication_ack_lag_bytes`). */
  replicationLag?: () => HistogramSnapshot | undefined;
  /** Each worker thread's heap and event-loop delay (`mq_worker_*`). */
  threadStats?: () => Promise<ThreadStats[]>;
  /** The inspector's cluster-wide views (server/inspector_views.ts), read through the node's
   *  nameservers and brokers: `GET /api/cluster`, `/api/groups`, `/api/messages/<msgId>`. */
  clusterView?: () => Promise<object>;
  groupsView?: () => Promise<object>;
  messageView?: (msg_id: string) => Promise<object>;
  /** `GET /api/messages?topic=T&key=K[&max=N]`: a topic's messages by business key. */
  messageQueryView?: (query: { topic: string; key: string; max?: number }) => Promise<object>;
}
