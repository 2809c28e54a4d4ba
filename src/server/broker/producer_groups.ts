import type { ServerConnection } from '../remoting/server_connection.js';

export const producer_group_limits = {
  groups_max: 16_384,
  connections_per_group_max: 4_096,
} as const;

/**
 * Which connections belong to live producers of each producer group, from client
 * heartbeats: where a transaction check-back can be asked. A connection leaves when it
 * closes. Picks connections round robin, so checks spread over a group's producers. Owned by
 * the broker's main thread.
 */
export class ProducerGroups {
  private readonly groups = new Map<string, Map<string, ServerConnection>>();
  private next_pick = 0;

  heartbeat(connection: ServerConnection, groups: readonly string[]): void {
    for (const group of groups) {
      let connections = this.groups.get(group);
      if (connections === undefined) {
        if (this.groups.size >= producer_group_limits.groups_max) continue;
        connections = new Map();
        this.groups.set(group, connections);
      }
      if (!connections.has(connection.id) && connections.size >= producer_group_limits.connections_per_group_max) continue;
      connections.set(connection.id, connection);
    }
  }

  /** The connection closed: its producers are gone. */
  leave(connection: ServerConnection): void {
    for (const [group, connections] of this.groups) {
      connections.delete(connection.id);
      if (connections.size === 0) this.groups.delete(group);
    }
  }

  /** A live producer connection of the group, or undefined when none is connected. */
  pick(group: string): ServerConnection | undefined {
    const connections = this.groups.get(group);
    if (connections === undefined || connections.size === 0) return undefined;
    const all = [...connections.values()];
    this.next_pick = (this.next_pick + 1) % 1_000_000;
    return all[this.next_pick % all.length];
  }

  /** Groups with at least one live producer. */
  live(): string[] {
    return [...this.groups.keys()];
  }
}
