import fs from 'node:fs';
import path from 'node:path';
import { checkName, internal_topics, perm_inherit, perm_read, perm_write, type TopicConfig } from '../../protocol/index.js';
import { MqError } from '../../runtime/errors.js';
import type { Logger } from '../../runtime/log.js';
import { DurableFile } from '../../storage/durable_file.js';
import { configDir } from '../../storage/storage_paths.js';

export const topic_config_limits = {
  /** Queues of one topic on one broker. */
  queues_max: 1_024,
  queues_default: 4,
  /** Topics one broker holds. */
  topics_max: 16_384,
} as const;

export interface TopicSettings extends TopicConfig {
  created_ms: number;
}

/**
 * The broker's topics (queues, permissions, created time), persisted whole and atomically in
 * `config/topics` on every change (changes are rare: admin commands and first sends).
 * `data_version` counts changes, so the nameservers can tell a registration that changes
 * routes from one that does not. Owned by the broker's main thread.
 */
export class TopicConfigStore {
  private readonly topics = new Map<string, TopicSettings>();
  private readonly file: DurableFile;
  data_version = 0;

  constructor(data_dir: string, private readonly log: Logger) {
    fs.mkdirSync(configDir(data_dir), { recursive: true });
    this.file = new DurableFile({ path: path.join(configDir(data_dir), 'topics'), kind: 'TOPC', log });
  }

  load(): this {
    const stored = this.file.read();
    if (stored !== undefined) {
      const parsed = JSON.parse(stored.content.toString('utf8')) as { data_version: number; topics: TopicSettings[] };
      this.data_version = parsed.data_version;
      for (const topic of parsed.topics) this.topics.set(topic.topic, topic);
    }
    return this;
  }

  get(topic: string): TopicSettings | undefined {
    return this.topics.get(topic);
  }

  list(): TopicSettings[] {
    return [...this.topics.values()].sort((a, b) => a.topic.localeCompare(b.topic));
  }

  /** Creates the topic, or updates its queue count and permissions. */
  upsert(topic: string, queues: number, perm = perm_read | perm_write, now_ms = Date.now()): TopicSettings {
    const bad_name = checkName('topic', topic);
    if (bad_name !== undefined) throw new MqError('BAD_REQUEST', bad_name.message);
    // Scheduled and half messages are not for consumers yet: those topics are never topics.
    if (internal_topics.has(topic)) throw new MqError('BAD_REQUEST', `topic '${topic}' is internal to the broker (delayed or transaction messages) and cannot be created`);
    if (!Number.isInteger(queues) || queues < 1 || queues > topic_config_limits.queues_max) {
      throw new MqError('BAD_REQUEST', `a topic has 1..${topic_config_limits.queues_max} queues per broker, not ${queues}`);
    }
    // Checked here as the nameserver checks it: a perm it refuses would make it refuse every
    // registration of this broker from then on, and all its topics would lose their routes
    // (found by the broker fuzz test: one CREATE_TOPIC with perm 2^31-1 did that).
    if (!Number.isInteger(perm) || perm < 0 || perm > (perm_read | perm_write | perm_inherit)) {
      throw new MqError('BAD_REQUEST', `perm ${perm} is not a set of perm_read (4) | perm_write (2) | perm_inherit (1); send 0 for read and write`);
    }
    const existing = this.topics.get(topic);
    if (existing === undefined && this.topics.size >= topic_config_limits.topics_max) {
      throw new MqError('BAD_REQUEST', `this broker holds ${topic_config_limits.topics_max} topics already; delete some or add brokers`);
    }
    if (existing !== undefined && existing.readQueues === queues && existing.perm === perm) return existing;
    const settings: TopicSettings = { topic, readQueues: queues, writeQueues: queues, perm, created_ms: existing?.created_ms ?? now_ms };
    this.topics.set(topic, settings);
    this.data_version++;
    this.persist();
    this.log.info({ topic, queues, perm }, existing === undefined ? 'topic created' : 'topic updated');
    return settings;
  }

  /**
   * Adds the topics of `queues` (topic, queue id) that this store does not have, with as many
   * queues as the highest id seen plus one: a slave promoted before it copied its master's
   * latest topics still serves every topic its log holds. Returns how many were added.
   */
  addMissing(queues: ReadonlyArray<{ topic: string; queue_id: number }>): number {
    const counts = new Map<string, number>();
    for (const { topic, queue_id } of queues) {
      if (internal_topics.has(topic) || this.topics.has(topic)) continue;
      counts.set(topic, Math.max(counts.get(topic) ?? 0, queue_id + 1));
    }
    let added = 0;
    for (const [topic, count] of counts) {
      try {
        this.upsert(topic, Math.min(count, topic_config_limits.queues_max));
        added++;
      } catch (error) {
        this.log.warn({ topic, err: error instanceof Error ? error.message : String(error) }, 'topic of the log not added');
      }
    }
    return added;
  }

  /**
   * Makes this store's topics exactly `topics` at `data_version` (a slave copying its
   * master's; slave_sync.ts). Persisted when anything changed.
   */
  replaceAll(topics: readonly TopicConfig[], data_version: number, now_ms = Date.now()): boolean {
    const same = data_version === this.data_version && topics.length === this.topics.size
      && topics.every((topic) => {
        const known = this.topics.get(topic.topic);
        return known !== undefined && known.readQueues === topic.readQueues && known.writeQueues === topic.writeQueues && known.perm === topic.perm;
      });
    if (same) return false;
    const previous = new Map(this.topics);
    this.topics.clear();
    for (const topic of topics.slice(0, topic_config_limits.topics_max)) {
      this.topics.set(topic.topic, { topic: topic.topic, readQueues: topic.readQueues, writeQueues: topic.writeQueues, perm: topic.perm, created_ms: previous.get(topic.topic)?.created_ms ?? now_ms });
    }
    this.data_version = data_version;
    this.persist();
    this.log.info({ topics: this.topics.size, data_version }, "topics copied from the master");
    return true;
  }

  private persist(): void {
    const content = JSON.stringify({ data_version: this.data_version, topics: this.list() });
    this.file.write(Buffer.from(content, 'utf8'), 1);
  }
}
