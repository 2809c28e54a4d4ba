import {
  master_broker_id,
  type BrokerHeartbeatRequest,
  type BrokerHeartbeatResponse,
  type ClusterInfo,
  type QueueData,
  type RegisterBrokerRequest,
  type RegisterBrokerResponse,
  type TopicConfig,
  type TopicList,
  type TopicRouteData,
  type UnregisterBrokerRequest,
} from '../../protocol/index.js';
import type { Clock } from '../../runtime/clock.js';
import { MqError } from '../../runtime/errors.js';
import { RegistryChanges } from './registry_changes.js';
import type { RegistryChange, RegistryEvent, RemovalReason } from './registry_events.js';
import { registry_limits } from './registry_limits.js';
import type { RegistryState } from './registry_snapshot.js';
import { checkBrokerIdentity, checkHaAddress, checkTopicConfigs, checkTopicName, hasHaAddress } from './registry_validation.js';

/** A broker the registry has heard from within the expiry. */
interface Member {
  broker_id: number;
  address: string;
  ha_address: string;
  epoch: number;
  /** The broker's topic-config version at its last registration. */
  data_version: number;
  /** The end of its CommitLog at its last registration or heartbeat. */
  max_offset: number;
  /** The connection that last registered or heartbeated for it: when that one closes, the
   *  broker is gone (a reconnect registers again over the new connection). */
  connection_id: string;
  heard_monotonic_ms: number;
  heard_wall_ms: number;
}

/** A broker group: one brokerName, a master (id 0) and slaves, and the topics it serves. */
interface Group {
  cluster: string;
  broker_name: string;
  members: Map<number, Member>;
  /** Highest master epoch seen: a master registering with a lower one was fenced by a failover. */
  epoch: number;
  /** The slaves the master last reported in sync with it: the ones a failover may promote. */
  in_sync_slaves: number[];
  /** The slave promoted at `epoch` that has not registered as the master yet. */
  candidate: number | undefined;
  /** Queue data per topic, from the group's topic authority (isTopicAuthority). */
  topics: Map<string, QueueData>;
}

interface Topic {
  /** The global data version of the topic's last route change. */
  route_version: number;
  /** Groups that serve it. Empty after all of them left: the topic stays known (GET_ROUTE
   *  answers NO_ROUTE, which is retriable) until a group serves it again or it is deleted. */
  groups: Set<string>;
}

export interface RouteRegistryOptions {
  clock: Clock;
  broker_expiry_ms: number;
}

/** A result and the events of the change that produced it. */
export interface Outcome<T> {
  value: T;
  events: RegistryEvent[];
}

/**
 * The nameserver's view of the cluster: broker groups and their live brokers, which topics
 * each group serves with how many queues, and when each broker was last heard from.
 *
 * Every operation validates first and changes state only once nothing can fail, then
 * returns its events (registry_events.ts). Versions: `data_version` grows by one per
 * operation that changed anything; a topic's `route_version` is the data version of the
 * last change of its route, so route versions only grow, also across delete and re-create.
 *
 * Plain state owned by the registry actor: one thread, one call at a time.
 */
export class RouteRegistry {
  private readonly groups = new Map<string, Group>();
  private readonly topics = new Map<string, Topic>();
  /** address -> brokerName and brokerId of the broker registered there. */
  private readonly by_address = new Map<string, { broker_name: string; broker_id: number }>();
  private data_version = 0;
  private event_seq = 0;

  constructor(private readonly options: RouteRegistryOptions) {}

  get dataVersion(): number {
    return this.data_version;
  }

  register(request: RegisterBrokerRequest, connection_id: string): Outcome<RegisterBrokerResponse> {
    checkBrokerIdentity(request);
    checkHaAddress(request.haAddress);
    checkTopicConfigs(request.topics);
    const existing_group = this.groups.get(request.brokerName);
    this.checkGroupAdmits(existing_group, request);
    const changes = new RegistryChanges();
    const candidate = request.brokerId === 0 && existing_group?.candidate !== undefined && existing_group.members.get(existing_group.candidate)?.address === request.address;
    const takes_over = request.brokerId === 0 && !candidate && !isLeader(existing_group, request.address) && request.epoch > 0;
    // The promoted slave takes over: it is no candidate any more once it registers as the
    // master (its slave entry then goes, as its address moves to id 0, without a new election).
    if (candidate && existing_group !== undefined) existing_group.candidate = undefined;
    const holder = this.by_address.get(request.address);
    if (holder !== undefined && (holder.broker_name !== request.brokerName || holder.broker_id !== request.brokerId)) {
      this.removeMember(holder.broker_name, holder.broker_id, 'replaced', changes);
    }
    const group = existing_group ?? this.createGroup(request);
    group.epoch = Math.max(group.epoch, request.epoch);
    // A broker that becomes the master by registering (not a failover's candidate, not the
    // master already registered) may have only followed its log's last epoch, and its master
    // may have written past what it holds: leading that epoch again would put two different
    // tails under one epoch, and a returning old master would keep its tail, uncut. A new
    // epoch starts at this broker's end, where the old master's log is cut when it rejoins.
    // Epoch 0 is the configured master's alone: no failover ever hands it out.
    if (takes_over) group.epoch += 1;
    if (request.brokerId === 0) group.in_sync_slaves = [...request.inSyncSlaves];
    const now = this.now();
    const previous = group.members.get(request.brokerId);
    if (previous !== undefined && previous.address !== request.address) this.removeMember(group.broker_name, request.brokerId, 'replaced', changes);
    const member = group.members.get(request.brokerId);
    if (member === undefined) {
      group.members.set(request.brokerId, {
        broker_id: request.brokerId,
        address: request.address,
        ha_address: request.haAddress,
        epoch: request.epoch,
        data_version: request.dataVersion,
        max_offset: request.maxOffset,
        connection_id,
        ...now,
      });
      this.by_address.set(request.address, { broker_name: group.broker_name, broker_id: request.brokerId });
      changes.brokerRegistered({ ...this.facts(group, request.brokerId, request.address), ha_address: request.haAddress });
      this.groupAddressesChanged(group, changes);
    } else {
      if (member.ha_address !== request.haAddress || member.epoch !== request.epoch || member.data_version !== request.dataVersion) changes.touched = true;
      Object.assign(member, { ha_address: request.haAddress, epoch: request.epoch, data_version: request.dataVersion, max_offset: request.maxOffset, connection_id, ...now });
    }
    if (this.isTopicAuthority(group, request.brokerId)) this.applyTopics(group, request.topics, changes);
    return { value: this.masterView(group, request.brokerId), events: this.commit(changes) };
  }

  /**
   * A heartbeat refreshes a broker the registry knows at the same address, epoch and data
   * version; anything else answers registrationNeeded (the nameserver restarted, expired the
   * broker, or missed a change), and the broker then registers in full.
   */
  heartbeat(request: BrokerHeartbeatRequest, connection_id: string): BrokerHeartbeatResponse {
    checkBrokerIdentity(request);
    const group = this.groups.get(request.brokerName);
    const member = group?.members.get(request.brokerId);
    if (
      group === undefined ||
      member === undefined ||
      group.cluster !== request.cluster ||
      member.address !== request.address ||
      member.epoch !== request.epoch ||
      member.data_version !== request.dataVersion
    ) {
      return { registrationNeeded: true, masterAddress: null, masterHaAddress: null, epoch: group?.epoch ?? 0, master: false };
    }
    Object.assign(member, { connection_id, max_offset: request.maxOffset, ...this.now() });
    if (request.brokerId === 0) group.in_sync_slaves = [...request.inSyncSlaves];
    return { registrationNeeded: false, ...this.masterView(group, request.brokerId) };
  }

  /** Removes the broker if it is registered at that address; unknown brokers are no error
   *  (the goodbye of a broker already expired). */
  unregister(request: UnregisterBrokerRequest): Outcome<Record<string, never>> {
    checkBrokerIdentity(request);
    const changes = new RegistryChanges();
    const member = this.groups.get(request.brokerName)?.members.get(request.brokerId);
    if (member !== undefined && member.address === request.address) this.removeMember(request.brokerName, request.brokerId, 'unregistered', changes);
    return { value: {}, events: this.commit(changes) };
  }

  /** Evicts every broker whose last registration or heartbeat came over this connection. */
  connectionClosed(connection_id: string): RegistryEvent[] {
    // A scan of all brokers: they are few (thousands at most) and connections of brokers
    // close rarely; an index per connection would cost more in bookkeeping than it saves.
    return this.evictWhere((member) => member.connection_id === connection_id, 'disconnected');
  }

  /** Evicts brokers silent for longer than the expiry. */
  expire(): RegistryEvent[] {
    const now_ms = this.options.clock.monotonicMs();
    return this.evictWhere((member) => now_ms - member.heard_monotonic_ms > this.options.broker_expiry_ms, 'expired');
  }

  deleteTopic(topic: string): Outcome<Record<string, never>> {
    checkTopicName(topic);
    const state = this.topics.get(topic);
    if (state === undefined) throw topicNotFound(topic);
    for (const broker_name of state.groups) this.groups.get(broker_name)?.topics.delete(topic);
    this.topics.delete(topic);
    const changes = new RegistryChanges();
    changes.topic(topic, 'deleted');
    changes.route(topic);
    return { value: {}, events: this.commit(changes) };
  }

  route(topic: string): TopicRouteData {
    checkTopicName(topic);
    const state = this.topics.get(topic);
    if (state === undefined) throw topicNotFound(topic);
    if (state.groups.size === 0) {
      throw new MqError('NO_ROUTE', `no broker serves topic '${topic}' now (its brokers left or expired); retry later, or delete the topic if it is gone for good`);
    }
    const route: TopicRouteData = { topic, routeVersion: state.route_version, brokers: [], queues: [] };
    for (const broker_name of [...state.groups].sort()) {
      const group = this.groups.get(broker_name) as Group;
      const addresses: Record<string, string> = {};
      for (const member of group.members.values()) addresses[String(member.broker_id)] = member.address;
      route.brokers.push({ cluster: group.cluster, brokerName: broker_name, addresses });
      route.queues.push(group.topics.get(topic) as QueueData);
    }
    return route;
  }

  clusterInfo(): ClusterInfo {
    const in_sync_of = (group: Group): ReadonlySet<number> => new Set(group.in_sync_slaves);
    const groups = [...this.groups.values()].sort((a, b) => a.cluster.localeCompare(b.cluster) || a.broker_name.localeCompare(b.broker_name));
    return {
      dataVersion: this.data_version,
      groups: groups.map((group) => {
        const in_sync = in_sync_of(group);
        return {
        cluster: group.cluster,
        brokerName: group.broker_name,
        members: [...group.members.values()]
          .sort((a, b) => a.broker_id - b.broker_id)
          .map((member) => ({
            brokerId: member.broker_id,
            address: member.address,
            haAddress: member.ha_address,
            epoch: member.epoch,
            dataVersion: member.data_version,
            lastHeartbeatMs: member.heard_wall_ms,
            maxOffset: member.max_offset,
            inSync: member.broker_id !== 0 && in_sync.has(member.broker_id),
          })),
        };
      }),
    };
  }

  topicList(cluster: string | null): TopicList {
    const topics: string[] = [];
    for (const [topic, state] of this.topics) {
      if (cluster === null || [...state.groups].some((broker_name) => this.groups.get(broker_name)?.cluster === cluster)) topics.push(topic);
    }
    return { dataVersion: this.data_version, topics: topics.sort() };
  }

  /** A new leader took over: every broker counts as heard now (it had no leader to
   *  heartbeat while the election ran). Changes no route. */
  lead(): void {
    const now = this.now();
    for (const group of this.groups.values()) for (const member of group.members.values()) Object.assign(member, now);
  }

  /** The whole registry as plain data, in its iteration order (registry_snapshot.ts). */
  exportState(): RegistryState {
    return {
      dataVersion: this.data_version,
      eventSeq: this.event_seq,
      groups: [...this.groups.values()].map((group) => ({
        cluster: group.cluster,
        brokerName: group.broker_name,
        epoch: group.epoch,
        inSyncSlaves: [...group.in_sync_slaves],
        candidate: group.candidate ?? -1,
        members: [...group.members.values()].map((member) => ({
          brokerId: member.broker_id,
          address: member.address,
          haAddress: member.ha_address,
          epoch: member.epoch,
          dataVersion: member.data_version,
          maxOffset: member.max_offset,
          connectionId: member.connection_id,
          heardMonotonicMs: member.heard_monotonic_ms,
          heardWallMs: member.heard_wall_ms,
        })),
        topics: [...group.topics.entries()].map(([topic, queue]) => ({ topic, readQueues: queue.readQueues, writeQueues: queue.writeQueues, perm: queue.perm })),
      })),
      topics: [...this.topics.entries()].map(([topic, state]) => ({ topic, routeVersion: state.route_version, groups: [...state.groups] })),
    };
  }

  /** Replaces everything with `state` (a snapshot from the journal or from the leader). */
  importState(state: RegistryState): void {
    this.groups.clear();
    this.topics.clear();
    this.by_address.clear();
    this.data_version = state.dataVersion;
    this.event_seq = state.eventSeq;
    for (const saved of state.groups) {
      const group: Group = {
        cluster: saved.cluster, broker_name: saved.brokerName, members: new Map(), epoch: saved.epoch, in_sync_slaves: [...saved.inSyncSlaves],
        candidate: saved.candidate < 0 ? undefined : saved.candidate, topics: new Map(),
      };
      for (const member of saved.members) {
        group.members.set(member.brokerId, {
          broker_id: member.brokerId, address: member.address, ha_address: member.haAddress, epoch: member.epoch, data_version: member.dataVersion,
          max_offset: member.maxOffset, connection_id: member.connectionId, heard_monotonic_ms: member.heardMonotonicMs, heard_wall_ms: member.heardWallMs,
        });
        this.by_address.set(member.address, { broker_name: saved.brokerName, broker_id: member.brokerId });
      }
      for (const topic of saved.topics) group.topics.set(topic.topic, { brokerName: saved.brokerName, readQueues: topic.readQueues, writeQueues: topic.writeQueues, perm: topic.perm });
      this.groups.set(group.broker_name, group);
    }
    for (const topic of state.topics) this.topics.set(topic.topic, { route_version: topic.routeVersion, groups: new Set(topic.groups) });
  }

  /** Small numbers for the actor inspector. */
  summary(): Record<string, number> {
    let brokers = 0;
    for (const group of this.groups.values()) brokers += group.members.size;
    return { groups: this.groups.size, brokers, topics: this.topics.size, data_version: this.data_version, events: this.event_seq };
  }

  // ---- changes --------------------------------------------------------------------------

  private checkGroupAdmits(group: Group | undefined, request: RegisterBrokerRequest): void {
    if (group === undefined) {
      if (this.groups.size >= registry_limits.broker_groups_max) {
        throw new MqError('BAD_REQUEST', `this nameserver routes ${registry_limits.broker_groups_max} broker groups already; '${request.brokerName}' cannot join`);
      }
    } else {
      if (group.cluster !== request.cluster) {
        throw new MqError('BAD_REQUEST', `broker group '${request.brokerName}' belongs to cluster '${group.cluster}', not '${request.cluster}'; give the broker another --broker-name or the same --cluster`);
      }
      if (request.brokerId === 0 && request.epoch < group.epoch && !isLeader(group, request.address)) {
        throw new MqError('NOT_MASTER', `broker ${request.address} registers as master of '${request.brokerName}' with epoch ${request.epoch}, but a master of epoch ${group.epoch} exists (a failover promoted it); this broker must rejoin as a slave`);
      }
      // Two brokers must never lead one epoch. A broker that followed the master of the
      // current epoch knows that epoch too (from its log); restarted with --broker-id 0 it
      // would claim it. The master that leads it stays; the claimant rejoins as a slave.
      // (The group's epoch, not the master's own registration: a master that registered anew
      // leads the epoch it was given, one past the one it registered with.)
      const master = group.members.get(0);
      if (request.brokerId === 0 && master !== undefined && master.address !== request.address && group.epoch >= request.epoch) {
        throw new MqError('NOT_MASTER', `broker ${request.address} registers as master of '${request.brokerName}' at epoch ${request.epoch}, but ${master.address} leads it at epoch ${group.epoch}; this broker must rejoin as a slave (only a failover, at a newer epoch, makes another master)`);
      }
      if (!group.members.has(request.brokerId) && group.members.size >= registry_limits.members_per_group_max) {
        throw new MqError('BAD_REQUEST', `broker group '${request.brokerName}' has ${registry_limits.members_per_group_max} brokers already`);
      }
    }
    const known = group?.topics;
    let added = 0;
    for (const config of request.topics) if (!this.topics.has(config.topic) && known?.has(config.topic) !== true) added++;
    if (this.topics.size + added > registry_limits.topics_max) {
      throw new MqError('BAD_REQUEST', `routing ${added} more topics would exceed this nameserver's ${registry_limits.topics_max}; delete unused topics first`);
    }
  }

  private createGroup(request: RegisterBrokerRequest): Group {
    const group: Group = {
      cluster: request.cluster, broker_name: request.brokerName, members: new Map(), epoch: request.epoch, in_sync_slaves: [], candidate: undefined, topics: new Map(),
    };
    this.groups.set(group.broker_name, group);
    return group;
  }

  /**
   * Which member's registration says what topics the group serves: the master; without a
   * live master, the slave with the lowest id (slaves copy the master's topic configs, and a
   * group whose master died still serves reads from them).
   */
  private isTopicAuthority(group: Group, broker_id: number): boolean {
    if (broker_id === 0) return true;
    if (group.members.has(0)) return false;
    return Math.min(...group.members.keys()) === broker_id;
  }

  /** Replaces the group's topics with the registered ones. */
  private applyTopics(group: Group, configs: readonly TopicConfig[], changes: RegistryChanges): void {
    const incoming = new Map<string, QueueData>();
    for (const config of configs) {
      incoming.set(config.topic, { brokerName: group.broker_name, readQueues: config.readQueues, writeQueues: config.writeQueues, perm: config.perm });
    }
    for (const topic of group.topics.keys()) {
      if (incoming.has(topic)) continue;
      // The group's broker no longer has the topic (deleted there): withdraw it; a topic
      // no group serves any more by configuration is gone.
      group.topics.delete(topic);
      const state = this.topics.get(topic) as Topic;
      state.groups.delete(group.broker_name);
      changes.route(topic);
      if (state.groups.size === 0) {
        this.topics.delete(topic);
        changes.topic(topic, 'deleted');
      } else {
        changes.topic(topic, 'updated');
      }
    }
    for (const [topic, queue] of incoming) {
      const known = group.topics.get(topic);
      if (known !== undefined && sameQueues(known, queue)) continue;
      group.topics.set(topic, queue);
      let state = this.topics.get(topic);
      if (state === undefined) {
        state = { route_version: 0, groups: new Set() };
        this.topics.set(topic, state);
        changes.topic(topic, 'created');
      } else {
        changes.topic(topic, 'updated');
      }
      state.groups.add(group.broker_name);
      changes.route(topic);
    }
  }

  private removeMember(broker_name: string, broker_id: number, reason: RemovalReason, changes: RegistryChanges): void {
    const group = this.groups.get(broker_name);
    const member = group?.members.get(broker_id);
    if (group === undefined || member === undefined) return;
    group.members.delete(broker_id);
    this.by_address.delete(member.address);
    changes.brokerRemoved(this.facts(group, broker_id, member.address), reason);
    changes.shrunk_groups.add(broker_name);
    this.groupAddressesChanged(group, changes);
    // A master gone for good (not replaced at a new address), or a promoted slave gone before
    // it took over: promote the best slave in sync.
    const master_lost = broker_id === 0 && reason !== 'replaced';
    const candidate_lost = broker_id === group.candidate;
    if (candidate_lost) group.candidate = undefined;
    if ((master_lost || candidate_lost) && !group.members.has(0)) this.elect(group);
  }

  /**
   * Failover: of the slaves the master last reported in sync, the one with the highest
   * CommitLog end becomes the candidate at a new epoch; it learns it from the answer to its
   * next heartbeat and registers as the master. None in sync: no promotion — a slave that
   * never caught up would lose what the master acknowledged, so the group waits for its
   * master (reads go on from the slaves).
   */
  private elect(group: Group): void {
    const in_sync = new Set(group.in_sync_slaves);
    const eligible = [...group.members.values()].filter((member) => member.broker_id !== 0 && in_sync.has(member.broker_id));
    if (eligible.length === 0) return;
    eligible.sort((a, b) => b.max_offset - a.max_offset || a.broker_id - b.broker_id);
    group.epoch += 1;
    group.candidate = (eligible[0] as Member).broker_id;
    group.in_sync_slaves = [];
  }

  private evictWhere(predicate: (member: Member) => boolean, reason: RemovalReason): RegistryEvent[] {
    const changes = new RegistryChanges();
    for (const group of [...this.groups.values()]) {
      for (const member of [...group.members.values()]) {
        if (predicate(member)) this.removeMember(group.broker_name, member.broker_id, reason, changes);
      }
    }
    return this.commit(changes);
  }

  /** Every topic the group serves lists its addresses in its route. */
  private groupAddressesChanged(group: Group, changes: RegistryChanges): void {
    for (const topic of group.topics.keys()) changes.route(topic);
  }

  /**
   * Ends an operation: withdraws groups left without brokers (their topics stay known, with
   * no route from them), bumps the data version, stamps route versions and returns the
   * events with their sequence numbers.
   */
  private commit(changes: RegistryChanges): RegistryEvent[] {
    for (const broker_name of changes.shrunk_groups) {
      const group = this.groups.get(broker_name);
      if (group === undefined || group.members.size > 0) continue;
      for (const topic of group.topics.keys()) {
        this.topics.get(topic)?.groups.delete(broker_name);
        changes.route(topic);
      }
      this.groups.delete(broker_name);
    }
    if (!changes.any) return [];
    this.data_version++;
    const at_ms = this.options.clock.nowMs();
    const events: RegistryEvent[] = [];
    const stamp = (change: RegistryChange): void => {
      events.push({ ...change, seq: ++this.event_seq, at_ms } as RegistryEvent);
    };
    for (const change of changes.broker_events) stamp(change);
    for (const [topic, change] of changes.topic_changes) stamp({ kind: 'topic_changed', topic, change });
    for (const topic of changes.route_changes) {
      const state = this.topics.get(topic);
      if (state !== undefined) state.route_version = this.data_version;
      stamp({ kind: 'route_changed', topic, route_version: this.data_version, broker_names: state === undefined ? [] : [...state.groups].sort() });
    }
    return events;
  }

  // ---- helpers --------------------------------------------------------------------------

  private now(): { heard_monotonic_ms: number; heard_wall_ms: number } {
    return { heard_monotonic_ms: this.options.clock.monotonicMs(), heard_wall_ms: this.options.clock.nowMs() };
  }

  private facts(group: Group, broker_id: number, address: string): { cluster: string; broker_name: string; broker_id: number; address: string } {
    return { cluster: group.cluster, broker_name: group.broker_name, broker_id, address };
  }

  /**
   * The answer to a registration or heartbeat: for a slave, where its master is (to
   * replicate from); for the master, or the slave promoted to be it, `master: true`.
   */
  private masterView(group: Group, broker_id: number): RegisterBrokerResponse {
    const is_master = broker_id === Number(master_broker_id) || broker_id === group.candidate;
    const master = is_master ? undefined : group.members.get(Number(master_broker_id));
    return {
      masterAddress: master?.address ?? null,
      masterHaAddress: master !== undefined && hasHaAddress(master.ha_address) ? master.ha_address : null,
      epoch: group.epoch,
      master: is_master,
    };
  }
}

/**
 * Whether the broker at `address` is the group's registered master, and so leads its epoch:
 * a registration in flight from before its answer may still carry the older epoch.
 */
function isLeader(group: Group | undefined, address: string): boolean {
  return group?.members.get(Number(master_broker_id))?.address === address;
}

function sameQueues(a: QueueData, b: QueueData): boolean {
  return a.readQueues === b.readQueues && a.writeQueues === b.writeQueues && a.perm === b.perm;
}

function topicNotFound(topic: string): MqError {
  return new MqError('TOPIC_NOT_FOUND', `topic '${topic}' is not known to this nameserver; create it on a broker (mq-node admin topic create), or send with auto-create on`);
}
