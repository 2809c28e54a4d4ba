import {
  decodeBrokerHeartbeatResponse,
  decodeRegisterBrokerResponse,
  encodeBrokerHeartbeatRequest,
  encodeRegisterBrokerRequest,
  encodeUnregisterBrokerRequest,
  request_codes,
  type BrokerIdentity,
  type MasterView,
  type ReplicationReport,
} from '../../protocol/index.js';
import { MqError } from '../../runtime/errors.js';
import { ClientConnection } from '../../client/remoting/client_connection.js';
import type { TlsDialOptions } from '../../tls/tls_dial.js';
import type { Credentials } from '../../client/remoting/request_signer.js';
import type { Logger } from '../../runtime/log.js';
import type { TopicConfigStore } from './topic_config_store.js';

export const registrar_limits = {
  heartbeat_interval_ms_default: 30_000,
  request_timeout_ms: 3_000,
} as const;

export interface RegistrarOptions {
  /** The nameservers; a function, as in standalone the nameserver's port is known only once it listens. */
  namesrv_addresses: () => readonly string[];
  /** Read at every registration and heartbeat: a failover changes the broker id. */
  identity: () => BrokerIdentity;
  /** This broker's HA `host:port` (read when registering: the HA port may bind late). */
  ha_address: () => string;
  /** The last master epoch this broker knows, and its replication report. */
  epoch: () => number;
  replication: () => ReplicationReport;
  /** What a nameserver answered of the group's master. */
  onAnswer?: (view: MasterView) => void;
  /** A nameserver refused the registration as master: a failover promoted another broker. */
  onFenced?: (error: MqError) => void;
  topics: TopicConfigStore;
  heartbeat_interval_ms: number;
  log: Logger;
  /** The node's TLS for dialling nameservers (tls/node_tls.ts); absent: plain TCP. */
  tls?: TlsDialOptions;
  /** The node's account (access control): its requests are signed with it. */
  credentials?: Credentials | undefined;
}

interface NamesrvLink {
  address: string;
  connection: ClientConnection | undefined;
  registered_version: number;
  /** The broker id it is registered under there (-1: none yet). */
  registered_id: number;
}

/**
 * Keeps this broker registered with every nameserver: a full registration (with topic
 * configs) at start, whenever the topics change, and whenever a heartbeat's answer says the
 * nameserver does not know us (it restarted); a light heartbeat in between. A nameserver that
 * is down is retried on the next beat; none of this ever blocks the broker. Owned by the
 * broker's main thread.
 */
export class NamesrvRegistrar {
  private readonly links = new Map<string, NamesrvLink>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private first_round: Promise<void> | undefined;
  /** The identity registered last, to unregister when it changes. */
  private registered_identity: BrokerIdentity | undefined;

  constructor(private readonly options: RegistrarOptions) {}

  /** Starts registering; resolves when the first round of registrations has ended (answered or failed). */
  start(): Promise<void> {
    this.first_round = this.beat(true);
    this.timer = setInterval(() => void this.beat(false), this.options.heartbeat_interval_ms);
    return this.first_round;
  }

  /** Topics, role or id changed: register again everywhere now. */
  registerNow(): void {
    void this.beat(true);
  }

  /** A heartbeat round now (a slave that lost its master asks often, to learn of a promotion fast). */
  beatNow(): void {
    void this.beat(false);
  }

  /** Unregisters from every nameserver (bounded), then closes the connections. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.all([...this.links.values()].map(async (link) => {
      if (link.connection?.open) {
        await link.connection
          .request(request_codes.UNREGISTER_BROKER, encodeUnregisterBrokerRequest(this.options.identity()), { timeout_ms: registrar_limits.request_timeout_ms })
          .catch((error: unknown) => this.options.log.warn({ namesrv: link.address, err: error }, 'unregister failed'));
      }
      link.connection?.close();
    }));
  }

  private async beat(full: boolean): Promise<void> {
    if (this.stopped) return;
    for (const address of this.options.namesrv_addresses()) {
      if (!this.links.has(address)) this.links.set(address, { address, connection: undefined, registered_version: -1, registered_id: -1 });
    }
    await Promise.all([...this.links.values()].map((link) => this.beatOne(link, full)));
  }

  private async beatOne(link: NamesrvLink, full: boolean): Promise<void> {
    try {
      if (link.connection === undefined || !link.connection.open) {
        const identity = this.options.identity();
        link.connection = await ClientConnection.connect(link.address, { client_id: `${identity.brokerName}@${identity.address}`, kind: 'BROKER', tls: this.options.tls, credentials: this.options.credentials });
        link.registered_version = -1;
        link.registered_id = -1;
      }
      const data_version = this.options.topics.data_version;
      if (full || link.registered_version !== data_version || link.registered_id !== this.options.identity().brokerId) {
        await this.register(link);
        return;
      }
      const reply = await link.connection.request(
        request_codes.BROKER_HEARTBEAT,
        encodeBrokerHeartbeatRequest({ ...this.options.identity(), epoch: this.options.epoch(), dataVersion: data_version, ...this.options.replication() }),
        { timeout_ms: registrar_limits.request_timeout_ms },
      );
      const answer = decodeBrokerHeartbeatResponse(reply);
      if (answer.ok && answer.value.registrationNeeded) await this.register(link);
      else if (answer.ok) this.options.onAnswer?.(answer.value);
    } catch (error) {
      if (error instanceof MqError && error.code === 'NOT_MASTER') {
        this.options.onFenced?.(error);
        return;
      }
      this.options.log.warn({ namesrv: link.address, err: error instanceof Error ? error.message : String(error) }, 'nameserver not reachable; retrying on the next beat');
      link.connection?.close();
      link.connection = undefined;
    }
  }

  private async register(link: NamesrvLink): Promise<void> {
    const data_version = this.options.topics.data_version;
    const identity = this.options.identity();
    const connection = link.connection as ClientConnection;
    // An id given up (a promoted slave's, a fenced master's) leaves the nameserver first.
    if (link.registered_id !== -1 && link.registered_id !== identity.brokerId && this.registered_identity !== undefined) {
      await connection.request(request_codes.UNREGISTER_BROKER, encodeUnregisterBrokerRequest({ ...this.registered_identity, brokerId: link.registered_id }), { timeout_ms: registrar_limits.request_timeout_ms }).catch(() => undefined);
    }
    const reply = await connection.request(
      request_codes.REGISTER_BROKER,
      encodeRegisterBrokerRequest({
        ...identity,
        haAddress: this.options.ha_address(),
        epoch: this.options.epoch(),
        dataVersion: data_version,
        topics: this.options.topics.list().map(({ topic, readQueues, writeQueues, perm }) => ({ topic, readQueues, writeQueues, perm })),
        ...this.options.replication(),
      }),
      { timeout_ms: registrar_limits.request_timeout_ms },
    );
    link.registered_version = data_version;
    link.registered_id = identity.brokerId;
    this.registered_identity = identity;
    this.options.log.info({ namesrv: link.address, data_version, broker_id: identity.brokerId }, 'registered with the nameserver');
    const answer = decodeRegisterBrokerResponse(reply);
    if (answer.ok) this.options.onAnswer?.(answer.value);
  }
}
