import { registry_address, registry_module_url, registry_protocol, type RegistryArgs } from '../../actors/registry/registry_messages.js';
import type { ActorSystem } from '../../runtime/actor_system.js';
import type { Logger } from '../../runtime/log.js';
import { FrameServer } from '../remoting/frame_server.js';
import { RequestRouter } from '../remoting/request_router.js';
import type { ServerConnection } from '../remoting/server_connection.js';
import type { Listener } from '../role.js';
import { EventBus, type PluginStats } from './event_bus.js';
import { addNamesrvHandlers } from './namesrv_handlers.js';
import { expiryScanIntervalMs } from './namesrv_limits.js';
import type { NamesrvPlugin, NamesrvPluginContext } from './namesrv_plugin.js';
import { loadPlugin } from './plugin_loader.js';
import { RegistryClient } from './registry_client.js';
import { cluster_limits } from './cluster/cluster_limits.js';
import { NamesrvCluster } from './cluster/namesrv_cluster.js';
import { FileTermStore, MemoryTermStore } from './cluster/term_store.js';
import { system_clock } from '../../runtime/clock.js';
import type { NamesrvReplication } from '../config.js';
import { nodeDialOptions, nodeServerOptions, type NodeTls } from '../../tls/node_tls.js';
import { addAclHandlers } from '../auth/acl_handlers.js';
import type { NodeAccess } from '../auth/node_access.js';
import type { ClientLimits } from '../remoting/client_limits.js';

/** What the nameserver needs of the actor system: to place its registry actor and remove it. */
export type ActorHost = Pick<ActorSystem, 'spawn' | 'stopActor'>;

export function isActorHost(value: unknown): value is ActorHost {
  const candidate = value as Partial<ActorHost> | null;
  return typeof candidate === 'object' && candidate !== null && typeof candidate.spawn === 'function' && typeof candidate.stopActor === 'function';
}

export interface NamesrvOptions {
  host: string;
  port: number;
  broker_expiry_ms: number;
  /** --plugins entries (plugin_loader.ts), loaded in this order. */
  plugins: readonly string[];
  audit_log_path: string;
  /** Shown to clients in the handshake. */
  server_id: string;
  /** Connections kept open from one source address (--connections-per-address-max). */
  connections_per_address_max?: number;
  /** What one client may hold at once (remoting/client_limits.ts). */
  client_limits?: ClientLimits;
  /** The replicated registry: this node's `host:port` as its peers know it, and the peers
   *  (none: the registry is this node's alone, in memory). */
  cluster?: NamesrvClusterSettings;
  actors: ActorHost;
  log: Logger;
  /** The node's TLS: this port serves it and peers are dialled with it; absent: plain TCP. */
  node_tls?: NodeTls | null;
  /** Access control: this port checks requests against the node's ACL, and the node signs its
   *  requests to peers with its account (auth/node_access.ts). */
  access?: NodeAccess;
}

export interface NamesrvClusterSettings {
  self: string;
  peers: readonly string[];
  mode: NamesrvReplication;
  /** Journal and term record. */
  data_dir: string;
  election_timeout_ms: number;
  semi_sync_acks: number;
  semi_sync_timeout_ms: number;
}

/**
 * The nameserver on the network: the registry actor, the event bus with its plugins, and
 * the TCP listener that serves brokers and clients. Start order: registry, plugins (which
 * may add request handlers), listener, expiry timer; stop runs it backwards, and a start
 * that fails half-way undoes what it did.
 *
 * Eviction: brokers that stop heartbeating are evicted by a periodic `expire` to the
 * registry; brokers whose connection closes are evicted at once (`connection_closed`), so
 * a crashed broker's routes disappear as soon as the kernel closes its socket.
 *
 * Owned by the node's main thread; so are its connections, the bus and the plugins.
 */
export class NamesrvListener implements Listener {
  readonly key = 'namesrv' as const;
  private readonly bus: EventBus;
  private readonly router = new RequestRouter();
  private readonly disconnect_listeners: Array<(connection: ServerConnection) => void> = [];
  private readonly connection_ids = new WeakMap<ServerConnection, string>();
  private readonly plugins: NamesrvPlugin[] = [];
  private registry: RegistryClient | null = null;
  private cluster: NamesrvCluster | null = null;
  private server: FrameServer | null = null;
  private expiry_timer: NodeJS.Timeout | undefined;
  private next_connection = 1;
  /** The bound address once started (port 0 in the options becomes the chosen port here). */
  bound: { host: string; port: number } | null = null;
  private stopping = false;
  /** One expiry scan at a time: a slow registry must not collect a queue of scans. */
  private expiring = false;

  constructor(private readonly options: NamesrvOptions) {
    this.bus = new EventBus(options.log.child({ part: 'event-bus' }));
  }

  async start(): Promise<{ host: string; port: number }> {
    const { options } = this;
    const settings = options.cluster;
    const node_tls = options.node_tls ?? null;
    const replicated = settings !== undefined && settings.peers.length > 0;
    const args: RegistryArgs = { broker_expiry_ms: options.broker_expiry_ms, journal_dir: replicated ? settings.data_dir : '' };
    const ref = await options.actors.spawn({ address: registry_address, module: registry_module_url, protocol: registry_protocol, args });
    const registry = new RegistryClient(ref, this.bus);
    this.registry = registry;
    try {
      const cluster = new NamesrvCluster({
        self: settings?.self ?? '',
        peers: settings?.peers ?? [],
        mode: settings?.mode ?? 'async',
        election_timeout_ms: settings?.election_timeout_ms ?? cluster_limits.election_timeout_ms_alone,
        semi_sync_acks: settings?.semi_sync_acks ?? cluster_limits.semi_sync_acks_alone,
        semi_sync_timeout_ms: settings?.semi_sync_timeout_ms ?? cluster_limits.semi_sync_timeout_ms_alone,
        terms: replicated ? new FileTermStore(settings.data_dir) : new MemoryTermStore(),
        registry,
        clock: system_clock,
        random: Math.random,
        log: options.log.child({ part: 'cluster' }),
        ...(node_tls === null ? {} : { tls: nodeDialOptions(node_tls) }),
        credentials: options.access?.credentials,
      });
      this.cluster = cluster;
      addNamesrvHandlers(this.router, cluster, registry, (connection) => this.connectionId(connection));
      addAclHandlers(this.router, options.access?.acl_file, options.log);
      cluster.addHandlers(this.router);
      for (const entry of options.plugins) {
        const plugin = await loadPlugin(entry, this.pluginContext(entry));
        this.plugins.push(plugin);
        this.bus.add(plugin);
        options.log.info({ plugin: plugin.name, entry }, 'namesrv plugin loaded');
      }
      const auth = options.access?.listenerAuth();
      this.server = new FrameServer({
        server_id: options.server_id,
        router: this.router,
        log: options.log,
        connections_per_address_max: options.connections_per_address_max,
        ...(options.client_limits === undefined ? {} : { client_limits: options.client_limits }),
        ...(node_tls === null ? {} : { tls: nodeServerOptions(node_tls) }),
        listener: 'namesrv',
        ...(auth === undefined ? {} : { auth }),
        onConnection: (connection) => this.connection_ids.set(connection, `${this.options.cluster?.self ?? ''}/${this.next_connection++}@${connection.remote}`),
        onDisconnect: (connection) => this.onDisconnect(connection),
      });
      this.bound = await this.server.listen(options.host, options.port);
      await cluster.start();
      this.expiry_timer = setInterval(() => this.expire(), expiryScanIntervalMs(options.broker_expiry_ms));
      return this.bound;
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.expiry_timer);
    await this.cluster?.stop();
    await this.server?.close();
    await this.registry?.settled();
    await this.bus.close();
    if (this.registry !== null) {
      await this.options.actors.stopActor(registry_address).catch((error: unknown) => {
        this.options.log.warn({ err: error }, 'registry actor did not stop cleanly');
      });
    }
  }

  /** Delivery counts per plugin (for tests and the admin views). */
  pluginStats(): { missed: number; plugins: PluginStats[] } {
    return this.bus.stats();
  }

  private pluginContext(entry: string): NamesrvPluginContext {
    return {
      log: this.options.log.child({ plugin: entry }),
      settings: { audit_log_path: this.options.audit_log_path },
      handle: (code, handler) => {
        this.router.on(code, handler);
      },
      onDisconnect: (listener) => {
        this.disconnect_listeners.push(listener);
      },
    };
  }

  private connectionId(connection: ServerConnection): string {
    return this.connection_ids.get(connection) ?? connection.remote;
  }

  private onDisconnect(connection: ServerConnection): void {
    for (const listener of this.disconnect_listeners) {
      try {
        listener(connection);
      } catch (error) {
        this.options.log.warn({ err: error }, 'a plugin failed on a closed connection');
      }
    }
    // At stop every connection closes; the registry goes away with the node, so there is
    // nothing to evict and no event to publish.
    if (this.stopping || this.cluster === null) return;
    this.cluster.connectionClosed(this.connectionId(connection)).catch((error: unknown) => {
      this.options.log.warn({ err: error, remote: connection.remote }, 'could not evict the brokers of a closed connection; they expire instead');
    });
  }

  private expire(): void {
    if (this.stopping || this.expiring || this.cluster === null) return;
    this.expiring = true;
    this.cluster
      .expire()
      .catch((error: unknown) => {
        this.options.log.warn({ err: error }, 'broker expiry scan failed; the next scan retries');
      })
      .finally(() => {
        this.expiring = false;
      });
  }
}
