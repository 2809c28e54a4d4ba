import * as grpc from '@grpc/grpc-js';
import { body_bytes_max } from '../../protocol/index.js';
import { system_clock } from '../../runtime/clock.js';
import { logger } from '../../runtime/log.js';
import type { NodeTls } from '../../tls/node_tls.js';
import type { NodeAccess } from '../auth/node_access.js';
import type { BrokerServices } from '../broker/broker_listener.js';
import type { BrokerConfig, StandaloneConfig } from '../config.js';
import { formatHostPort } from '../config.js';
import type { Listener } from '../role.js';
import { ConnectionPool } from '../../client/connection_pool.js';
import { NamesrvClient } from '../../client/namesrv_client.js';
import { nodeDialOptions } from '../../tls/node_tls.js';
import { ClusterRoutes, cluster_routes_limits } from './cluster_routes.js';
import { GrpcAuth } from './grpc_auth.js';
import { GrpcCallerGate } from './grpc_caller.js';
import { GrpcClients } from './grpc_clients.js';
import type { GrpcContext } from './grpc_context.js';
import { grpc_limits } from './grpc_limits.js';
import { messagingServiceDefinition } from './grpc_proto.js';
import { grpcCheckTargets } from './grpc_check_targets.js';
import type { GrpcConsumption } from './grpc_consumption.js';
import { messagingService, type MessagingService } from './messaging_service.js';

export interface GrpcListenerOptions {
  config: BrokerConfig | StandaloneConfig;
  /** The broker this endpoint fronts (its store, topics and send path). */
  broker: BrokerServices;
  /** The node's TLS: this port serves it too (mutual TLS with --tls-ca); null: plaintext h2c. */
  node_tls: NodeTls | null;
  /** Access control: with an ACL file every call must be signed by one of its accounts. */
  access: NodeAccess;
  /** The consumer side (ReceiveMessage, AckMessage, ...: grpc_consumption.ts); absent: producers only. */
  consumption?: GrpcConsumption;
  /** The cluster's nameservers: routes then list every master serving a topic; absent: this broker only. */
  namesrv?: readonly string[];
}

export interface GrpcListener extends Listener {
  /** The clients the endpoint knows (Heartbeat/Telemetry), for tests and the consumer side. */
  readonly clients: GrpcClients;
}

/** grpc-js server options: every bound from grpc_limits.ts; what is not set keeps grpc-js's default. */
export const grpc_server_options: grpc.ServerOptions = {
  'grpc.max_receive_message_length': grpc_limits.request_bytes_max,
  'grpc.max_send_message_length': grpc_limits.response_bytes_max,
  'grpc.max_concurrent_streams': grpc_limits.concurrent_streams_per_connection_max,
  'grpc.keepalive_time_ms': grpc_limits.keepalive_time_ms,
  'grpc.keepalive_timeout_ms': grpc_limits.keepalive_timeout_ms,
};

function credentialsOf(node_tls: NodeTls | null): grpc.ServerCredentials {
  if (node_tls === null) return grpc.ServerCredentials.createInsecure();
  const mutual = node_tls.ca !== null;
  return grpc.ServerCredentials.createSsl(mutual ? Buffer.from(node_tls.ca as string) : null, [{ private_key: Buffer.from(node_tls.key), cert_chain: Buffer.from(node_tls.cert) }], mutual);
}

/**
 * The RocketMQ 5 gRPC endpoint of a broker (key 'grpc', --grpc-port, default 8081): the
 * official Apache RocketMQ clients talk to mq-node here, unchanged (docs/rocketmq-compat.md).
 * It fronts the same broker as the client port — same store, topics, ACL and TLS.
 *
 * grpc-js runs on the main thread, like the broker's client port: every call is handled
 * there, and a send costs one hop to the CommitLog writer's thread and one back. Started
 * after the broker listener (it needs the broker's handlers), stopped before it: the pop
 * engine is closed and held receives answered, telemetry streams are ended (they have no deadline), then calls in flight get
 * `shutdown_grace_ms` to finish before the rest are cut.
 */
export function grpcListener(options: GrpcListenerOptions): GrpcListener {
  const { config } = options;
  const log = logger('grpc', { broker: config.brokerName });
  const acl_file = options.access.acl_file;
  const auth = acl_file === undefined ? undefined : new GrpcAuth({ acl: () => acl_file.acl, window_ms: config.aclWindowMs, log });
  const clients = new GrpcClients();
  let bound_port = 0;
  const cluster = options.namesrv === undefined || options.namesrv.length === 0 ? undefined : clusterRoutesOf(options, options.namesrv);
  const context: GrpcContext = {
    broker: options.broker,
    gate: new GrpcCallerGate(auth),
    clients,
    advertised: () => ({ host: config.advertiseHost, port: bound_port }),
    log,
    clock: system_clock,
    ...(options.consumption === undefined ? {} : { consumption: options.consumption }),
    ...(cluster === undefined ? {} : { cluster }),
  };
  const consumption = options.consumption;
  let server: grpc.Server | undefined;
  let service: MessagingService | undefined;
  let removeCheckTargets: (() => void) | undefined;
  return {
    key: 'grpc',
    clients,
    async start() {
      service = messagingService(context, {
        settings: { max_body_size_bytes: body_bytes_max, ...(consumption === undefined ? {} : { fifoOf: consumption.fifoOf }) },
        ...(consumption === undefined ? {} : { more: (rpc_context) => consumption.rpcs(rpc_context) }),
      });
      // Transaction check-backs of RocketMQ 5 producers go over their Telemetry streams.
      removeCheckTargets = options.broker.transactions.addCheckTargets(grpcCheckTargets(clients, service.sessions));
      const started = new grpc.Server(grpc_server_options);
      started.addService(messagingServiceDefinition(), service.implementation);
      server = started;
      bound_port = await new Promise<number>((resolve, reject) => {
        started.bindAsync(formatHostPort({ host: config.host, port: config.grpcPort }), credentialsOf(options.node_tls), (error, port) => (error === null ? resolve(port) : reject(new Error(`the gRPC port ${formatHostPort({ host: config.host, port: config.grpcPort })} cannot listen (--grpc-port): ${error.message}`, { cause: error }))));
      });
      // Other brokers' routes list this endpoint from now on (GET_BROKER_ENDPOINTS).
      options.broker.context.grpc_address = formatHostPort({ host: config.advertiseHost, port: bound_port });
      return { host: config.host, port: bound_port };
    },
    async stop() {
      const stopping = server;
      if (stopping === undefined) return;
      server = undefined;
      options.broker.context.grpc_address = null;
      cluster?.close();
      removeCheckTargets?.();
      // Held receives answer empty now, before the broker listener closes the PullHold.
      consumption?.close();
      service?.sessions.closeAll();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          log.warn({ grace_ms: grpc_limits.shutdown_grace_ms }, 'gRPC calls still running after the grace period; cutting them');
          stopping.forceShutdown();
          resolve();
        }, grpc_limits.shutdown_grace_ms);
        stopping.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

function clusterRoutesOf(options: GrpcListenerOptions, namesrv: readonly string[]): ClusterRoutes {
  const lease = ConnectionPool.lease({
    instance_name: `grpc-routes@${options.config.brokerName}`,
    owner: 'RocketMQ 5 route lookup',
    tls: options.node_tls === null ? undefined : nodeDialOptions(options.node_tls),
    credentials: options.access.credentials,
  });
  return new ClusterRoutes({
    self_name: options.config.brokerName,
    namesrv: new NamesrvClient(lease, namesrv, cluster_routes_limits.request_timeout_ms),
    lease,
    clock: system_clock,
    log: logger('grpc', { broker: options.config.brokerName }),
  });
}
