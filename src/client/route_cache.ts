import {
  decodeClusterInfo,
  decodeRouteChangedNotification,
  decodeTopicRouteData,
  encodeGetClusterInfoRequest,
  encodeGetRouteRequest,
  encodeSubscribeRouteRequest,
  request_codes,
  type ClusterInfo,
} from '../protocol/index.js';
import type { Clock } from '../runtime/clock.js';
import { MqError } from '../runtime/errors.js';
import { client_limits } from './client_options.js';
import type { PoolLease } from './connection_pool.js';
import type { NamesrvClient } from './namesrv_client.js';
import { provisionalRouteOf, topicRouteOf, type TopicRoute } from './topic_route.js';

export const route_cache_limits = {
  refresh_interval_ms: client_limits.route_refresh_interval_ms,
  /**
   * A topic's route is fetched at most this often on demand: a burst of failed sends asks
   * for one refresh, not thousands.
   */
  refresh_interval_ms_min: 100,
  /** A provisional route (topic not yet known to the nameserver) is re-checked this often. */
  provisional_ttl_ms: 500,
  /** Topics one cache holds; more means a user sends to unbounded topic names. */
  topics_max: 100_000,
  /** Topics per SUBSCRIBE_ROUTE request. */
  subscribe_batch_max: 1_000,
} as const;

export type RouteListener = (topic: string, route: TopicRoute | undefined) => void;

interface Entry {
  route: TopicRoute;
  /** Monotonic ms of the fetch. */
  fetched_ms: number;
}

export interface RouteCacheOptions {
  clock: Clock;
  /** Producers: a topic the nameserver does not know gets a provisional route (auto-create). */
  provisional_routes: boolean;
  refresh_interval_ms?: number;
}

/**
 * Topic routes from the nameservers (any that answers), cached. A cached route is refreshed
 * every 30 s, at once when a user of the route reports a routing error (`refreshSoon`), and
 * when the nameserver pushes ROUTE_CHANGED for it (the cache subscribes each topic it holds
 * on the connection to the nameserver it asks; a reconnect subscribes again). Concurrent
 * fetches of one topic share one request.
 *
 * A refresh that fails keeps the old route: a stale route to live brokers beats none. A
 * refresh that says the topic has no route (TOPIC_NOT_FOUND, NO_ROUTE) drops it, and the
 * next `route()` asks again and reports the error.
 *
 * Runs on the user's thread; listeners are called synchronously after each change.
 */
export class RouteCache {
  private readonly entries = new Map<string, Entry>();
  private readonly fetching = new Map<string, Promise<TopicRoute>>();
  private readonly listeners: RouteListener[] = [];
  /** Per nameserver address: the topics subscribed on the current connection to it. */
  private readonly subscribed = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly namesrv: NamesrvClient,
    private readonly lease: PoolLease,
    private readonly options: RouteCacheOptions,
  ) {
    lease.onPush((_address, push) => {
      if (push.code !== request_codes.ROUTE_CHANGED) return;
      const notice = decodeRouteChangedNotification(push.body);
      if (!notice.ok) return;
      const entry = this.entries.get(notice.value.topic);
      if (entry !== undefined && notice.value.routeVersion !== entry.route.routeVersion) this.refreshSoon(notice.value.topic, { bypass_interval: true });
    });
    // Subscriptions live as long as the connection: a reconnect subscribes everything again.
    lease.onDisconnect((address) => this.subscribed.delete(address));
    lease.onConnect((address) => {
      if (address !== this.namesrv.current_address || this.closed) return;
      const topics = [...this.entries.values()].filter((entry) => !entry.route.provisional).map((entry) => entry.route.topic);
      for (let at = 0; at < topics.length; at += route_cache_limits.subscribe_batch_max) {
        this.subscribe(address, topics.slice(at, at + route_cache_limits.subscribe_batch_max));
      }
    });
  }

  /** Starts the periodic refresh (the timer does not keep the process alive). */
  start(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setInterval(() => this.refreshAll(), this.options.refresh_interval_ms ?? route_cache_limits.refresh_interval_ms);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  onChange(listener: RouteListener): void {
    this.listeners.push(listener);
  }

  /** The cached route, if any, without asking anyone. */
  cached(topic: string): TopicRoute | undefined {
    return this.entries.get(topic)?.route;
  }

  topics(): string[] {
    return [...this.entries.keys()].sort();
  }

  /** The topic's route: cached when fresh enough, else fetched (shared with concurrent callers). */
  route(topic: string): Promise<TopicRoute> {
    const entry = this.entries.get(topic);
    if (entry !== undefined && !(entry.route.provisional && this.ageMs(entry) >= route_cache_limits.provisional_ttl_ms)) {
      return Promise.resolve(entry.route);
    }
    return this.fetch(topic);
  }

  /** Fetches now (unless a fetch is under way, or one finished within the minimum interval). */
  refresh(topic: string, options: { bypass_interval?: boolean } = {}): Promise<TopicRoute> {
    const entry = this.entries.get(topic);
    if (entry !== undefined && options.bypass_interval !== true && this.ageMs(entry) < route_cache_limits.refresh_interval_ms_min) {
      return Promise.resolve(entry.route);
    }
    return this.fetch(topic);
  }

  /** `refresh` without waiting; a failure keeps the old route (the next use reports it). */
  refreshSoon(topic: string, options: { bypass_interval?: boolean } = {}): void {
    if (this.closed) return;
    this.refresh(topic, options).catch(() => undefined);
  }

  private refreshAll(): void {
    for (const topic of this.entries.keys()) this.refreshSoon(topic, { bypass_interval: true });
  }

  private fetch(topic: string): Promise<TopicRoute> {
    if (this.closed) return Promise.reject(new MqError('SHUTTING_DOWN', 'this client is shut down; create a new one', { retriable: false }));
    let fetching = this.fetching.get(topic);
    if (fetching === undefined) {
      fetching = this.fetchFromNamesrv(topic).finally(() => this.fetching.delete(topic));
      this.fetching.set(topic, fetching);
    }
    return fetching;
  }

  private async fetchFromNamesrv(topic: string): Promise<TopicRoute> {
    let route: TopicRoute;
    try {
      const reply = decodeTopicRouteData(await this.namesrv.request(request_codes.GET_ROUTE, encodeGetRouteRequest({ topic })));
      if (!reply.ok) throw new MqError('INTERNAL', `unreadable route of topic '${topic}' from the nameserver: ${reply.error.message}`);
      route = topicRouteOf(reply.value);
    } catch (error) {
      if (!(error instanceof MqError)) throw error;
      if (error.code === 'TOPIC_NOT_FOUND' && this.options.provisional_routes) {
        route = provisionalRouteOf(topic, await this.clusterInfo());
        if (route.writeQueues.length === 0) throw new MqError('NO_ROUTE', `topic '${topic}' is unknown and no master broker is registered with the nameserver; start a broker, then retry`);
      } else {
        if (error.code === 'TOPIC_NOT_FOUND' || error.code === 'NO_ROUTE') this.drop(topic);
        throw error;
      }
    }
    this.store(topic, route);
    return route;
  }

  private async clusterInfo(): Promise<ClusterInfo> {
    const answer = await this.namesrv.requestVersioned(request_codes.GET_CLUSTER_INFO, encodeGetClusterInfoRequest({}));
    const reply = decodeClusterInfo(answer.body, answer.protocol_version);
    if (!reply.ok) throw new MqError('INTERNAL', `unreadable cluster info from the nameserver: ${reply.error.message}`);
    return reply.value;
  }

  private store(topic: string, route: TopicRoute): void {
    if (this.closed) return;
    const previous = this.entries.get(topic);
    if (previous === undefined && this.entries.size >= route_cache_limits.topics_max) {
      throw new MqError('BUSY', `this client holds routes of ${this.entries.size} topics already; use fewer topic names`);
    }
    this.entries.set(topic, { route, fetched_ms: this.options.clock.monotonicMs() });
    if (!route.provisional) this.subscribe(this.namesrv.current_address, [topic]);
    if (previous === undefined || previous.route.routeVersion !== route.routeVersion || previous.route.provisional !== route.provisional) {
      this.notify(topic, route);
    }
  }

  private drop(topic: string): void {
    if (this.entries.delete(topic)) this.notify(topic, undefined);
  }

  /**
   * Asks the nameserver at `address` to push ROUTE_CHANGED for these topics. Best effort: a
   * nameserver without the route-notifications plugin refuses, and polling still refreshes.
   */
  private subscribe(address: string, topics: readonly string[]): void {
    let done = this.subscribed.get(address);
    if (done === undefined) {
      done = new Set();
      this.subscribed.set(address, done);
    }
    const fresh = topics.filter((topic) => !(done as Set<string>).has(topic));
    if (fresh.length === 0) return;
    for (const topic of fresh) done.add(topic);
    this.lease
      .request(address, request_codes.SUBSCRIBE_ROUTE, encodeSubscribeRouteRequest({ topics: fresh }), { timeout_ms: client_limits.request_timeout_ms_default })
      .catch(() => {
        for (const topic of fresh) this.subscribed.get(address)?.delete(topic);
      });
  }

  private notify(topic: string, route: TopicRoute | undefined): void {
    for (const listener of this.listeners) {
      try {
        listener(topic, route);
      } catch {
        // A listener's failure is its own; the cache and the other listeners go on.
      }
    }
  }

  private ageMs(entry: Entry): number {
    return this.options.clock.monotonicMs() - entry.fetched_ms;
  }
}
