import { MqError } from '../../runtime/errors.js';
import type { BrokerLink } from './broker_link.js';
import type { ConsumerLogger } from './consumer_options.js';
import { commitConsumerOffset, queryConsumerOffset } from './consumer_requests.js';
import { messageQueueKey, type MessageQueue } from './message_queue.js';
import type { CommittedOffset, OffsetStore } from './offset_store.js';

interface Entry {
  queue: MessageQueue;
  offset: number;
  /** The offset the broker last acknowledged, or -1. */
  committed: number;
}

export interface RemoteOffsetStoreOptions {
  group: string;
  link: BrokerLink;
  timeout_ms: number;
  logger: ConsumerLogger;
}

/**
 * A clustering group's offsets, kept by the brokers (QUERY/COMMIT_CONSUMER_OFFSET on the
 * queue's broker group), shared by the group's members. The broker keeps the highest offset
 * committed, so a late commit from a member that has just handed the queue over cannot move
 * the group back. A failed commit is logged and tried again on the next persist. Owned by
 * the consumer's event loop.
 */
export class RemoteOffsetStore implements OffsetStore {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly options: RemoteOffsetStoreOptions) {}

  async open(): Promise<void> {}

  read(queue: MessageQueue): Promise<number> {
    const { group, link, timeout_ms } = this.options;
    return queryConsumerOffset(link, queue.brokerName, { group, topic: queue.topic, queueId: queue.queueId }, timeout_ms);
  }

  update(queue: MessageQueue, offset: number): void {
    const key = messageQueueKey(queue);
    const entry = this.entries.get(key);
    if (entry === undefined) this.entries.set(key, { queue, offset, committed: -1 });
    else entry.offset = offset;
  }

  async persist(queues?: readonly MessageQueue[]): Promise<CommittedOffset[]> {
    const chosen = queues === undefined ? [...this.entries.values()] : queues.map((queue) => this.entries.get(messageQueueKey(queue))).filter((entry) => entry !== undefined);
    const changed = chosen.filter((entry) => entry.offset !== entry.committed);
    const results = await Promise.all(changed.map((entry) => this.commit(entry)));
    return results.filter((result) => result !== undefined);
  }

  forget(queue: MessageQueue): void {
    this.entries.delete(messageQueueKey(queue));
  }

  async close(): Promise<void> {
    this.entries.clear();
  }

  private async commit(entry: Entry): Promise<CommittedOffset | undefined> {
    const { group, link, timeout_ms, logger } = this.options;
    const offset = entry.offset;
    try {
      await commitConsumerOffset(link, entry.queue.brokerName, { group, topic: entry.queue.topic, queueId: entry.queue.queueId, offset }, timeout_ms);
      entry.committed = offset;
      return { queue: entry.queue, offset };
    } catch (error) {
      logger.warn(`offset commit failed: group ${group}, ${messageQueueKey(entry.queue)} at ${offset}: ${error instanceof MqError ? error.message : String(error)}; tried again at the next commit`);
      return undefined;
    }
  }
}
