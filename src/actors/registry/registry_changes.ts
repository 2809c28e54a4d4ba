import type { RegistryChange, RemovalReason, TopicChange } from './registry_events.js';

/**
 * What one registry operation changed, collected while it runs and turned into events when
 * it ends (RouteRegistry.commit): broker events in the order they happened, then one
 * topic_changed per topic, then one route_changed per topic whose route changed, however
 * many times the operation touched it.
 */
export class RegistryChanges {
  readonly broker_events: RegistryChange[] = [];
  readonly topic_changes = new Map<string, TopicChange>();
  readonly route_changes = new Set<string>();
  /** Groups that lost a member: emptied ones are withdrawn when the operation ends. */
  readonly shrunk_groups = new Set<string>();
  /** Something the cluster info shows changed (an HA address, an epoch), without events. */
  touched = false;

  get any(): boolean {
    return this.touched || this.broker_events.length > 0 || this.topic_changes.size > 0 || this.route_changes.size > 0;
  }

  brokerRegistered(broker: BrokerFacts & { ha_address: string }): void {
    this.broker_events.push({ kind: 'broker_registered', ...broker });
  }

  brokerRemoved(broker: BrokerFacts, reason: RemovalReason): void {
    this.broker_events.push({ kind: 'broker_removed', ...broker, reason });
  }

  topic(topic: string, change: TopicChange): void {
    const earlier = this.topic_changes.get(topic);
    // A topic created and then updated in one operation was created; any later deletion wins.
    if (earlier === 'created' && change === 'updated') return;
    this.topic_changes.set(topic, change);
  }

  route(topic: string): void {
    this.route_changes.add(topic);
  }
}

interface BrokerFacts {
  cluster: string;
  broker_name: string;
  broker_id: number;
  address: string;
}
