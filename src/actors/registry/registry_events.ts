import { unionCodec, type AvroFields } from '../../runtime/actor_protocol.js';

/**
 * What changed in the registry, as typed events. The registry actor returns the events of
 * each change with its reply; the nameserver's main thread publishes them, in `seq` order, to
 * its event bus, whose plugins (route-change notifications, the audit log, ...) react.
 *
 * `seq` counts events from 1 without gaps for the life of one registry, so a consumer can
 * tell a lost event from a quiet registry. `at_ms` is wall-clock time.
 */
export type RemovalReason =
  /** The broker said goodbye (UNREGISTER_BROKER). */
  | 'unregistered'
  /** No registration or heartbeat within the broker expiry. */
  | 'expired'
  /** The connection it registered over closed. */
  | 'disconnected'
  /** Another registration took its place (same brokerName and brokerId at a new address, or
   *  the same address under another identity). */
  | 'replaced';

export type TopicChange = 'created' | 'updated' | 'deleted';

export type RegistryEvent =
  | {
      kind: 'broker_registered';
      seq: number;
      at_ms: number;
      cluster: string;
      broker_name: string;
      broker_id: number;
      address: string;
      ha_address: string;
    }
  | {
      kind: 'broker_removed';
      seq: number;
      at_ms: number;
      cluster: string;
      broker_name: string;
      broker_id: number;
      address: string;
      reason: RemovalReason;
    }
  /** The topic's queue configuration changed: it appeared, a broker group's queues or
   *  permissions changed, or it was deleted. */
  | { kind: 'topic_changed'; seq: number; at_ms: number; topic: string; change: TopicChange }
  /** What GET_ROUTE answers for the topic changed (queues, or the addresses of a group that
   *  serves it). `broker_names`: the groups serving it now, sorted; empty when none does. */
  | { kind: 'route_changed'; seq: number; at_ms: number; topic: string; route_version: number; broker_names: string[] };

export type RegistryEventKind = RegistryEvent['kind'];

/** An event as the registry builds it, before `seq` and `at_ms` are stamped. */
export type RegistryChange = Unstamped<RegistryEvent>;
type Unstamped<E> = E extends RegistryEvent ? Omit<E, 'seq' | 'at_ms'> : never;

const stamp_fields = [
  { name: 'seq', type: 'long' },
  { name: 'at_ms', type: 'long' },
];

const broker_fields = [
  { name: 'cluster', type: 'string' },
  { name: 'broker_name', type: 'string' },
  { name: 'broker_id', type: 'int' },
  { name: 'address', type: 'string' },
];

const event_kinds: Readonly<Record<RegistryEventKind, AvroFields>> = {
  broker_registered: [...stamp_fields, ...broker_fields, { name: 'ha_address', type: 'string' }],
  broker_removed: [
    ...stamp_fields,
    ...broker_fields,
    { name: 'reason', type: { type: 'enum', name: 'RemovalReason', symbols: ['unregistered', 'expired', 'disconnected', 'replaced'] } },
  ],
  topic_changed: [
    ...stamp_fields,
    { name: 'topic', type: 'string' },
    { name: 'change', type: { type: 'enum', name: 'TopicChange', symbols: ['created', 'updated', 'deleted'] } },
  ],
  route_changed: [
    ...stamp_fields,
    { name: 'topic', type: 'string' },
    { name: 'route_version', type: 'long' },
    { name: 'broker_names', type: { type: 'array', items: 'string' } },
  ],
};

/** The Avro codec of one event (kind index, then that kind's record): how events cross threads. */
export const registry_event_codec = unionCodec<RegistryEvent>('namesrv.registry_event', event_kinds);
