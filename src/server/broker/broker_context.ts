import type { Store } from '../../actors/store/store.js';
import type { Logger } from '../../runtime/log.js';
import type { ConsumerGroups } from './consumer_groups.js';
import type { ProducerGroups } from './producer_groups.js';
import type { PullHold } from './pull_hold.js';
import type { TopicConfigStore } from './topic_config_store.js';

/** What the broker's request handlers share (all owned by the broker's main thread). */
export interface BrokerContext {
  broker_name: string;
  store: Store;
  topics: TopicConfigStore;
  groups: ConsumerGroups;
  /** Live producer connections per producer group (transaction check-backs). */
  producers: ProducerGroups;
  pulls: PullHold;
  auto_create_topic: boolean;
  /** The queue count of an auto-created topic. */
  default_queues: number;
  log: Logger;
  /** Longest delay a delayed send may ask for. */
  max_delay_ms: number;
  /** Redelivery delay of a failed message by attempt; the last one repeats. */
  retry_delays_ms: readonly number[];
  /** `host:port` of this broker's RocketMQ 5 gRPC endpoint once it listens (set by grpc_listener.ts), else null. */
  grpc_address: string | null;
  /** Called after a topic is created or changed: the nameservers must learn it. */
  onTopicsChanged(): void;
  /** Throws NOT_MASTER on a slave: `what` (a send, a topic change, ...) is for the master. */
  requireMaster(what: string): void;
}
