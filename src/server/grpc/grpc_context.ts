import type { Clock } from '../../runtime/clock.js';
import type { Logger } from '../../runtime/log.js';
import type { BrokerServices } from '../broker/broker_listener.js';
import type { ClusterRoutes } from './cluster_routes.js';
import type { GrpcCallerGate } from './grpc_caller.js';
import type { GrpcClients } from './grpc_clients.js';
import type { GrpcConsumption } from './grpc_consumption.js';

/**
 * What the gRPC endpoint's handlers share: the broker they front (its store, topic table and
 * send path), the caller checks, the clients known by id, and the endpoint's own advertised
 * address. All owned by the main thread, where grpc-js runs its callbacks; a handler's
 * awaits (the CommitLog append) let other calls interleave, never run in parallel.
 */
export interface GrpcContext {
  readonly broker: BrokerServices;
  readonly gate: GrpcCallerGate;
  readonly clients: GrpcClients;
  /** The host and port clients are told to dial (QueryRoute): --advertise-host and the bound port. */
  readonly advertised: () => { host: string; port: number };
  readonly log: Logger;
  readonly clock: Clock;
  /** The other masters of the cluster (routes list them too); absent: this broker only (standalone). */
  readonly cluster?: ClusterRoutes;
  /** The consumer side (grpc_consumption.ts), told which groups consumers name; absent: producers only. */
  readonly consumption?: GrpcConsumption;
}
