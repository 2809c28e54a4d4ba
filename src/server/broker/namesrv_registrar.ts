import {
  decodeBrokerHeartbeatResponse,
  decodeRegisterBrokerResponse,
  encodeBrokerHeartbeatRequest,
  encodeRegisterBrokerRequest,
  encodeUnregisterBrokerRequest,
  request_codes,
  type BrokerIdentity,
} from '../../protocol/index.js';
import { ClientConnection } from '../../client/remoting/client_connection.js';
import type { Logger } from '../../runtime/log.js';
import type { TopicConfigStore } from './topic_config_store.js';

export const registrar_limits = {
  heartbeat_interval_ms_default: 30_000,
  request_timeout_ms: 3_000,
} as const;

export interface RegistrarOptions {
  /** The nameservers; a function, as in standalone the nameserver's port is known only once it listens. */
  namesrv_addresses: () => readonly string[];
  identity: BrokerIdentity;
  /** This broker's HA `host:port` (read when registering: the HA port may bind late). */
  ha_address: () => string;
  /** What a nameserver says of the group's master (for a slave: whom to follow). */
  onMaster?: (master: { address: string; ha_address: string }) => void;
  topics: TopicConfigStore;
  heartbeat_interval_ms: number;
  log: Logger;
}

interface NamesrvLink {
  address: string;
  connection: ClientConnection | undefined;
  registered_version: number;
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

  constructor(private readonly options: RegistrarOptions) {}

  start(): void {
    void this.beat(true);
    this.timer = setInterval(() => void this.beat(false), this.options.heartbeat_interval_ms);
  }

  /** Topics changed: register again everywhere now. */
  registerNow(): void {
    void this.beat(true);
  }

  /** Unregisters from every nameserver (bounded), then closes the connections. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.all([...this.links.values()].map(async (link) => {
      if (link.connection?.open) {
        await link.connection
          .request(request_codes.UNREGISTER_BROKER, encodeUnregisterBrokerRequest(this.options.identity), { timeout_ms: registrar_limits.request_timeout_ms })
          .catch((error: unknown) => this.options.log.warn({ namesrv: link.address, err: error }, 'unregister failed'));
      }
      link.connection?.close();
    }));
  }

  private async beat(full: boolean): Promise<void> {
    if (this.stopped) return;
    for (const address of this.options.namesrv_addresses()) {
      if (!this.links.has(address)) this.links.set(address, { address, connection: undefined, registered_version: -1 });
    }
    await Promise.all([...this.links.values()].map((link) => this.beatOne(link, full)));
  }

  private async beatOne(link: NamesrvLink, full: boolean): Promise<void> {
    try {
      if (link.connection === undefined || !link.connection.open) {
        link.connection = await ClientConnection.connect(link.address, { client_id: `${this.options.identity.brokerName}@${this.options.identity.address}`, kind: 'BROKER' });
        link.registered_version = -1;
      }
      const data_version = this.options.topics.data_version;
      if (full || link.registered_version !== data_version) {
        await this.register(link);
        return;
      }
      const reply = await link.connection.request(
        request_codes.BROKER_HEARTBEAT,
        encodeBrokerHeartbeatRequest({ ...this.options.identity, epoch: 0, dataVersion: data_version }),
        { timeout_ms: registrar_limits.request_timeout_ms },
      );
      const answer = decodeBrokerHeartbeatResponse(reply);
      if (answer.ok && answer.value.registrationNeeded) await this.register(link);
      else if (answer.ok) this.options.onMaster?.({ address: answer.value.masterAddress ?? '', ha_address: answer.value.masterHaAddress ?? '' });
    } catch (error) {
      this.options.log.warn({ namesrv: link.address, err: error instanceof Error ? error.message : String(error) }, 'nameserver not reachable; retrying on the next beat');
      link.connection?.close();
      link.connection = undefined;
    }
  }

  private async register(link: NamesrvLink): Promise<void> {
    const data_version = this.options.topics.data_version;
    const reply = await (link.connection as ClientConnection).request(
      request_codes.REGISTER_BROKER,
      encodeRegisterBrokerRequest({
        ...this.options.identity,
        haAddress: this.options.ha_address(),
        epoch: 0,
        dataVersion: data_version,
        topics: this.options.topics.list().map(({ topic, readQueues, writeQueues, perm }) => ({ topic, readQueues, writeQueues, perm })),
      }),
      { timeout_ms: registrar_limits.request_timeout_ms },
    );
    link.registered_version = data_version;
    this.options.log.info({ namesrv: link.address, data_version }, 'registered with the nameserver');
    const answer = decodeRegisterBrokerResponse(reply);
    if (answer.ok) this.options.onMaster?.({ address: answer.value.masterAddress ?? '', ha_address: answer.value.masterHaAddress ?? '' });
  }
}
