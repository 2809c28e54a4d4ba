import { grpc_limits } from './grpc_limits.js';
import { GrpcStatusError } from './grpc_status.js';
import { ClientType, Code } from './grpc_types.js';

/** One RocketMQ 5 client instance as the endpoint knows it (by x-mq-client-id). */
export interface GrpcClient {
  client_id: string;
  /** ClientType (grpc_types.ts); CLIENT_TYPE_UNSPECIFIED until it says. */
  client_type: number;
  /** A consumer's group ('' for a producer). */
  group: string;
  /** Topics a producer publishes to, or a consumer subscribes to, from its Settings. */
  topics: string[];
  /** The signing account (access control on), or ''. */
  account: string;
  remote_ip: string;
  last_seen_ms: number;
}

/** What a Heartbeat or a telemetry Settings says about a client. */
export interface ClientSighting {
  client_type?: number;
  group?: string;
  topics?: string[];
  account: string;
  remote_ip: string;
}

/**
 * The RocketMQ 5 clients that heartbeat (every 10 s) or hold a telemetry stream: which
 * consumers a group has and which producers publish a topic (the transaction check-back). Bounded: a client silent for `client_expiry_ms` is forgotten, and when
 * the table is full the least recently seen goes. A Map keeps insertion order, so moving a
 * client to the end on every sighting makes the first entry the least recently seen.
 *
 * Owned by the main thread; no concurrency.
 */
export class GrpcClients {
  private readonly clients = new Map<string, GrpcClient>();

  constructor(
    private readonly clients_max: number = grpc_limits.clients_max,
    private readonly expiry_ms: number = grpc_limits.client_expiry_ms,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  /**
   * Records that `client_id` is alive, with what it said about itself. A client id belongs to
   * the account that first used it while it lives: another account naming it (to take over a
   * producer's check-backs, or to drop its entry) is refused with FORBIDDEN.
   */
  seen(client_id: string, sighting: ClientSighting, now_ms: number): GrpcClient {
    this.expire(now_ms);
    const known = this.clients.get(client_id);
    if (known !== undefined && known.account !== sighting.account) {
      throw new GrpcStatusError(Code.FORBIDDEN, `client id ${client_id.slice(0, grpc_limits.client_id_chars_max)} is in use by another account; every client instance has its own id`);
    }
    const client: GrpcClient = {
      client_id,
      client_type: sighting.client_type !== undefined && sighting.client_type !== ClientType.CLIENT_TYPE_UNSPECIFIED ? sighting.client_type : known?.client_type ?? ClientType.CLIENT_TYPE_UNSPECIFIED,
      group: sighting.group !== undefined && sighting.group !== '' ? sighting.group : known?.group ?? '',
      topics: sighting.topics ?? known?.topics ?? [],
      account: sighting.account,
      remote_ip: sighting.remote_ip,
      last_seen_ms: now_ms,
    };
    this.clients.delete(client_id);
    if (this.clients.size >= this.clients_max) {
      const oldest = this.clients.keys().next();
      if (oldest.done !== true) this.clients.delete(oldest.value);
    }
    this.clients.set(client_id, client);
    return client;
  }

  /** Forgets `client_id` when `account` is the one it belongs to. */
  forget(client_id: string, account: string): boolean {
    if (this.clients.get(client_id)?.account !== account) return false;
    return this.clients.delete(client_id);
  }

  get(client_id: string): GrpcClient | undefined {
    return this.clients.get(client_id);
  }

  /** The live consumers of a group. */
  consumersOf(group: string): GrpcClient[] {
    return [...this.clients.values()].filter((client) => client.group === group && client.client_type !== ClientType.PRODUCER);
  }

  /** The live producers that publish `topic`. */
  producersOf(topic: string): GrpcClient[] {
    return [...this.clients.values()].filter((client) => client.client_type === ClientType.PRODUCER && client.topics.includes(topic));
  }

  /** Drops clients not seen within the expiry (the oldest are first). */
  private expire(now_ms: number): void {
    for (const [client_id, client] of this.clients) {
      if (now_ms - client.last_seen_ms <= this.expiry_ms) break;
      this.clients.delete(client_id);
    }
  }
}
