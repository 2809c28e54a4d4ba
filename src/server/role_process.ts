import { constants } from 'node:os';
import { ipv4ToNumber } from '../storage/message_id.js';
import { ActorSystem } from '../runtime/actor_system.js';
import { Store } from '../actors/store/store.js';
import type { NodeSystem } from './role.js';
import { logger } from '../runtime/log.js';
import { dataDirs, type NodeConfig } from './config.js';
import { RunningNode } from './role.js';
import { readNodeTls } from './config_tls.js';
import type { NodeTls } from '../tls/node_tls.js';

/**
 * The life of an `mq-node --role ...` process: start the node, print the ready line, and on
 * SIGTERM/SIGINT stop it and exit 0. A second signal during shutdown exits at once with
 * 128 + the signal number (130 for SIGINT, 143 for SIGTERM), as shells expect.
 *
 * Import this module only after MQ_LOG_LEVEL is final: the root logger reads it on load.
 */

export const role_process_limits = {
  /** Draining mailboxes and flushing must end; past this the process exits 1 regardless. */
  shutdown_timeout_ms: 30_000,
} as const;

export const exit_codes = { ok: 0, failure: 1 } as const;

export async function runRoleProcess(config: NodeConfig): Promise<void> {
  const log = logger('node', { role: config.role });
  const die = (what: string) => (error: unknown): void => {
    log.fatal({ err: error }, `${what}; exiting`);
    process.exit(exit_codes.failure);
  };
  process.on('uncaughtException', die('uncaught exception'));
  process.on('unhandledRejection', die('unhandled promise rejection'));

  // Read once (they were checked when the flags were loaded): the listeners and the HA
  // port's replicator, on its worker thread, get the same text.
  const node_tls = readNodeTls(config);
  const starting = RunningNode.start(config, {
    startSystem: (options) => startNodeSystem(config, options, node_tls),
    log,
    tls: node_tls,
  });
  let shutting_down = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (shutting_down) {
      log.warn({ signal }, 'second signal during shutdown; exiting at once');
      process.exit(128 + constants.signals[signal as keyof typeof constants.signals]);
    }
    shutting_down = true;
    log.info({ signal }, 'shutting down: no new connections, draining the actors');
    const deadline = setTimeout(() => {
      log.error({ timeout_ms: role_process_limits.shutdown_timeout_ms }, 'shutdown took too long; exiting');
      process.exit(exit_codes.failure);
    }, role_process_limits.shutdown_timeout_ms);
    deadline.unref();
    starting
      .then((node) => node.stop())
      .then(
        () => {
          log.info('stopped');
          process.exit(exit_codes.ok);
        },
        die('shutdown failed'),
      );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  let node: RunningNode;
  try {
    node = await starting;
  } catch (error) {
    die('start failed')(error);
    return;
  }
  if (shutting_down) return; // a signal came while starting: the handler is stopping the node
  process.stdout.write(`${JSON.stringify(node.ready)}\n`);
  // The secret key is never logged (logs are kept and shipped; the key signs as the node).
  log.info({ ready: node.ready, config: { ...config, secretKey: config.secretKey === null ? null : '(hidden)' } }, 'ready');
}

/**
 * The actor system of a node, with the broker's store when the role has one: the store opens
 * (recovery) before the node serves, and closes (final flush, checkpoint, abort marker
 * removed) before the actor system stops.
 */
async function startNodeSystem(config: NodeConfig, options: { threads: number; name: string }, node_tls: NodeTls | null): Promise<NodeSystem> {
  const system = await ActorSystem.start(options);
  if (config.role === 'namesrv') return system;
  let store: Store;
  try {
    store = await Store.open(system, {
      data_dir: dataDirs(config)[0] as string,
      extra_data_dirs: dataDirs(config).slice(1),
      commit_log_segment_bytes: config.commitLogSegmentBytes,
      flush_mode: config.flush,
      disk_high_water_ratio: config.diskHighWater / 100,
      wheel_tick_ms: config.wheelTickMs,
      wheel_level_slots: config.wheelLevels,
      transaction_check_interval_ms: config.transactionCheckIntervalMs,
      transaction_check_max: config.transactionCheckMax,
      cluster: config.cluster,
      broker_name: config.brokerName,
      broker_id: config.brokerId,
      // Every broker takes writes only once a nameserver confirms it leads (broker_role.ts).
      role: 'slave',
      replication_mode: config.replication,
      replication_acks: config.replicationAcks,
      replication_timeout_ms: config.replicationTimeoutMs,
      // Every record and message id names the broker that stored it: its advertised address.
      // With --port 0 the port is not known before the store opens, and ids carry port 0.
      store_ipv4: ipv4ToNumber(config.advertiseHost),
      store_port: config.port,
      ha_tls: node_tls,
      // The HA port checks and signs with the same ACL file and account as the node's
      // listeners; the replicator, on its own thread, opens and watches the file itself.
      ha_access: {
        acl_file: config.aclFile,
        acl_window_ms: config.aclWindowMs,
        credentials: config.accessKey === null || config.secretKey === null ? null : { accessKey: config.accessKey, secretKey: config.secretKey },
      },
    });
  } catch (error) {
    await system.stop();
    throw error;
  }
  return {
    store,
    listActors: () => system.listActors(),
    health: () => system.health(),
    // Listeners that place actors of their own (the nameserver's registry) need these.
    spawn: (spawn_options) => system.spawn(spawn_options),
    stopActor: (address) => system.stopActor(address),
    restartActor: (address, hold_ms) => system.restartActor(address, hold_ms),
    threadStats: () => system.threadStats(),
    stop: async () => {
      try {
        await store.close();
      } finally {
        await system.stop();
      }
    },
  };
}
