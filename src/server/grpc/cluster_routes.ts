import type { PoolLease } from '../../client/connection_pool.js';
import type { NamesrvClient } from '../../client/namesrv_client.js';
import {
  decodeBrokerEndpoints,
  decodeTopicRouteData,
  encodeGetBrokerEndpointsRequest,
  encodeGetRouteRequest,
  master_broker_id,
  request_codes,
  type TopicRouteData,
} from '../../protocol/index.js';
import type { Clock } from '../../runtime/clock.js';
import { MqError } from '../../runtime/errors.js';
import { LogThrottle } from '../../runtime/log_throttle.js';
import { parseHostPort } from '../config_values.js';
import type { Logger } from '../../runtime/log.js';

export const cluster_routes_limits = {
  /** One nameserver or broker request: a QueryRoute waits for it at most this long. */
  request_timeout_ms: 2_000,
  /** How long a master's gRPC address is trusted before it is asked again. */
  endpoints_ttl_ms: 30_000,
  /** How long "this master serves no gRPC endpoint (or did not answer)" is kept. */
  endpoints_unknown_ttl_ms: 5_000,
  /** Masters whose endpoints are kept; more clears the cache (a cluster has far fewer). */
  endpoints_cached_max: 1_024,
} as const;

/** Another master serving a topic, as a RocketMQ 5 route lists it. */
export interface PeerBroker {
  broker_name: string;
  /** The topic's permission bits on that group (route.ts perm_*). */
  perm: number;
  /** Its gRPC endpoint. */
  grpc: { host: string; port: number };
}

interface CachedEndpoints {
  /** The master's gRPC endpoint, or null when it serves none or could not be asked. */
  grpc: { host: string; port: number } | null;
  expires_ms: number;
}

export interface ClusterRoutesOptions {
  /** This broker's group: it is described from its own tables, not from the nameserver. */
  self_name: string;
  namesrv: NamesrvClient;
  /** Connections to the other masters (signed and TLS as the node's own). */
  lease: PoolLease;
  clock: Clock;
  log: Logger;
}

/**
 * The other masters of the cluster that serve a topic, with their gRPC endpoints: what a
 * RocketMQ 5 QueryRoute answers besides this broker (query_route.ts), so an official client
 * given one broker's endpoint spreads over every master, and keeps working when one is gone.
 *
 * The topic's route comes from the nameserver (GET_ROUTE), which names each group's master by
 * its client-port address. The master's gRPC address is asked of the master itself
 * (GET_BROKER_ENDPOINTS, protocol version 3) and cached: 30 s when known, 5 s when it has
 * none or did not answer. A master of an older version, one that does not answer, or one
 * whose answer names another group (after a failover another broker may listen there) is
 * left out of the route rather than failing it; so is a group without a master (slaves serve
 * no RocketMQ 5 client). A nameserver that cannot be asked leaves only this broker.
 *
 * Runs on the main thread.
 */
export class ClusterRoutes {
  private readonly cached = new Map<string, CachedEndpoints>();
  private readonly asking = new Map<string, Promise<CachedEndpoints>>();
  private readonly throttle: LogThrottle;

  constructor(private readonly options: ClusterRoutesOptions) {
    this.throttle = new LogThrottle({ interval_ms: 60_000, keys_max: 1_024, clock: options.clock });
  }

  /**
   * The masters serving `topic` other than this broker's group — or, on a slave
   * (`own_group`), its own group's master too, as a slave takes no client. `others_hold`:
   * the route lists another group (whether or not its endpoint is known); undefined when the
   * nameserver could not be asked.
   */
  async peersOf(topic: string, options: { own_group?: boolean } = {}): Promise<{ peers: PeerBroker[]; others_hold: boolean | undefined }> {
    const route = await this.routeOf(topic);
    if (route === 'unknown') return { peers: [], others_hold: undefined };
    if (route === undefined) return { peers: [], others_hold: false };
    const listed = route.brokers.filter((broker) => options.own_group === true || broker.brokerName !== this.options.self_name);
    const peers = await Promise.all(listed.map(async (broker): Promise<PeerBroker | undefined> => {
      const master = broker.addresses[master_broker_id];
      const queues = route.queues.find((queue) => queue.brokerName === broker.brokerName);
      if (master === undefined || queues === undefined) return undefined;
      const endpoints = await this.endpointsOf(master, broker.brokerName);
      return endpoints.grpc === null ? undefined : { broker_name: broker.brokerName, perm: queues.perm, grpc: endpoints.grpc };
    }));
    return { peers: peers.filter((peer): peer is PeerBroker => peer !== undefined), others_hold: route.brokers.some((broker) => broker.brokerName !== this.options.self_name) };
  }

  close(): void {
    this.options.lease.close();
  }

  /** The topic's route; undefined when the nameserver knows no such topic, 'unknown' when it could not be asked. */
  private async routeOf(topic: string): Promise<TopicRouteData | undefined | 'unknown'> {
    try {
      const reply = await this.options.namesrv.request(request_codes.GET_ROUTE, encodeGetRouteRequest({ topic }));
      const route = decodeTopicRouteData(reply);
      if (!route.ok) throw new MqError('INTERNAL', `unreadable GET_ROUTE answer: ${route.error.message}`);
      return route.value;
    } catch (error) {
      if (error instanceof MqError && (error.code === 'TOPIC_NOT_FOUND' || error.code === 'NO_ROUTE')) return undefined;
      if (this.throttle.allow('namesrv')) {
        this.options.log.warn({ err: error, topic }, 'RocketMQ 5 route: the nameserver could not be asked; answering with this broker only');
      }
      return 'unknown';
    }
  }

  /** The master's endpoints, from the cache or asked once however many routes wait for them. */
  private endpointsOf(address: string, broker_name: string): Promise<CachedEndpoints> {
    const key = `${broker_name}@${address}`;
    const cached = this.cached.get(key);
    if (cached !== undefined && cached.expires_ms > this.options.clock.monotonicMs()) return Promise.resolve(cached);
    const asked = this.asking.get(key);
    if (asked !== undefined) return asked;
    const asking = this.ask(address, broker_name).then((grpc) => {
      const entry = { grpc, expires_ms: this.options.clock.monotonicMs() + (grpc === null ? cluster_routes_limits.endpoints_unknown_ttl_ms : cluster_routes_limits.endpoints_ttl_ms) };
      if (this.cached.size >= cluster_routes_limits.endpoints_cached_max) this.cached.clear();
      this.cached.set(key, entry);
      return entry;
    }).finally(() => this.asking.delete(key));
    this.asking.set(key, asking);
    return asking;
  }

  private async ask(address: string, broker_name: string): Promise<{ host: string; port: number } | null> {
    try {
      const reply = decodeBrokerEndpoints(await this.options.lease.request(address, request_codes.GET_BROKER_ENDPOINTS, encodeGetBrokerEndpointsRequest({}), { timeout_ms: cluster_routes_limits.request_timeout_ms }));
      if (!reply.ok) throw new MqError('INTERNAL', `unreadable GET_BROKER_ENDPOINTS answer: ${reply.error.message}`);
      const { brokerName, brokerId, grpcAddress } = reply.value;
      if (brokerName !== broker_name || brokerId !== 0) {
        throw new MqError('NOT_MASTER', `${address} is ${brokerName}/${brokerId} now, not the master of ${broker_name}`);
      }
      return grpcAddress === null ? null : parseHostPort(grpcAddress);
    } catch (error) {
      if (this.throttle.allow(`broker ${broker_name}`)) {
        this.options.log.warn({ err: error, broker: broker_name, address }, 'RocketMQ 5 route: a master\'s gRPC endpoint is unknown; it is left out of routes');
      }
      return null;
    }
  }
}
