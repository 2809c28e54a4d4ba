import { decodeAllConsumerOffset, decodeAllTopicConfig, encodeGetAllConsumerOffsetRequest, encodeGetAllTopicConfigRequest, request_codes } from '../../protocol/index.js';
import type { OffsetStoreMessage } from '../../actors/offset_store/offset_store_messages.js';
import { ClientConnection } from '../../client/remoting/client_connection.js';
import type { TlsDialOptions } from '../../tls/tls_dial.js';
import type { Credentials } from '../../client/remoting/request_signer.js';
import type { ActorRef } from '../../runtime/actor_ref.js';
import type { Logger } from '../../runtime/log.js';
import type { TopicConfigStore } from './topic_config_store.js';

export const slave_sync_limits = {
  /** How often a slave copies its master's topic configs. */
  interval_ms: 2_000,
  request_timeout_ms: 3_000,
} as const;

/**
 * A slave broker's copy of what its master holds besides the CommitLog (RocketMQ's
 * SlaveSynchronize): the topic configs, so that the slave serves pulls of the master's
 * topics and, promoted, takes sends for them; the consumer offsets, so that consumers keep
 * their positions after a failover (at most one interval behind: at-least-once). The
 * CommitLog itself comes over the HA link. Asks the master's client port
 * (GET_ALL_TOPIC_CONFIG, GET_ALL_CONSUMER_OFFSET) every interval; a master that does not
 * answer is asked again at the next one. Owned by the broker's main thread.
 */
export class SlaveSync {
  private master = '';
  private connection: ClientConnection | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** The offsets copied last, by `group/topic/queue`: only changes are told to the offset store. */
  private readonly copied_offsets = new Map<string, number>();

  constructor(
    private readonly options: {
      client_id: string;
      topics: TopicConfigStore;
      offsets: ActorRef<OffsetStoreMessage, number>;
      log: Logger;
      onTopicsChanged(): void;
      /** The node's TLS for dialling the master (tls/node_tls.ts); absent: plain TCP. */
      tls?: TlsDialOptions;
      /** The node's account (access control): its requests are signed with it. */
      credentials?: Credentials | undefined;
    },
  ) {}

  /** Follows `master` (its client `host:port`; '' for none). */
  follow(master: string): void {
    if (master === this.master) return;
    this.master = master;
    this.connection?.close();
    this.connection = undefined;
    clearInterval(this.timer);
    this.timer = undefined;
    if (master === '') return;
    this.syncSoon();
    this.timer = setInterval(() => this.syncSoon(), slave_sync_limits.interval_ms);
  }

  async stop(): Promise<void> {
    this.follow('');
    await this.running;
  }

  private syncSoon(): void {
    this.running ??= this.sync().finally(() => (this.running = undefined));
  }

  private async sync(): Promise<void> {
    const master = this.master;
    try {
      if (this.connection === undefined || !this.connection.open) {
        this.connection = await ClientConnection.connect(master, { client_id: this.options.client_id, kind: 'BROKER', tls: this.options.tls, credentials: this.options.credentials });
      }
      const reply = decodeAllTopicConfig(await this.connection.request(request_codes.GET_ALL_TOPIC_CONFIG, encodeGetAllTopicConfigRequest({}), { timeout_ms: slave_sync_limits.request_timeout_ms }));
      if (!reply.ok) throw new Error(`unreadable answer: ${reply.error.message}`);
      if (master !== this.master) return; // the master changed meanwhile
      if (this.options.topics.replaceAll(reply.value.topics, reply.value.dataVersion)) this.options.onTopicsChanged();
      const offsets = decodeAllConsumerOffset(await this.connection.request(request_codes.GET_ALL_CONSUMER_OFFSET, encodeGetAllConsumerOffsetRequest({}), { timeout_ms: slave_sync_limits.request_timeout_ms }));
      if (!offsets.ok) throw new Error(`unreadable offsets: ${offsets.error.message}`);
      if (master !== this.master) return;
      for (const entry of offsets.value.entries) {
        const key = `${entry.group}\u0000${entry.topic}\u0000${entry.queueId}`;
        if (this.copied_offsets.get(key) === entry.offset) continue;
        this.options.offsets.tell({ kind: 'reset', group: entry.group, topic: entry.topic, queue_id: entry.queueId, offset: entry.offset });
        this.copied_offsets.set(key, entry.offset);
      }
    } catch (error) {
      this.options.log.warn({ master, err: error instanceof Error ? error.message : String(error) }, "copying the master's topics failed; trying again at the next interval");
      this.connection?.close();
      this.connection = undefined;
    }
  }
}
