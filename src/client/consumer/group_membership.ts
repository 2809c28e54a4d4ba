import type { HeartbeatRequest } from '../../protocol/index.js';
import type { MessageQueue } from './message_queue.js';
import type { BrokerLink } from './broker_link.js';
import type { ResolvedConsumerOptions } from './consumer_options.js';
import { consumerList, sendHeartbeat, unregisterClient } from './consumer_requests.js';

export const group_membership_limits = {
  /** A heartbeat or member-list request; a slow broker must not hold up the rebalance tick. */
  request_timeout_ms: 3_000,
} as const;

/**
 * This member's side of group membership. Brokers learn the group's members from heartbeats
 * (and drop a member whose connection closes or who is silent for 120 s); they do not push
 * changes, so the consumer asks for the member list on every rebalance tick, right after
 * heartbeating, and only from brokers that took this tick's heartbeat: a broker that just
 * restarted and has not heard from the group yet would answer a list without this member.
 *
 * Each broker's heartbeat also says which of its queues this member reads now (protocol 2),
 * so the operator's view of the group shows the assignment; brokers do not use it.
 */
export class GroupMembership {
  /** Brokers that took a heartbeat of this member: where it must say goodbye. */
  private readonly heard_by = new Set<string>();

  constructor(
    readonly client_id: string,
    private readonly options: ResolvedConsumerOptions,
    private readonly link: BrokerLink,
    /** The queues this member reads now (all brokers). */
    private readonly owned: () => readonly MessageQueue[] = () => [],
  ) {}

  /** The heartbeat for `broker_name`: the member's groups, with the queues it reads there. */
  heartbeatRequest(broker_name = ''): HeartbeatRequest {
    const options = this.options;
    return {
      clientId: this.client_id,
      producerGroups: [],
      consumerGroups: [{
        group: options.group,
        mode: options.mode === 'broadcasting' ? 'BROADCASTING' : 'CLUSTERING',
        fromWhere: options.from_where === 'first' ? 'FIRST' : 'LAST',
        subscriptions: options.subscriptions.map((subscription) => ({ topic: subscription.topic, expression: subscription.tags.expression })),
        assignedQueues: this.owned().filter((queue) => queue.brokerName === broker_name).map((queue) => ({ topic: queue.topic, queueId: queue.queueId })),
      }],
    };
  }

  /** Heartbeats every broker group at once; resolves with those that answered. */
  async heartbeat(broker_names: readonly string[]): Promise<Set<string>> {
    const answered = new Set<string>();
    await Promise.all(broker_names.map(async (broker_name) => {
      try {
        await sendHeartbeat(this.link, broker_name, this.heartbeatRequest(broker_name), group_membership_limits.request_timeout_ms);
        answered.add(broker_name);
        this.heard_by.add(broker_name);
      } catch (error) {
        this.options.logger.warn(`heartbeat failed: broker ${broker_name}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }));
    return answered;
  }

  /** Leaves the group on every broker that took a heartbeat, so the others rebalance now
   *  instead of after the member expiry (best effort: a broker that does not answer expires
   *  this member later). */
  async leave(): Promise<void> {
    const request = { clientId: this.client_id, consumerGroups: [this.options.group] };
    await Promise.all([...this.heard_by].map((broker_name) =>
      unregisterClient(this.link, broker_name, request, group_membership_limits.request_timeout_ms).catch((error: unknown) => {
        this.options.logger.warn(`leaving the group failed: broker ${broker_name}: ${error instanceof Error ? error.message : String(error)}`);
      })));
    this.heard_by.clear();
  }

  /**
   * The group's members (sorted) from the first of `broker_names` (in name order, so all
   * members ask the same broker while it is up) that answers; undefined when none does.
   */
  async members(broker_names: readonly string[]): Promise<string[] | undefined> {
    for (const broker_name of [...broker_names].sort()) {
      try {
        return await consumerList(this.link, broker_name, this.options.group, group_membership_limits.request_timeout_ms);
      } catch (error) {
        this.options.logger.warn(`member list failed: broker ${broker_name}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return undefined;
  }
}
