import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { Envelope } from '../protocol/index.js';
import { system_clock, type Clock } from '../runtime/clock.js';
import { MqError } from '../runtime/errors.js';
import { instance_name_default } from './client_options.js';
import { ClientConnection, type RequestBody, type VersionedReply } from './remoting/client_connection.js';
import { backoffDelayMs, type BackoffPolicy } from './retry_backoff.js';
import type { TlsDialOptions } from '../tls/tls_dial.js';
import type { Credentials } from './remoting/request_signer.js';

export const connection_pool_limits = {
  /** After a failed connect, the next attempt to that address waits 50..100 ms, doubling to 5 s. */
  reconnect_backoff: { base_ms: 100, max_ms: 5_000 } satisfies BackoffPolicy,
  connect_timeout_ms: 3_000,
  /** Addresses one pool keeps links to; a client that meets more is misconfigured. */
  addresses_max: 1_024,
  /** Requests one lease may have waiting for replies at once (the connection has its own bound). */
  lease_in_flight_max: 65_536,
} as const;

export type PushListener = (address: string, push: Envelope) => void;
export type DisconnectListener = (address: string, error: MqError) => void;
export type ConnectListener = (address: string, connection: ClientConnection) => void;

/** One address: its open connection or the connect under way, and its failure history. */
interface Link {
  connection: ClientConnection | undefined;
  connecting: Promise<ClientConnection> | undefined;
  failures: number;
  /** Monotonic ms before which no new connect is tried (backoff after a failure). */
  retry_at_ms: number;
  last_error: MqError | undefined;
}

interface PendingRequest {
  reject(error: MqError): void;
}

/**
 * The connections of one client instance: one ClientConnection per broker or nameserver
 * address, shared by every SDK object (producers, consumers, admins) with the same instance
 * name in a process. A connection is opened on demand; after it fails or drops, the next
 * demand reconnects, and after a failed connect further attempts wait with backoff and
 * jitter (a demand during the wait is refused at once with a retriable BROKER_UNAVAILABLE,
 * so a producer moves on to another broker instead of waiting).
 *
 * SDK objects do not use the pool directly but a lease (`ConnectionPool.lease`): the lease
 * tracks its own requests, so shutting down one producer rejects its pending requests with
 * SHUTTING_DOWN without disturbing a consumer on the same connections; the pool closes its
 * connections when the last lease is closed.
 *
 * Every connection of a pool uses the pool's TLS (or none): SDK objects that share an
 * instance name must be given the same `tls`, or the second is refused (BAD_REQUEST).
 *
 * Everything runs on the thread of the user's code (the SDK uses no workers); no locks.
 */
export class ConnectionPool {
  private static readonly by_instance = new Map<string, ConnectionPool>();

  readonly client_id: string;
  private readonly links = new Map<string, Link>();
  private readonly leases = new Set<PoolLease>();
  private closed = false;

  /** Digest of what connections are made with (TLS and account): leases must match it. */
  private readonly dial_identity: string;

  private constructor(
    readonly instance_name: string,
    private readonly clock: Clock,
    private readonly random: () => number,
    private readonly tls: TlsDialOptions | undefined,
    private readonly credentials: Credentials | undefined,
  ) {
    this.client_id = `${hostname()}@${process.pid}@${instance_name}`;
    this.dial_identity = dialIdentity(tls, credentials);
  }

  /** A lease on the pool of `instance_name` (created on first use). */
  static lease(options: { instance_name?: string; clock?: Clock; random?: () => number; owner: string; tls?: TlsDialOptions | undefined; credentials?: Credentials | undefined }): PoolLease {
    const instance_name = options.instance_name ?? instance_name_default;
    let pool = ConnectionPool.by_instance.get(instance_name);
    if (pool === undefined) {
      pool = new ConnectionPool(instance_name, options.clock ?? system_clock, options.random ?? Math.random, options.tls, options.credentials);
      ConnectionPool.by_instance.set(instance_name, pool);
    } else if (pool.dial_identity !== dialIdentity(options.tls, options.credentials)) {
      throw new MqError('BAD_REQUEST', `instanceName ${JSON.stringify(instance_name)} is in use by SDK objects with other tls options or another account; they share connections, so give this ${options.owner} another instanceName (or the same tls and keys)`);
    }
    const lease = new PoolLease(pool, options.owner);
    pool.leases.add(lease);
    return lease;
  }

  /** Addresses with an open connection now (tests, diagnostics). */
  openAddresses(): string[] {
    return [...this.links].filter(([, link]) => link.connection?.open === true).map(([address]) => address).sort();
  }

  /** The open connection to `address`, connecting first when there is none. */
  connection(address: string, timeout_ms: number = connection_pool_limits.connect_timeout_ms): Promise<ClientConnection> {
    if (this.closed) return Promise.reject(new MqError('SHUTTING_DOWN', 'this client is shut down; create a new one'));
    const link = this.linkOf(address);
    if (link.connection?.open === true) return Promise.resolve(link.connection);
    if (link.connecting !== undefined) return link.connecting;
    const wait_ms = link.retry_at_ms - this.clock.monotonicMs();
    if (wait_ms > 0) {
      return Promise.reject(new MqError('BROKER_UNAVAILABLE', `${address} is unreachable (${link.last_error?.message ?? 'connect failed'}); the next attempt is in ${Math.ceil(wait_ms)} ms`));
    }
    link.connecting = this.connect(address, link, timeout_ms);
    return link.connecting;
  }

  private async connect(address: string, link: Link, timeout_ms: number): Promise<ClientConnection> {
    let connection: ClientConnection;
    try {
      connection = await ClientConnection.connect(address, { client_id: this.client_id, kind: 'CLIENT', timeout_ms: Math.min(timeout_ms, connection_pool_limits.connect_timeout_ms), tls: this.tls, credentials: this.credentials });
    } catch (thrown) {
      const error = thrown instanceof MqError ? thrown : new MqError('BROKER_UNAVAILABLE', `could not connect to ${address}: ${String(thrown)}`);
      link.failures += 1;
      link.retry_at_ms = this.clock.monotonicMs() + backoffDelayMs(connection_pool_limits.reconnect_backoff, link.failures - 1, this.random);
      link.last_error = error;
      throw error;
    } finally {
      link.connecting = undefined;
    }
    if (this.closed) {
      connection.close();
      throw new MqError('SHUTTING_DOWN', 'this client was shut down while connecting');
    }
    link.failures = 0;
    link.retry_at_ms = 0;
    link.last_error = undefined;
    link.connection = connection;
    connection.onPush((push) => {
      for (const lease of this.leases) lease.deliverPush(address, push);
    });
    connection.onClose((error) => {
      if (link.connection === connection) link.connection = undefined;
      for (const lease of this.leases) lease.deliverDisconnect(address, error);
    });
    for (const lease of this.leases) lease.deliverConnect(address, connection);
    return connection;
  }

  private linkOf(address: string): Link {
    let link = this.links.get(address);
    if (link === undefined) {
      if (this.links.size >= connection_pool_limits.addresses_max) this.forgetIdleLinks();
      if (this.links.size >= connection_pool_limits.addresses_max) {
        throw new MqError('BUSY', `this client keeps links to ${this.links.size} addresses already; check the nameserver and broker addresses it is given`);
      }
      link = { connection: undefined, connecting: undefined, failures: 0, retry_at_ms: 0, last_error: undefined };
      this.links.set(address, link);
    }
    return link;
  }

  /** Drops links that hold no connection: only their failure history is lost. */
  private forgetIdleLinks(): void {
    for (const [address, link] of this.links) {
      if (link.connection === undefined && link.connecting === undefined) this.links.delete(address);
    }
  }

  /** Called by a lease's close: the last one closes every connection. */
  release(lease: PoolLease): void {
    this.leases.delete(lease);
    if (this.leases.size > 0 || this.closed) return;
    this.closed = true;
    if (ConnectionPool.by_instance.get(this.instance_name) === this) ConnectionPool.by_instance.delete(this.instance_name);
    for (const link of this.links.values()) link.connection?.close();
    this.links.clear();
  }
}

/**
 * One SDK object's use of a ConnectionPool: requests by address, listeners for pushes,
 * connects and disconnects, and `close()`, which rejects this object's pending requests with
 * SHUTTING_DOWN and lets go of the pool.
 */
export class PoolLease {
  private readonly pending = new Set<PendingRequest>();
  private readonly push_listeners: PushListener[] = [];
  private readonly disconnect_listeners: DisconnectListener[] = [];
  private readonly connect_listeners: ConnectListener[] = [];
  private closed = false;

  constructor(
    private readonly pool: ConnectionPool,
    readonly owner: string,
  ) {}

  /** `host@pid@instance`: what brokers know this client by (heartbeats, group membership). */
  get client_id(): string {
    return this.pool.client_id;
  }

  get is_closed(): boolean {
    return this.closed;
  }

  /** The pool's open connection to `address` (connecting if needed). */
  connection(address: string, timeout_ms?: number): Promise<ClientConnection> {
    if (this.closed) return Promise.reject(this.shutDownError());
    return this.pool.connection(address, timeout_ms);
  }

  /**
   * Sends a request and resolves with the reply's body; `timeout_ms` bounds the connect and
   * the reply together. Rejects with the server's MqError, TIMEOUT, BROKER_UNAVAILABLE, or
   * SHUTTING_DOWN when this lease closes first.
   */
  request(address: string, code: number, body: RequestBody, options: { timeout_ms: number }): Promise<Uint8Array> {
    return this.requestVersioned(address, code, body, options).then((reply) => reply.body);
  }

  /** As `request`, with the protocol version the reply is written in (to pick the decoder). */
  requestVersioned(address: string, code: number, body: RequestBody, options: { timeout_ms: number }): Promise<VersionedReply> {
    if (this.closed) return Promise.reject(this.shutDownError());
    if (this.pending.size >= connection_pool_limits.lease_in_flight_max) {
      return Promise.reject(new MqError('BUSY', `${this.pending.size} requests of this ${this.owner} already wait for replies; wait for some first`));
    }
    return new Promise<VersionedReply>((resolve, reject) => {
      const entry: PendingRequest = { reject };
      this.pending.add(entry);
      const settle = (finish: () => void): void => {
        if (!this.pending.delete(entry)) return; // rejected by close() already
        finish();
      };
      const started_ms = performance.now();
      this.pool.connection(address, options.timeout_ms)
        .then((connection) => {
          const left_ms = Math.max(1, options.timeout_ms - (performance.now() - started_ms));
          return connection.requestVersioned(code, body, { timeout_ms: left_ms });
        })
        .then((reply) => settle(() => resolve(reply)), (error: unknown) => settle(() => reject(error)));
    });
  }

  /** Sends without a reply; resolves once written to the connection. */
  async oneway(address: string, code: number, body: Uint8Array, options: { timeout_ms: number }): Promise<void> {
    const connection = await this.connection(address, options.timeout_ms);
    if (this.closed) throw this.shutDownError();
    connection.oneway(code, body);
  }

  /** Every request any server pushes on any connection of the pool (ROUTE_CHANGED, ...). */
  onPush(listener: PushListener): void {
    this.push_listeners.push(listener);
  }

  /** A connection of the pool closed (its pending requests failed with `error`). */
  onDisconnect(listener: DisconnectListener): void {
    this.disconnect_listeners.push(listener);
  }

  /** A connection of the pool opened (a reconnect too): re-subscribe, re-heartbeat. */
  onConnect(listener: ConnectListener): void {
    this.connect_listeners.push(listener);
  }

  /** Rejects this lease's pending requests with SHUTTING_DOWN and releases the pool. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const error = this.shutDownError();
    for (const entry of this.pending) entry.reject(error);
    this.pending.clear();
    this.pool.release(this);
  }

  /** @internal the pool's fan-out; a listener that throws disturbs neither the pool nor the others. */
  deliverPush(address: string, push: Envelope): void {
    for (const listener of this.push_listeners) callSafely(() => listener(address, push));
  }

  /** @internal */
  deliverDisconnect(address: string, error: MqError): void {
    for (const listener of this.disconnect_listeners) callSafely(() => listener(address, error));
  }

  /** @internal */
  deliverConnect(address: string, connection: ClientConnection): void {
    for (const listener of this.connect_listeners) callSafely(() => listener(address, connection));
  }

  /** Addresses the pool has open connections to (tests, diagnostics). */
  openAddresses(): string[] {
    return this.pool.openAddresses();
  }

  private shutDownError(): MqError {
    return new MqError('SHUTTING_DOWN', `this ${this.owner} is shut down; create a new one to send or receive again`, { retriable: false });
  }
}

/** Equal for equal TLS options (PEM text compared by hash, so the pool keeps no second copy of a key). */
/** What a pool's connections are made with (TLS and account), as a digest: pools compare it. */
function dialIdentity(tls: TlsDialOptions | undefined, credentials: Credentials | undefined): string {
  const text = (value: unknown): unknown => (Buffer.isBuffer(value) ? value.toString('utf8') : Array.isArray(value) ? value.map(text) : value);
  const fields = tls === undefined ? 'plain' : Object.entries(tls).sort(([a], [b]) => a.localeCompare(b)).map(([name, value]) => [name, text(value)]);
  const account = credentials === undefined ? null : [credentials.accessKey, credentials.secretKey];
  return createHash('sha256').update(JSON.stringify([fields, account])).digest('hex');
}

function callSafely(call: () => void): void {
  try {
    call();
  } catch {
    // A listener's own failure; the pool and the other listeners go on.
  }
}
