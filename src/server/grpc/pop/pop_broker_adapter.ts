import { internal_topics, perm_read } from '../../../protocol/index.js';
import { MqError } from '../../../runtime/errors.js';
import type { TagFilter } from '../../../storage/tag_hash.js';
import type { BrokerContext } from '../../broker/broker_context.js';
import type { RetryHandlers } from '../../broker/retry_handlers.js';
import { storedMessageOf } from '../../broker/stored_message.js';
import type { DeadLetterSource, PopBroker, PopHolder, PopPull } from './pop_broker.js';

/** Stores a copy of a message in `%DLQ%<group>`; 'gone' when it cannot be read any more. */
export type DeadLetterWriter = (group: string, message: DeadLetterSource) => Promise<'stored' | 'gone'>;

/**
 * The pop engine's view of the real broker (BrokerContext): reads through the main thread's
 * StoreReader, offsets through the offset-store actor (as PULL and COMMIT_CONSUMER_OFFSET
 * do), long polls in the broker's PullHold (shared with PULL: one bound for both), dead
 * letters through `dead_letters`. Owned by the broker's main thread.
 */
export class BrokerPopAdapter implements PopBroker {
  constructor(
    private readonly broker: BrokerContext,
    private readonly dead_letters: DeadLetterWriter,
  ) {}

  get broker_name(): string {
    return this.broker.broker_name;
  }

  readQueues(topic: string): number {
    // As PullHandlers.readableTopic, without a queue id (pop reads every queue).
    if (internal_topics.has(topic)) throw new MqError('TOPIC_NOT_FOUND', `topic '${topic}' is internal to the broker; delayed and transaction messages are read in their own topics once due or committed`);
    const settings = this.broker.topics.get(topic);
    if (settings === undefined) throw new MqError('TOPIC_NOT_FOUND', `topic '${topic}' does not exist on broker ${this.broker.broker_name}`);
    if ((settings.perm & perm_read) === 0) throw new MqError('ACCESS_DENIED', `topic '${topic}' is not readable on broker ${this.broker.broker_name}`);
    return settings.readQueues;
  }

  window(topic: string, queue_id: number): { min_offset: number; max_offset: number } | undefined {
    return this.broker.store.reader.window(topic, queue_id);
  }

  pull(topic: string, queue_id: number, queue_offset: number, options: { max_count: number; max_bytes: number; tag_filter: TagFilter }): PopPull {
    const result = this.broker.store.reader.pull(topic, queue_id, queue_offset, options);
    // Properties decoded here; bodies stay views into the mapped CommitLog.
    return { status: result.status, messages: result.records.map(storedMessageOf), next_queue_offset: result.next_queue_offset };
  }

  queryOffset(group: string, topic: string, queue_id: number): Promise<number> {
    return this.broker.store.offsets.ask({ kind: 'query', group, topic, queue_id });
  }

  commitOffset(group: string, topic: string, queue_id: number, offset: number): boolean {
    return this.broker.store.offsets.tell({ kind: 'commit', group, topic, queue_id, offset });
  }

  hold(ready: () => boolean, answer: () => void, hold_ms: number, holder: PopHolder): boolean {
    return this.broker.pulls.hold(ready, answer, hold_ms, holder.owner, holder.client);
  }

  deadLetter(group: string, message: DeadLetterSource): Promise<'stored' | 'gone'> {
    return this.dead_letters(group, message);
  }
}

/**
 * Dead letters through RetryHandlers.deadLetter, the broker's one path to `%DLQ%<group>`: it
 * reads the message, keeps its properties, adds ORIGIN_MESSAGE_ID and ORIGIN_TOPIC, creates
 * the topic and appends, as a remoting consumer's send-back past its attempts does. The gRPC
 * layer authorized the group and the topic of the pop request that leads here.
 */
export function deadLetterThroughRetry(retry: RetryHandlers): DeadLetterWriter {
  return async (group, message) => {
    try {
      await retry.deadLetter(group, message.commit_log_offset, message.msg_id);
      return 'stored';
    } catch (error) {
      // BAD_REQUEST: the message cannot be read any more (deleted by retention); the group
      // name was checked by the engine.
      if (error instanceof MqError && error.code === 'BAD_REQUEST') return 'gone';
      throw error;
    }
  };
}
