/**
 * What Admin returns: plain objects (the wire decoder's records are class instances) with
 * the field names of the protocol, so `--json` output and the SDK's results read the same.
 */
import { master_broker_id, type BrokerMemberInfo, type ClusterInfo, type TopicRouteData } from '../protocol/index.js';

export interface RouteView {
  topic: string;
  routeVersion: number;
  brokers: Array<{ cluster: string; brokerName: string; addresses: Record<string, string> }>;
  queues: Array<{ brokerName: string; readQueues: number; writeQueues: number; perm: number }>;
}

export interface ClusterView {
  dataVersion: number;
  groups: Array<{
    cluster: string;
    brokerName: string;
    members: ClusterMemberView[];
  }>;
}

/** A broker as cluster info describes it (cluster_info.ts BrokerMemberInfo), plus its lag. */
export interface ClusterMemberView extends BrokerMemberInfo {
  /**
   * A slave's bytes behind its master, from their last reports (each up to a heartbeat old,
   * so a small figure may be in flight); 0 for a master; null when the group has no master
   * now or the nameserver speaks protocol 1 (it reports no offsets).
   */
  replicationLagBytes: number | null;
}

/** One nameserver's part in the replicated registry (NS_STATUS), or why it did not answer. */
export interface NamesrvStatusView {
  address: string;
  /** null when it did not answer (`error` says why). */
  status: {
    role: string;
    mode: string;
    term: number;
    leader: string;
    lastSeq: number;
    commitSeq: number;
    chain: string[];
    snapshotsInstalled: number;
    semiSyncFallbacks: number;
  } | null;
  error: string | null;
}

/** One queue's position of a consumer group. */
export interface QueueLag {
  topic: string;
  brokerName: string;
  queueId: number;
  /** The next offset the broker will assign (messages stored so far). */
  brokerOffset: number;
  /** The group's committed offset (the next it will consume), or -1 when it committed none. */
  consumerOffset: number;
  /**
   * Messages the group has still to consume: brokerOffset - consumerOffset; with no
   * committed offset, every message the queue still holds (brokerOffset - its min offset),
   * which is what a group starting from the first message would read.
   */
  lag: number;
}

export interface GroupLag {
  group: string;
  /** Sum over the queues. */
  lag: number;
  /** Sorted by topic, broker group, queue. */
  queues: QueueLag[];
}

export interface CreateTopicRequestOptions {
  topic: string;
  /** Read and write queues per broker group (default 8). */
  queues?: number;
  /** Only the master brokers of this cluster (default: every cluster the nameserver knows). */
  cluster?: string;
}

export function routeViewOf(route: TopicRouteData): RouteView {
  return {
    topic: route.topic,
    routeVersion: route.routeVersion,
    brokers: route.brokers.map((broker) => ({ cluster: broker.cluster, brokerName: broker.brokerName, addresses: { ...broker.addresses } })),
    queues: route.queues.map((queue) => ({ brokerName: queue.brokerName, readQueues: queue.readQueues, writeQueues: queue.writeQueues, perm: queue.perm })),
  };
}

/** `protocol_version`: the one the nameserver answered in (version 1 carries no offsets). */
export function clusterViewOf(info: ClusterInfo, protocol_version: number): ClusterView {
  return {
    dataVersion: info.dataVersion,
    groups: info.groups.map((group) => {
      const master = group.members.find((member) => member.brokerId === Number(master_broker_id));
      const lagOf = (member: ClusterInfo['groups'][number]['members'][number]): number | null => {
        if (protocol_version < 2 || master === undefined) return null;
        return member === master ? 0 : Math.max(0, master.maxOffset - member.maxOffset);
      };
      return {
        cluster: group.cluster,
        brokerName: group.brokerName,
        members: group.members.map((member) => ({
          brokerId: member.brokerId,
          address: member.address,
          haAddress: member.haAddress,
          epoch: member.epoch,
          dataVersion: member.dataVersion,
          lastHeartbeatMs: member.lastHeartbeatMs,
          maxOffset: member.maxOffset,
          inSync: member.inSync,
          replicationLagBytes: lagOf(member),
        })),
      };
    }),
  };
}

/** One readable queue of a topic, on its broker group's master (where offsets live). */
export interface QueueRef {
  topic: string;
  brokerName: string;
  address: string;
  queueId: number;
}

/** The readable queues of a route, each on its broker group's master. */
export function queuesOf(route: RouteView): QueueRef[] {
  const refs: QueueRef[] = [];
  for (const queue of route.queues) {
    const address = route.brokers.find((broker) => broker.brokerName === queue.brokerName)?.addresses[master_broker_id];
    if (address === undefined) continue;
    for (let queueId = 0; queueId < queue.readQueues; queueId++) refs.push({ topic: route.topic, brokerName: queue.brokerName, address, queueId });
  }
  return refs;
}
