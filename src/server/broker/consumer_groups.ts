import { heartbeat_protocol_version, type ConsumerConnection, type ConsumerGroupData } from '../../protocol/index.js';

export const consumer_group_limits = {
  /** A member silent for this long has left the group. */
  member_expiry_ms: 120_000,
  groups_max: 16_384,
  members_per_group_max: 4_096,
  /** Assigned queues kept per member and group (for the operator's view only); more are
   *  dropped. A member holds at most every queue of its topics on this broker. */
  assigned_queues_per_member_max: 1_024,
  /** Bytes of one GET_CONSUMER_CONNECTION_LIST answer (an estimate from string lengths, well
   *  under the frame limit); members beyond it are counted, not listed. */
  connection_list_bytes_max: 1 << 20,
} as const;

interface Member {
  client_id: string;
  /** `host:port` of the connection its last heartbeat came over. */
  remote_address: string;
  /** Protocol version of that connection: version 1 heartbeats carry no assigned queues. */
  protocol_version: number;
  last_heartbeat_ms: number;
  /** Wall-clock time of that heartbeat, for display. */
  last_heartbeat_wall_ms: number;
  data: ConsumerGroupData;
}

/**
 * Consumer-group membership as this broker sees it, from client heartbeats: the sorted
 * member list every member uses to compute the same queue assignment. A member that stops
 * heartbeating, or whose connection closes, leaves. Owned by the broker's main thread.
 */
export class ConsumerGroups {
  private readonly groups = new Map<string, Map<string, Member>>();

  heartbeat(client_id: string, groups: readonly ConsumerGroupData[], now_ms = Date.now(), connection: { remote_address: string; protocol_version: number } = { remote_address: '', protocol_version: 2 }): void {
    for (const data of groups) {
      let members = this.groups.get(data.group);
      if (members === undefined) {
        if (this.groups.size >= consumer_group_limits.groups_max) continue;
        members = new Map();
        this.groups.set(data.group, members);
      }
      if (!members.has(client_id) && members.size >= consumer_group_limits.members_per_group_max) continue;
      const assigned = data.assignedQueues.length > consumer_group_limits.assigned_queues_per_member_max
        ? data.assignedQueues.slice(0, consumer_group_limits.assigned_queues_per_member_max)
        : data.assignedQueues;
      members.set(client_id, {
        client_id, remote_address: connection.remote_address, protocol_version: connection.protocol_version,
        last_heartbeat_ms: now_ms, last_heartbeat_wall_ms: Date.now(), data: { ...data, assignedQueues: assigned },
      });
    }
  }

  /** Removes the client from the groups it names (it shut down its consumers there). */
  leaveGroups(client_id: string, groups: readonly string[]): void {
    for (const group of groups) {
      const members = this.groups.get(group);
      if (members === undefined) continue;
      members.delete(client_id);
      if (members.size === 0) this.groups.delete(group);
    }
  }

  /** Removes the client from every group (its connection closed). */
  leave(client_id: string): void {
    for (const [group, members] of this.groups) {
      members.delete(client_id);
      if (members.size === 0) this.groups.delete(group);
    }
  }

  members(group: string, now_ms = Date.now()): string[] {
    return this.live(group, now_ms).map((member) => member.client_id);
  }

  /**
   * The group's live members with what their last heartbeats said, sorted by client id, as
   * many as `connection_list_bytes_max` holds; the rest are counted in `left_out`.
   */
  connections(group: string, now_ms = Date.now()): { connections: ConsumerConnection[]; left_out: number } {
    const live = this.live(group, now_ms);
    const connections: ConsumerConnection[] = [];
    let bytes = 0;
    for (const member of live) {
      bytes += estimatedBytes(member);
      if (bytes > consumer_group_limits.connection_list_bytes_max) break;
      connections.push({
        clientId: member.client_id,
        remoteAddress: member.remote_address,
        lastHeartbeatMs: member.last_heartbeat_wall_ms,
        mode: member.data.mode,
        fromWhere: member.data.fromWhere,
        subscriptions: member.data.subscriptions,
        assignedQueues: member.data.assignedQueues,
        assignmentKnown: member.protocol_version >= heartbeat_protocol_version,
      });
    }
    return { connections, left_out: live.length - connections.length };
  }

  /** Drops the expired members of `group`; the rest, sorted by client id. */
  private live(group: string, now_ms: number): Member[] {
    const members = this.groups.get(group);
    if (members === undefined) return [];
    for (const [client_id, member] of members) {
      if (now_ms - member.last_heartbeat_ms > consumer_group_limits.member_expiry_ms) members.delete(client_id);
    }
    return [...members.values()].sort((a, b) => (a.client_id < b.client_id ? -1 : a.client_id > b.client_id ? 1 : 0));
  }
}

/** An upper estimate of a member's encoded size: each string's UTF-16 length × 3 plus a
 *  length prefix, each number 10 bytes. */
function estimatedBytes(member: Member): number {
  const text = (value: string): number => 3 * value.length + 5;
  let bytes = text(member.client_id) + text(member.remote_address) + 40;
  for (const subscription of member.data.subscriptions) bytes += text(subscription.topic) + text(subscription.expression);
  for (const queue of member.data.assignedQueues) bytes += text(queue.topic) + 5;
  return bytes;
}
