import { MqError } from '../../runtime/errors.js';
import { ConnectionPool, type PoolLease } from '../connection_pool.js';
import { NamesrvClient } from '../namesrv_client.js';
import { RouteCache } from '../route_cache.js';
import { client_limits } from '../client_options.js';
import type { TopicRoute } from '../topic_route.js';
import type { QueueStats } from './assigned_queue.js';
import type { BrokerLink } from './broker_link.js';
import { ConsumerEvents, type ConsumerEventListener } from './consumer_events.js';
import { resolveConsumerOptions, type ConsumerOptions, type ResolvedConsumerOptions, type ResolvedSubscription } from './consumer_options.js';
import type { MessageListener } from './delivery.js';
import { GroupMembership } from './group_membership.js';
import { ListenerDispatcher } from './listener_dispatcher.js';
import { LocalOffsetStore } from './local_offset_store.js';
import type { MessageQueue } from './message_queue.js';
import type { OffsetStore } from './offset_store.js';
import { allocateQueues, allocationStrategy } from './queue_allocation.js';
import { QueueAssignment } from './queue_assignment.js';
import { RemoteOffsetStore } from './remote_offset_store.js';

export const consumer_runtime_limits = {
  /** Offset commits and other small requests to brokers. */
  request_timeout_ms: 3_000,
  /** A route change or a reconnect asks for a rebalance this soon (changes come in bursts). */
  rebalance_soon_ms: 50,
  /**
   * A queue newly allocated in a group of several members is taken after this many rebalance
   * intervals (queue_assignment.ts, handover delay), i.e. at this member's second tick from
   * then: the previous owner has had a whole tick, plus half an interval of margin for timer
   * jitter and its drain and commit, to let go first.
   */
  take_delay_intervals: 1.5,
} as const;

type ConsumerState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/** Groups with a started consumer, per client id: one client id is one member of a group. */
const started_groups = new Set<string>();

/**
 * A push-style consumer (contract.md): pulls with long polling from the queues its group
 * assigns it and runs `onMessage`'s listener on each message, acking it when the listener
 * resolves. A message whose listener throws or returns 'RETRY' is handled by mode:
 *
 * - clustering (default): each queue to one member; members rebalance on a timer
 *   (`rebalanceIntervalMs`: heartbeat to the brokers, read the member list, allocate). Offsets
 *   live on the brokers, shared by the group. A failed message is sent back to its broker
 *   (CONSUMER_SEND_BACK), which stores a copy in the group's retry topic `%RETRY%<group>`,
 *   redelivered after a delay that grows with each attempt, or, once it was consumed
 *   `maxReconsumeTimes` times, in the dead-letter topic `%DLQ%<group>` (`Admin.deadLetters`,
 *   `Admin.resendDeadLetter`); the failed message is acked once the broker holds the copy
 *   (event 'sent-back'). While the broker cannot take it, it stays un-acked, is redelivered
 *   locally after a backoff and sent back at its next failure. Every clustering consumer
 *   subscribes to its group's retry topic by itself; retried messages reach the listener
 *   under their first topic (`properties.ORIGIN_TOPIC`).
 * - orderly (`orderly: true`, clustering): a failed message is retried locally before the
 *   next one of its queue, `maxReconsumeTimes` times, then dead-lettered and acked.
 * - broadcasting: every member consumes every queue; offsets live in a local file per member
 *   (`offsetDir`/<group>/<instanceName>.json), so give each member on one host its own
 *   instanceName. A failed message is redelivered locally, and after `maxReconsumeTimes`
 *   failures given up on (event 'gave-up').
 *
 * Delivery is at-least-once: an offset is committed only below every unfinished message,
 * periodically (`commitIntervalMs`), when a queue is handed over and on shutdown. Members of
 * one group in one process need distinct `instanceName`s (the broker tells members apart by
 * client id, which is per instance).
 *
 * Runs on the user's thread: every part is driven by timers, socket replies and listener
 * promises; nothing blocks and nothing is shared with other threads.
 */
export class Consumer {
  private readonly options: ResolvedConsumerOptions;
  private readonly events = new ConsumerEvents();
  private listener: MessageListener | undefined;
  private state: ConsumerState = 'new';
  private lease: PoolLease | undefined;
  private routes: RouteCache | undefined;
  private offsets: OffsetStore | undefined;
  private dispatcher: ListenerDispatcher | undefined;
  private assignment: QueueAssignment | undefined;
  private membership: GroupMembership | undefined;
  private rebalance_timer: NodeJS.Timeout | undefined;
  private commit_timer: NodeJS.Timeout | undefined;
  private soon_timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private committing: Promise<void> | undefined;
  private registered_key: string | undefined;
  private starting: Promise<void> | undefined;
  private stop_requested = false;

  constructor(options: ConsumerOptions) {
    this.options = resolveConsumerOptions(options);
  }

  /**
   * The listener; set it before `start()`. Resolve: acked. Throw or 'RETRY': redelivered
   * later, through the group's retry topic (clustering), by local retries (orderly and
   * broadcasting); after `maxReconsumeTimes` attempts dead-lettered (clustering) or given up
   * on (broadcasting). `m.reconsumeTimes` counts the attempts before this one.
   */
  onMessage(listener: MessageListener): this {
    if (typeof listener !== 'function') throw new MqError('BAD_REQUEST', 'onMessage needs a function: c.onMessage(async (m) => { ... })');
    if (this.state !== 'new') throw new MqError('BAD_REQUEST', 'onMessage must be called before start()');
    this.listener = listener;
    return this;
  }

  /** Rebalances, commits, releases, sent-back and given-up messages, as they happen (consumer_events.ts). */
  onEvent(listener: ConsumerEventListener): this {
    this.events.on(listener);
    return this;
  }

  /** What brokers know this member by; empty before `start()`. */
  get clientId(): string {
    return this.lease?.client_id ?? '';
  }

  /** The queues this member consumes now, sorted. */
  assignedQueues(): MessageQueue[] {
    return this.assignment?.queues() ?? [];
  }

  /** Counters of every owned queue and of the listener (monitoring, tests). */
  stats(): { queues: QueueStats[]; listenerRunning: number; queuesWaitingForHandover: number } {
    return {
      queues: this.assignment?.active().map((owned) => owned.stats()) ?? [],
      listenerRunning: this.dispatcher?.runningCount ?? 0,
      queuesWaitingForHandover: this.assignment?.pendingCount() ?? 0,
    };
  }

  /**
   * Connects, joins the group and takes this member's queues. Rejects when no nameserver
   * answers; a topic the nameserver does not know yet is waited for (a warning is logged)
   * and consumed once it appears.
   */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new MqError('BAD_REQUEST', `start() was called already (the consumer is ${this.state}); create a new Consumer to start again`);
    const listener = this.listener;
    if (listener === undefined) throw new MqError('BAD_REQUEST', 'call onMessage(listener) before start()');
    this.state = 'starting';
    this.starting = this.startWith(listener);
    return this.starting;
  }

  private async startWith(listener: MessageListener): Promise<void> {
    const options = this.options;
    const lease = ConnectionPool.lease({ instance_name: options.instance_name, clock: options.clock, random: options.random, owner: 'consumer', tls: options.tls, credentials: options.credentials });
    this.lease = lease;
    try {
      const key = `${lease.client_id}\u0000${options.group}`;
      if (started_groups.has(key)) {
        throw new MqError('BAD_REQUEST', `a consumer of group ${options.group} already runs with instanceName '${options.instance_name}' in this process; give each member its own instanceName`);
      }
      started_groups.add(key);
      this.registered_key = key;
      const link = this.brokerLink(lease);
      this.routes = new RouteCache(new NamesrvClient(lease, options.namesrv_addresses, client_limits.request_timeout_ms_default), lease, { clock: options.clock, provisional_routes: false });
      this.routes.onChange(() => this.rebalanceSoon());
      this.routes.start();
      lease.onConnect(() => this.rebalanceSoon()); // a reconnect: heartbeat again at once
      this.offsets = options.mode === 'broadcasting'
        ? new LocalOffsetStore(options.offset_dir, options.group, options.instance_name)
        : new RemoteOffsetStore({ group: options.group, link, timeout_ms: consumer_runtime_limits.request_timeout_ms, logger: options.logger });
      await this.offsets.open();
      this.checkStillStarting();
      this.membership = new GroupMembership(lease.client_id, options, link, () => this.assignment?.queues() ?? []);
      const dispatcher = new ListenerDispatcher(options.concurrency, listener);
      this.dispatcher = dispatcher;
      const routes = this.routes;
      this.assignment = new QueueAssignment({
        options,
        link,
        offsets: this.offsets,
        events: this.events,
        ready: (queue) => dispatcher.notify(queue),
        brokerFailed: (queue) => routes.refreshSoon(queue.topic),
      });
      await this.checkNamesrv();
      this.checkStillStarting();
      this.state = 'running';
      // Timers first: a shutdown() during the first rebalance clears them.
      this.rebalance_timer = setInterval(() => void this.rebalance(), options.rebalance_interval_ms);
      this.commit_timer = setInterval(() => void this.commit(), options.commit_interval_ms);
      await this.rebalance();
    } catch (error) {
      await this.close();
      this.state = 'stopped';
      throw error;
    }
  }

  /**
   * Stops pulling, lets the listener calls finish (up to `drainTimeoutMs`), commits every
   * queue's offset and leaves the group. Idempotent.
   */
  async shutdown(): Promise<void> {
    if (this.state === 'new') {
      this.state = 'stopped';
      return;
    }
    if (this.state === 'starting') {
      this.stop_requested = true;
      await this.starting?.catch(() => undefined); // it stops at its next step and cleans up
    }
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.state = 'stopping';
    clearInterval(this.rebalance_timer);
    clearInterval(this.commit_timer);
    clearTimeout(this.soon_timer);
    await this.ticking;
    await this.committing;
    await this.assignment?.releaseAll();
    // Offsets are committed: leave the group, so the others take its queues now.
    await this.membership?.leave();
    await this.close();
    this.state = 'stopped';
  }

  private checkStillStarting(): void {
    if (this.stop_requested) throw new MqError('SHUTTING_DOWN', 'shutdown() was called while the consumer was starting', { retriable: false });
  }

  private async close(): Promise<void> {
    this.dispatcher?.stop();
    try {
      await this.offsets?.close();
    } finally {
      this.routes?.close();
      this.lease?.close();
      if (this.registered_key !== undefined) started_groups.delete(this.registered_key);
      this.registered_key = undefined;
    }
  }

  /** Fails start() early when no nameserver answers at all (a wrong address, most often). */
  private async checkNamesrv(): Promise<void> {
    const routes = this.routes as RouteCache;
    const results = await Promise.allSettled(this.options.subscriptions.map((subscription) => routes.route(subscription.topic)));
    const errors = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
    const answered = errors.length < results.length || errors.some((error) => error instanceof MqError && (error.code === 'TOPIC_NOT_FOUND' || error.code === 'NO_ROUTE'));
    if (!answered) throw errors[0];
  }

  private brokerLink(lease: PoolLease): BrokerLink {
    return {
      request: (broker_name, code, body, timeout_ms) => {
        const address = this.readerAddress(broker_name);
        if (address === undefined) {
          return Promise.reject(new MqError('NO_ROUTE', `broker group ${broker_name} has no broker in the routes of this consumer's topics; waiting for the nameserver to list one`));
        }
        return lease.request(address, code, body, { timeout_ms });
      },
    };
  }

  /** The group's master, or while it has none one of its slaves (topic_route.ts `readers`). */
  private readerAddress(broker_name: string): string | undefined {
    for (const subscription of this.options.subscriptions) {
      const address = this.routes?.cached(subscription.topic)?.readers.get(broker_name);
      if (address !== undefined) return address;
    }
    return undefined;
  }

  private rebalanceSoon(): void {
    if (this.state !== 'running' || this.soon_timer !== undefined) return;
    this.soon_timer = setTimeout(() => {
      this.soon_timer = undefined;
      void this.rebalance();
    }, consumer_runtime_limits.rebalance_soon_ms);
  }

  /** One tick: heartbeat, member list, allocation per topic. Ticks never overlap. */
  private rebalance(): Promise<void> {
    if (this.state !== 'running') return Promise.resolve();
    this.ticking ??= this.rebalanceOnce().finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private async rebalanceOnce(): Promise<void> {
    const now_ms = this.options.clock.monotonicMs();
    const routes = new Map<string, TopicRoute | undefined | null>();
    for (const subscription of this.options.subscriptions) routes.set(subscription.topic, await this.routeOf(subscription.topic));
    const brokers = new Set<string>();
    for (const route of routes.values()) for (const broker_name of route?.masters.keys() ?? []) brokers.add(broker_name);
    const heard = await (this.membership as GroupMembership).heartbeat([...brokers]);
    if (this.state !== 'running') return;
    let changed = false;
    for (const subscription of this.options.subscriptions) {
      const route = routes.get(subscription.topic);
      if (route === null) continue; // the nameserver did not answer: keep the queues we have
      const target = await this.targetQueues(subscription, route, heard);
      if (this.state !== 'running') return;
      if (target === undefined) continue;
      changed = (this.assignment as QueueAssignment).apply(subscription.topic, target.queues, subscription.tags, now_ms, target.take_delay_ms) || changed;
    }
    if (changed) this.events.emit({ kind: 'assigned', queues: this.assignedQueues() });
  }

  /** The topic's route; undefined when it has none (no such topic); null when unknown now. */
  private async routeOf(topic: string): Promise<TopicRoute | undefined | null> {
    try {
      return await (this.routes as RouteCache).route(topic);
    } catch (error) {
      if (error instanceof MqError && (error.code === 'TOPIC_NOT_FOUND' || error.code === 'NO_ROUTE')) {
        // The brokers create the group's retry topic on this member's heartbeats and register
        // it a moment later: its absence is expected for a while, not worth a warning a tick.
        const retry = this.options.subscriptions.some((subscription) => subscription.retry && subscription.topic === topic);
        const log = retry ? this.options.logger.debug?.bind(this.options.logger) : this.options.logger.warn.bind(this.options.logger);
        log?.(`no route: topic ${topic} is not known to the nameserver yet; consumed once it is`);
        return undefined;
      }
      this.options.logger.warn(`route lookup failed: topic ${topic}: ${error instanceof Error ? error.message : String(error)}`);
      return null;
    }
  }

  /**
   * The queues of the topic this member should own and how long a newly allocated one waits
   * before it is taken; undefined to keep what it has (the inputs are unknown this tick).
   */
  private async targetQueues(subscription: ResolvedSubscription, route: TopicRoute | undefined, heard: Set<string>): Promise<{ queues: MessageQueue[]; take_delay_ms: number } | undefined> {
    if (route === undefined) return { queues: [], take_delay_ms: 0 };
    const queues = route.readQueues.filter((queue) => route.masters.has(queue.brokerName));
    if (this.options.mode === 'broadcasting') return { queues, take_delay_ms: 0 };
    const asked = [...route.masters.keys()].filter((broker_name) => heard.has(broker_name));
    const members = await (this.membership as GroupMembership).members(asked);
    if (members === undefined) return undefined;
    const me = this.clientId;
    if (!members.includes(me)) {
      // A broker that lost this member (a dropped connection) lists it again after the next
      // heartbeat; releasing everything meanwhile would only make the group flap.
      this.options.logger.warn(`not in the member list: group ${this.options.group} on topic ${subscription.topic} does not list ${me} yet; keeping the current queues`);
      return undefined;
    }
    // Alone in the group, no one else can hold the queues: no handover to wait for.
    const take_delay_ms = members.length === 1 ? 0 : this.options.rebalance_interval_ms * consumer_runtime_limits.take_delay_intervals;
    return { queues: allocateQueues(allocationStrategy(this.options.allocation), me, members, queues), take_delay_ms };
  }

  /** Commits every owned queue's offset that moved since the last commit. */
  private commit(): Promise<void> {
    if (this.state !== 'running') return Promise.resolve();
    this.committing ??= this.commitOnce().finally(() => (this.committing = undefined));
    return this.committing;
  }

  private async commitOnce(): Promise<void> {
    const offsets = this.offsets as OffsetStore;
    for (const owned of (this.assignment as QueueAssignment).active()) {
      const offset = owned.committable();
      if (offset !== undefined && owned.active) offsets.update(owned.queue, offset);
    }
    try {
      const committed = await offsets.persist();
      if (committed.length > 0) this.events.emit({ kind: 'committed', offsets: committed });
    } catch (error) {
      this.options.logger.warn(`offset commit failed: group ${this.options.group}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
