import {
  consumer_connection_protocol_version,
  decodeAllConsumerOffset,
  decodeGetConsumerConnectionListResponse,
  decodeGetConsumerListResponse,
  encodeGetAllConsumerOffsetRequest,
  encodeGetConsumerConnectionListRequest,
  encodeGetConsumerListRequest,
  master_broker_id,
  request_codes,
} from '../protocol/index.js';
import { MqError } from '../runtime/errors.js';
import type { ClusterView, GroupLag } from './admin_views.js';

export const admin_group_limits = {
  /** Groups one listing describes (each costs a lag scan); the rest are counted. */
  groups_max: 200,
} as const;

/** One member of a consumer group, as the master brokers' last heartbeats from it say. */
export interface GroupMemberView {
  clientId: string;
  /** Its latest heartbeat on any master (ms since the epoch). */
  lastHeartbeatMs: number;
  subscriptions: Array<{ topic: string; expression: string }>;
  /** The queues it reads, on every master broker, sorted by topic, broker, queue. */
  queues: Array<{ topic: string; brokerName: string; queueId: number }>;
  /** False when `queues` says nothing: the member (or a broker) speaks protocol 1. */
  assignmentKnown: boolean;
}

/** One consumer group as the inspector shows it. */
export interface GroupView {
  group: string;
  /** Client ids of its live members, as the master brokers see them. */
  members: string[];
  /**
   * The members with their subscriptions and assigned queues (from their heartbeats, up to a
   * rebalance interval old). A broker or a member speaking protocol 1 reports no queues:
   * then the member's `assignmentKnown` and `assignmentComplete` are false.
   */
  memberDetails: GroupMemberView[];
  assignmentComplete: boolean;
  /** Members a broker left out of its answer (it lists as many as fit its budget). */
  membersLeftOut: number;
  lag: GroupLag;
}

export interface GroupListing {
  groups: GroupView[];
  /** Groups beyond groups_max, not described. */
  groupsLeftOut: number;
}

/** What a group listing needs from Admin. */
export interface GroupListDeps {
  cluster(): Promise<ClusterView>;
  brokerRequest(address: string, code: number, body: Uint8Array): Promise<Uint8Array>;
  /** The protocol version of this client's connection to `address`. */
  brokerProtocolVersion(address: string): Promise<number>;
  groupLag(group: string): Promise<GroupLag>;
}

interface MasterBroker {
  address: string;
  brokerName: string;
}

/**
 * Every consumer group that committed an offset on a master broker (brokers keep no other
 * list of groups), with its live members, the queues each reads, and its lag per queue,
 * sorted by name. Retry and dead-letter bookkeeping groups (names starting with `%`) are
 * left out.
 */
export async function listGroups(deps: GroupListDeps): Promise<GroupListing> {
  const masters: MasterBroker[] = (await deps.cluster()).groups.flatMap((group) =>
    group.members.filter((member) => member.brokerId === Number(master_broker_id)).map((member) => ({ address: member.address, brokerName: group.brokerName })));
  const names = new Set<string>();
  for (const { address } of masters) {
    const offsets = decodeAllConsumerOffset(await deps.brokerRequest(address, request_codes.GET_ALL_CONSUMER_OFFSET, encodeGetAllConsumerOffsetRequest({})));
    if (!offsets.ok) throw new MqError('INTERNAL', `unreadable consumer offsets from ${address}: ${offsets.error.message}`);
    for (const entry of offsets.value.entries) if (!entry.group.startsWith('%')) names.add(entry.group);
  }
  const sorted = [...names].sort();
  const groups: GroupView[] = [];
  for (const group of sorted.slice(0, admin_group_limits.groups_max)) {
    const { members, complete, left_out } = await groupMembers(deps, masters, group);
    groups.push({
      group, members: members.map((member) => member.clientId), memberDetails: members, assignmentComplete: complete, membersLeftOut: left_out, lag: await deps.groupLag(group),
    });
  }
  return { groups, groupsLeftOut: Math.max(0, sorted.length - admin_group_limits.groups_max) };
}

/** The group's members merged over the masters (each reports the queues it holds there). */
async function groupMembers(deps: GroupListDeps, masters: readonly MasterBroker[], group: string): Promise<{ members: GroupMemberView[]; complete: boolean; left_out: number }> {
  const by_client = new Map<string, GroupMemberView>();
  const memberOf = (client_id: string, assignment_known: boolean): GroupMemberView => {
    let member = by_client.get(client_id);
    if (member === undefined) {
      member = { clientId: client_id, lastHeartbeatMs: 0, subscriptions: [], queues: [], assignmentKnown: true };
      by_client.set(client_id, member);
    }
    if (!assignment_known) member.assignmentKnown = false;
    return member;
  };
  let left_out = 0;
  for (const master of masters) {
    if ((await deps.brokerProtocolVersion(master.address)) < consumer_connection_protocol_version) {
      const list = decodeGetConsumerListResponse(await deps.brokerRequest(master.address, request_codes.GET_CONSUMER_LIST, encodeGetConsumerListRequest({ group })));
      if (list.ok) for (const client_id of list.value.clientIds) memberOf(client_id, false);
      continue;
    }
    const reply = decodeGetConsumerConnectionListResponse(
      await deps.brokerRequest(master.address, request_codes.GET_CONSUMER_CONNECTION_LIST, encodeGetConsumerConnectionListRequest({ group })),
    );
    if (!reply.ok) throw new MqError('INTERNAL', `unreadable consumer connections from ${master.address}: ${reply.error.message}`);
    left_out = Math.max(left_out, reply.value.connectionsLeftOut);
    for (const connection of reply.value.connections) {
      const member = memberOf(connection.clientId, connection.assignmentKnown);
      if (connection.lastHeartbeatMs > member.lastHeartbeatMs) {
        member.lastHeartbeatMs = connection.lastHeartbeatMs;
        member.subscriptions = connection.subscriptions.map(({ topic, expression }) => ({ topic, expression }));
      }
      for (const queue of connection.assignedQueues) member.queues.push({ topic: queue.topic, brokerName: master.brokerName, queueId: queue.queueId });
    }
  }
  const members = [...by_client.values()].sort((a, b) => compareText(a.clientId, b.clientId));
  for (const member of members) {
    member.queues.sort((a, b) => compareText(a.topic, b.topic) || compareText(a.brokerName, b.brokerName) || a.queueId - b.queueId);
  }
  return { members, complete: members.every((member) => member.assignmentKnown), left_out };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
