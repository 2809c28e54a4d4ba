import { AdminServer } from '../admin/admin_server.js';
import type { AdminSource, HealthReport } from '../admin/admin_source.js';
import { readGroupLags } from '../admin/metrics_group_lag.js';
import { readStorePositions } from '../admin/metrics_store_positions.js';
import type { Store } from '../actors/store/store.js';
import type { ActorStats } from '../runtime/actor_stats.js';
import { MqError } from '../runtime/errors.js';
import type { RestartOutcome } from '../runtime/actor_cell.js';
import type { ActorSystem } from '../runtime/actor_system.js';
import { assert } from '../runtime/assert.js';
import type { Logger } from '../runtime/log.js';
import { formatHostPort, type NodeConfig, type Role } from './config.js';
import { InspectorViews } from './inspector_views.js';
import { listenersForRole } from './role_listeners.js';
import { nodeAccess, type NodeAccess } from './auth/node_access.js';
import { isTrafficSource } from './broker/broker_traffic.js';
import { nodeDialOptions, nodeServerOptions, type NodeTls } from '../tls/node_tls.js';

/**
 * Starting and stopping one node (main thread): the actor system, the admin HTTP server and
 * the role's network listeners, in that order, and the ready line built from what started.
 *
 * Listeners are plugged in per role (role_listeners.ts); the node knows them only as
 * "something that listens on a port and can stop", so the namesrv, broker, HA and gRPC
 * servers arrive without changes here.
 */

export type ListenerKey = 'namesrv' | 'broker' | 'ha' | 'grpc';

export interface Listener {
  readonly key: ListenerKey;
  /** Listens; resolves with the bound address (the chosen port when the config said 0). */
  start(): Promise<{ host: string; port: number }>;
  /** Stops accepting and closes its connections. */
  stop(): Promise<void>;
}

/** What the node needs of the actor system (ActorSystem has it; tests pass a fake). */
export interface NodeSystem extends AdminSource {
  /** Drains mailboxes, stops the actors and terminates the worker threads. */
  stop(): Promise<void>;
  /** The broker's store, for roles that have one. */
  readonly store?: Store;
  /** Places and removes actors, for listeners with actors of their own (the nameserver's
   *  registry). ActorSystem has both; a test's fake may leave them out. */
  spawn?: ActorSystem['spawn'];
  stopActor?: ActorSystem['stopActor'];
  /** The inspector's restart button (ActorSystem has it). */
  restartActor?: ActorSystem['restartActor'];
  threadStats?: ActorSystem['threadStats'];
}

export interface NodeDependencies {
  startSystem(options: { threads: number; name: string }): Promise<NodeSystem>;
  /** The role's listeners; defaults to listenersForRole. */
  listeners?: (config: NodeConfig, system: NodeSystem, node_tls: NodeTls | null, access: NodeAccess) => Listener[];
  log: Logger;
  /** The TLS files' text (config_tls.ts readNodeTls); absent or null: no TLS. */
  tls?: NodeTls | null;
}

/** The line printed on stdout when the node serves (contract.md): listener key -> "host:port";
 *  `"tls":true` when every listener runs TLS (the admin port speaks https then). */
export type ReadyLine = { event: 'ready'; role: Role; admin: string; tls?: true } & Partial<Record<ListenerKey, string>>;

type NodeState = 'starting' | 'serving' | 'stopping' | 'stopped';

export class RunningNode {
  private state: NodeState = 'starting';
  private system: NodeSystem | null = null;
  private admin: AdminServer | null = null;
  private readonly started: Listener[] = [];
  private stopping: Promise<void> | null = null;
  private ready_line: ReadyLine | null = null;
  /** Access control (the ACL and the node's own account), once the start got that far. */
  private access: NodeAccess | undefined;

  private constructor(
    private readonly config: NodeConfig,
    private readonly log: Logger,
    private readonly node_tls: NodeTls | null,
  ) {}

  /** Starts everything; if a step fails, stops what already started and rethrows. */
  static async start(config: NodeConfig, dependencies: NodeDependencies): Promise<RunningNode> {
    const node = new RunningNode(config, dependencies.log, dependencies.tls ?? null);
    try {
      node.ready_line = await node.startParts(dependencies);
      node.state = 'serving';
      return node;
    } catch (error) {
      await node.stop().catch((stop_error: unknown) => dependencies.log.error({ err: stop_error }, 'cleanup after a failed start failed'));
      throw error;
    }
  }

  /** The ready line: which listeners serve, at which advertised addresses. */
  get ready(): ReadyLine {
    assert(this.ready_line !== null, 'the ready line exists once start() has resolved');
    return this.ready_line;
  }

  private async startParts(dependencies: NodeDependencies): Promise<ReadyLine> {
    const { config } = this;
    // The ACL is loaded before the admin server listens: its port is never open, not even
    // for a moment, on a node with access control (and a bad ACL file fails the start first).
    this.access = nodeAccess(config);
    const acl_file = this.access.acl_file;
    // The admin server comes up next so that /healthz says "starting" while the rest starts,
    // and a taken admin port fails the start before any worker thread is spawned.
    this.admin = await AdminServer.start({
      host: config.adminHost, port: config.adminPort, source: this.adminSource(), log: this.log, host_names: [config.advertiseHost, config.host, config.adminHost],
      ...(this.node_tls === null ? {} : { tls: nodeServerOptions(this.node_tls) }),
      ...(acl_file === undefined ? {} : { acl: () => acl_file.acl }),
    });
    this.system = await dependencies.startSystem({ threads: config.threads, name: `mq-${config.role}` });
    const addresses: Partial<Record<ListenerKey, string>> = {};
    const listeners = (dependencies.listeners ?? listenersForRole)(config, this.system, this.node_tls, this.access);
    for (const listener of listeners) {
      const bound = await listener.start();
      this.started.push(listener);
      addresses[listener.key] = formatHostPort({ host: config.advertiseHost, port: bound.port });
      this.log.info({ listener: listener.key, host: bound.host, port: bound.port }, 'listening');
    }
    const admin = formatHostPort({ host: config.advertiseHost, port: this.admin.address.port });
    return { event: 'ready', role: config.role, ...addresses, admin, ...(this.node_tls === null ? {} : { tls: true as const }) };
  }

  /** The inspector's cluster views, through this node's nameservers: a broker's --namesrv, or
   *  the nameserver this node runs (known once it listens). */
  private readonly views = new InspectorViews(() => {
    if (this.config.role === 'broker') return this.config.namesrv.map((address) => formatHostPort(address));
    const own = this.ready_line?.namesrv;
    return own === undefined ? [] : [own];
  }, () => (this.node_tls === null ? undefined : nodeDialOptions(this.node_tls)), () => this.access?.credentials);

  /** The admin view of this node: not healthy until every listener is up, nor while stopping. */
  private adminSource(): AdminSource {
    const store = (): Store | undefined => this.system?.store;
    return {
      ...(this.config.role === 'namesrv' ? {} : {
        storeView: () => {
          const opened = store();
          if (opened === undefined) throw new MqError('BROKER_UNAVAILABLE', 'the store is not open yet (the node is starting)');
          return opened.view();
        },
        // The broker listener counts its traffic; before it has started there is none.
        topicTraffic: () => this.started.find(isTrafficSource)?.topicTraffic() ?? [],
        heldPulls: () => this.started.find(isTrafficSource)?.heldPulls() ?? 0,
        groupLags: async () => {
          const opened = store();
          return opened === undefined ? [] : readGroupLags(opened);
        },
        flushLatency: () => store()?.flushLatency(),
        replicationLag: () => store()?.replicationLag(),
        storePositions: async () => {
          const opened = store();
          return opened === undefined ? undefined : readStorePositions(opened);
        },
      }),
      clusterView: () => this.views.cluster(),
      groupsView: () => this.views.groups(),
      // The inspector's client reads messages as the node's own account; with access control
      // on, only admin accounts reach the admin port (admin_auth.ts), and they may read every
      // topic anyway, so this shows nothing its caller could not read itself.
      messageView: (msg_id: string) => this.views.message(msg_id),
      messageQueryView: (query) => this.views.messagesByKey(query),
      listActors: async (): Promise<ActorStats[]> => (this.system === null ? [] : this.system.listActors()),
      threadStats: async () => (this.system?.threadStats === undefined ? [] : this.system.threadStats()),
      restartActor: async (address: string, hold_ms: number): Promise<RestartOutcome> => (this.system?.restartActor === undefined ? 'not_running' : this.system.restartActor(address, hold_ms)),
      health: async (): Promise<HealthReport> => {
        if (this.state !== 'serving' || this.system === null) return { ok: false, reason: `node is ${this.state}` };
        const refusing = store()?.queuesRefusing() ?? 0;
        if (refusing > 0) {
          return { ok: false, reason: `${refusing} ConsumeQueue(s) take no more entries: they and the CommitLog disagree (logged at error level); stop the broker and delete the consumequeue directory of its data: every queue is rebuilt from the CommitLog at the next start` };
        }
        return this.system.health();
      },
    };
  }

  /**
   * Stops accepting (listeners, newest first), then stops the actor system, which drains
   * the mailboxes, then the admin server. Every step runs even if an earlier one failed;
   * the first failure is rethrown at the end. Calling it again returns the same promise.
   */
  stop(): Promise<void> {
    this.stopping ??= this.stopParts();
    return this.stopping;
  }

  private async stopParts(): Promise<void> {
    this.state = 'stopping';
    const failures: unknown[] = [];
    const step = async (what: string, action: () => Promise<void>): Promise<void> => {
      try {
        await action();
      } catch (error) {
        this.log.error({ err: error }, `stopping ${what} failed`);
        failures.push(error);
      }
    };
    for (const listener of [...this.started].reverse()) await step(`the ${listener.key} listener`, () => listener.stop());
    const system = this.system;
    if (system !== null) await step('the actor system', () => system.stop());
    const admin = this.admin;
    if (admin !== null) await step('the admin server', () => admin.close());
    await step('the inspector\'s client', () => this.views.close());
    this.access?.close();
    this.state = 'stopped';
    if (failures.length > 0) {
      throw new Error(`shutdown finished with ${failures.length} failed step(s); the first: ${String(failures[0])}`, { cause: failures[0] });
    }
  }
}
