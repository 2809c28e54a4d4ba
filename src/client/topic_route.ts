import {
  master_broker_id,
  perm_read,
  perm_write,
  queue_id_any,
  type BrokerData,
  type ClusterInfo,
  type TopicRouteData,
} from '../protocol/index.js';

/** One queue of a topic on one broker group. */
export interface MessageQueue {
  topic: string;
  brokerName: string;
  /** The queue, or -1 (`queue_id_any`) in a provisional route: the broker picks. */
  queueId: number;
}

/**
 * A topic's route as the SDK uses it: what the nameserver answered, plus the queues a
 * producer may write and a consumer may read, computed once per route version.
 */
export interface TopicRoute {
  topic: string;
  routeVersion: number;
  brokers: BrokerData[];
  /**
   * Writable queues of groups that have a master now, interleaved across the groups
   * (a0 b0 a1 b1 ...), so that round-robin over the list alternates broker groups.
   */
  writeQueues: MessageQueue[];
  /** Readable queues sorted by broker name, then queue id: the order consumers rebalance over. */
  readQueues: MessageQueue[];
  /** brokerName -> the master's `host:port`. */
  masters: ReadonlyMap<string, string>;
  /**
   * brokerName -> where a consumer reads: the master, or while a group has none (it died,
   * and no slave is promoted yet, or none can be) its slave of the lowest id — reads only.
   */
  readers: ReadonlyMap<string, string>;
  /**
   * True for a topic the nameserver does not know yet: the route is every master of the
   * cluster with queue -1, so that the first send lets a broker create the topic (RocketMQ's
   * TBW102 default route). Replaced by the real route once a broker registers the topic.
   */
  provisional: boolean;
}

export function topicRouteOf(data: TopicRouteData): TopicRoute {
  const masters = new Map<string, string>();
  const readers = new Map<string, string>();
  for (const broker of data.brokers) {
    const master = broker.addresses[master_broker_id];
    if (master !== undefined) masters.set(broker.brokerName, master);
    const ids = Object.keys(broker.addresses).map(Number).sort((a, b) => a - b);
    const reader = master ?? (ids.length > 0 ? broker.addresses[String(ids[0])] : undefined);
    if (reader !== undefined) readers.set(broker.brokerName, reader);
  }
  const queues = [...data.queues].sort((a, b) => compareText(a.brokerName, b.brokerName));
  const read_queues: MessageQueue[] = [];
  const write_lists: MessageQueue[][] = [];
  for (const queue of queues) {
    if ((queue.perm & perm_read) !== 0) {
      for (let id = 0; id < queue.readQueues; id++) read_queues.push({ topic: data.topic, brokerName: queue.brokerName, queueId: id });
    }
    if ((queue.perm & perm_write) !== 0 && masters.has(queue.brokerName)) {
      write_lists.push(Array.from({ length: queue.writeQueues }, (_, id) => ({ topic: data.topic, brokerName: queue.brokerName, queueId: id })));
    }
  }
  return {
    topic: data.topic,
    routeVersion: data.routeVersion,
    brokers: data.brokers.map((broker) => ({ cluster: broker.cluster, brokerName: broker.brokerName, addresses: { ...broker.addresses } })),
    writeQueues: interleave(write_lists),
    readQueues: read_queues,
    masters,
    readers,
    provisional: false,
  };
}

/** The provisional route of a topic the nameserver does not know: every master, queue -1. */
export function provisionalRouteOf(topic: string, cluster: ClusterInfo): TopicRoute {
  const masters = new Map<string, string>();
  const brokers: BrokerData[] = [];
  for (const group of cluster.groups) {
    const master = group.members.find((member) => member.brokerId === 0);
    if (master === undefined) continue;
    masters.set(group.brokerName, master.address);
    brokers.push({ cluster: group.cluster, brokerName: group.brokerName, addresses: { [master_broker_id]: master.address } });
  }
  return {
    topic,
    routeVersion: -1,
    brokers,
    writeQueues: [...masters.keys()].sort(compareText).map((brokerName) => ({ topic, brokerName, queueId: queue_id_any })),
    readQueues: [],
    masters,
    readers: masters,
    provisional: true,
  };
}

/** `a0 b0 a1 b1 a2 ...` from `[a0 a1 a2] [b0 b1]`. */
function interleave<T>(lists: readonly T[][]): T[] {
  const result: T[] = [];
  const longest = Math.max(0, ...lists.map((list) => list.length));
  for (let index = 0; index < longest; index++) {
    for (const list of lists) {
      const item = list[index];
      if (item !== undefined) result.push(item);
    }
  }
  return result;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
