import type { Test } from 'tap';
import { pino } from 'pino';
import { ClientConnection } from '../../src/client/remoting/client_connection.js';
import {
  decodeBrokerHeartbeatResponse,
  decodeRegisterBrokerResponse,
  decodeTopicRouteData,
  encodeBrokerHeartbeatRequest,
  encodeGetRouteRequest,
  encodeRegisterBrokerRequest,
  encodeUnregisterBrokerRequest,
  perm_read,
  perm_write,
  request_codes,
  type BrokerHeartbeatResponse,
  type ClientKind,
  type RegisterBrokerResponse,
  type Result,
  type TopicRouteData,
} from '../../src/protocol/index.js';
import type { ActorSystem } from '../../src/runtime/actor_system.js';
import { startActorSystem as startLeanActorSystem } from '../helpers/actor_systems.js';
import { MqError } from '../../src/runtime/errors.js';
import { NamesrvListener, type NamesrvOptions } from '../../src/server/namesrv/namesrv_listener.js';

/**
 * Peers of a nameserver for tests: the nameserver itself in this process (on an actor system
 * of one thread), brokers played by raw ClientConnections that speak REGISTER_BROKER and
 * BROKER_HEARTBEAT, and bounded waits on conditions.
 */

export const quiet_log = pino({ level: 'silent' });

export const wait_limits = {
  /** Poll period of waitFor. */
  poll_ms: 5,
  /** Default bound of a wait: generous for a loaded 2-core machine, still fails a hung test fast. */
  timeout_ms: 5_000,
} as const;

export async function startActorSystem(t: Test): Promise<ActorSystem> {
  const system = await startLeanActorSystem({ threads: 1 });
  t.teardown(() => system.stop());
  return system;
}

export async function startNamesrv(
  t: Test,
  system: ActorSystem,
  options: Partial<Omit<NamesrvOptions, 'actors'>> = {},
): Promise<{ listener: NamesrvListener; address: string }> {
  const listener = new NamesrvListener({
    host: '127.0.0.1',
    port: 0,
    broker_expiry_ms: 60_000,
    plugins: ['route-notifications'],
    audit_log_path: '',
    server_id: 'namesrv-test',
    log: quiet_log,
    ...options,
    actors: system,
  });
  const bound = await listener.start();
  t.teardown(() => listener.stop());
  return { listener, address: `127.0.0.1:${bound.port}` };
}

export async function connect(t: Test, address: string, client_id: string, kind: ClientKind = 'CLIENT'): Promise<ClientConnection> {
  const connection = await ClientConnection.connect(address, { client_id, kind });
  t.teardown(() => connection.close());
  return connection;
}

export function value<T>(result: Result<T>): T {
  if (!result.ok) throw result.error;
  return result.value;
}

/** A broker as the nameserver sees it: one connection, registration and heartbeats. */
export class FakeBroker {
  data_version = 1;
  topics: string[];

  constructor(
    public connection: ClientConnection,
    readonly broker_name: string,
    readonly port: number,
    topics: string[],
    readonly broker_id = 0,
  ) {
    this.topics = topics;
  }

  static async connect(t: Test, namesrv: string, broker_name: string, port: number, topics: string[]): Promise<FakeBroker> {
    return new FakeBroker(await connect(t, namesrv, broker_name, 'BROKER'), broker_name, port, topics);
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async register(): Promise<RegisterBrokerResponse> {
    const body = encodeRegisterBrokerRequest({
      ...this.identity(),
      haAddress: `127.0.0.1:${this.port + 1}`,
      epoch: 0,
      dataVersion: this.data_version,
      topics: this.topics.map((topic) => ({ topic, readQueues: 4, writeQueues: 4, perm: perm_read | perm_write })),
      maxOffset: 0,
      inSyncSlaves: [],
    });
    return value(decodeRegisterBrokerResponse(await this.connection.request(request_codes.REGISTER_BROKER, body)));
  }

  async heartbeat(): Promise<BrokerHeartbeatResponse> {
    const body = encodeBrokerHeartbeatRequest({ ...this.identity(), epoch: 0, dataVersion: this.data_version, maxOffset: 0, inSyncSlaves: [] });
    return value(decodeBrokerHeartbeatResponse(await this.connection.request(request_codes.BROKER_HEARTBEAT, body)));
  }

  async unregister(): Promise<void> {
    await this.connection.request(request_codes.UNREGISTER_BROKER, encodeUnregisterBrokerRequest(this.identity()));
  }

  private identity(): { cluster: string; brokerName: string; brokerId: number; address: string } {
    return { cluster: 'TestCluster', brokerName: this.broker_name, brokerId: this.broker_id, address: this.address };
  }
}

export async function getRoute(client: ClientConnection, topic: string): Promise<TopicRouteData> {
  return value(decodeTopicRouteData(await client.request(request_codes.GET_ROUTE, encodeGetRouteRequest({ topic }))));
}

/** The broker groups of a topic's route, or the error code the nameserver answers. */
export async function routeBrokers(client: ClientConnection, topic: string): Promise<string[] | string> {
  try {
    return (await getRoute(client, topic)).brokers.map((group) => group.brokerName);
  } catch (error) {
    if (error instanceof MqError) return error.code;
    throw error;
  }
}

/** Polls `condition` until it holds; fails after `timeout_ms` saying what did not happen. */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeout_ms: number = wait_limits.timeout_ms): Promise<number> {
  const started_ms = performance.now();
  for (;;) {
    if (await condition()) return performance.now() - started_ms;
    if (performance.now() - started_ms > timeout_ms) throw new Error(`${what} did not happen within ${timeout_ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, wait_limits.poll_ms));
  }
}

export async function errorCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof MqError) return error.code;
    throw error;
  }
  return 'no error';
}
