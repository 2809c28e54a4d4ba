import { assert } from '../runtime/assert.js';
import { logger } from '../runtime/log.js';
import { brokerListener } from './broker/broker_listener.js';
import { grpcConsumption } from './grpc/grpc_consumption.js';
import { grpcListener } from './grpc/grpc_listener.js';
import { haListener } from './broker/ha_listener.js';
import { clientLimitsOf, formatHostPort, type NamesrvConfig, type NodeConfig, type StandaloneConfig } from './config.js';
import { isActorHost, NamesrvListener } from './namesrv/namesrv_listener.js';
import type { Listener, NodeSystem } from './role.js';
import type { NodeTls } from '../tls/node_tls.js';
import { no_access, type NodeAccess } from './auth/node_access.js';

/**
 * The network listeners of each role, started in this order after the actor system:
 *
 *   namesrv     namesrv (config.port)
 *   broker      ha (config.haPort), broker (config.port), grpc (config.grpcPort)
 *   standalone  namesrv (config.namesrvPort), ha (config.haPort), broker (config.port), grpc (config.grpcPort)
 *
 * The HA port opens before the client port: the broker registers its HA address. The gRPC
 * endpoint (RocketMQ 5 clients) opens last: it fronts the broker listener's handlers.
 *
 * With `node_tls` every listener runs TLS and the node dials its peers over TLS (the HA
 * port's TLS reaches the replicator in the store's arguments: role_process.ts).
 */
export function listenersForRole(config: NodeConfig, system: NodeSystem, node_tls: NodeTls | null = null, access: NodeAccess = no_access): Listener[] {
  switch (config.role) {
    case 'namesrv':
      return [namesrvListener(config, config.port, system, node_tls, access)];
    case 'broker': {
      assert(system.store !== undefined, 'a broker node runs a store');
      const namesrv = config.namesrv.map((address) => formatHostPort(address));
      const ha = haListener(config, system.store);
      const broker = brokerListener({ config, store: system.store, namesrv_addresses: () => namesrv, ha_address: () => ha.address, heartbeat_interval_ms: config.heartbeatIntervalMs, node_tls, access });
      return [ha, broker, grpcListener({ config, broker: broker.services, node_tls, access, consumption: grpcConsumption(broker.services, clientLimitsOf(config)), namesrv })];
    }
    case 'standalone': {
      assert(system.store !== undefined, 'a standalone node runs a store');
      // The embedded nameserver starts first; the broker registers with it at the port it bound.
      const namesrv = namesrvListener(config, config.namesrvPort, system, node_tls, access);
      const embedded = (): string[] => (namesrv.bound === null ? [] : [formatHostPort({ host: config.advertiseHost, port: namesrv.bound.port })]);
      const ha = haListener(config, system.store);
      const broker = brokerListener({ config, store: system.store, namesrv_addresses: embedded, ha_address: () => ha.address, heartbeat_interval_ms: config.heartbeatIntervalMs, node_tls, access });
      return [namesrv, ha, broker, grpcListener({ config, broker: broker.services, node_tls, access, consumption: grpcConsumption(broker.services, clientLimitsOf(config)) })];
    }
  }
}

function namesrvListener(config: NamesrvConfig | StandaloneConfig, port: number, system: NodeSystem, node_tls: NodeTls | null, access: NodeAccess): NamesrvListener {
  assert(isActorHost(system), 'the node system of a nameserver can spawn actors (role_process.ts startNodeSystem)');
  return new NamesrvListener({
    host: config.host,
    port,
    broker_expiry_ms: config.brokerExpiryMs,
    plugins: config.plugins,
    audit_log_path: config.auditLog,
    server_id: `namesrv@${config.advertiseHost}`,
    connections_per_address_max: config.connectionsPerAddressMax,
    client_limits: clientLimitsOf(config),
    access,
    cluster: config.role === 'namesrv' ? {
      self: formatHostPort({ host: config.advertiseHost, port }),
      peers: config.peers.map((peer) => formatHostPort(peer)),
      mode: config.replication,
      data_dir: config.data,
      election_timeout_ms: config.electionTimeoutMs,
      semi_sync_acks: config.semiSyncAcks,
      semi_sync_timeout_ms: config.semiSyncTimeoutMs,
    } : undefined,
    actors: system,
    log: logger('namesrv'),
    node_tls,
  });
}
