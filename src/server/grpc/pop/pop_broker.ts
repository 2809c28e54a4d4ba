import type { StoredMessage } from '../../../protocol/index.js';
import type { ConsumeQueueReadStatus } from '../../../storage/consume_queue_reader.js';
import type { TagFilter } from '../../../storage/tag_hash.js';
import type { ClientIdentity } from '../../remoting/client_limits.js';

/**
 * What the pop engine needs of the broker, and nothing more: the engine is tested against a
 * fake of this (test/server/grpc/pop/fake_pop_broker.ts) and runs against the real broker
 * through pop_broker_adapter.ts. Every method is called on the broker's main thread.
 */
export interface PopBroker {
  readonly broker_name: string;

  /**
   * The read queue count of a topic consumers may read; throws MqError TOPIC_NOT_FOUND (no
   * such topic, or an internal one) or ACCESS_DENIED (not readable on this broker).
   */
  readQueues(topic: string): number;

  /** The readable window [min, max) of a queue; undefined when nothing was ever stored in it. */
  window(topic: string, queue_id: number): { min_offset: number; max_offset: number } | undefined;

  /**
   * Reads from `queue_offset` on (StoreReader.pull): at most `max_count` messages that pass
   * `tag_filter`, about `max_bytes` at most (the first always). Entries the filter skipped
   * are below `next_queue_offset` and not returned. The bodies are views into the mapped
   * CommitLog (valid while the store is open): the caller copies what it keeps.
   */
  pull(topic: string, queue_id: number, queue_offset: number, options: { max_count: number; max_bytes: number; tag_filter: TagFilter }): PopPull;

  /** The group's committed offset of a queue, -1 when it has none (the offset store). */
  queryOffset(group: string, topic: string, queue_id: number): Promise<number>;

  /** Moves the group's committed offset forward (fire and forget; the store never moves it
   *  back). False when the message was dropped (a full mailbox): commit it again later. */
  commitOffset(group: string, topic: string, queue_id: number, offset: number): boolean;

  /**
   * Long polling (PullHold.hold): calls `answer` once, when `ready()` turns true (checked
   * when the store dispatches new entries, and at least once a second), when `hold_ms` ran
   * out, or when the holder's connection closed. False when the hold is full for the broker
   * or this holder: the caller answers at once, empty.
   */
  hold(ready: () => boolean, answer: () => void, hold_ms: number, holder: PopHolder): boolean;

  /**
   * Stores a copy of the message in the group's dead-letter topic `%DLQ%<group>` (the
   * broker's CONSUMER_SEND_BACK path). 'gone' when the message cannot be read any more
   * (retention deleted it): there is nothing to keep. Rejects (an MqError) when the copy
   * could not be stored now (a slave, a full disk): the engine tries again later.
   */
  deadLetter(group: string, message: DeadLetterSource): Promise<'stored' | 'gone'>;
}

export interface PopPull {
  /** As StoreReader.pull: `no_such_queue` when nothing was ever stored in the queue. */
  status: ConsumeQueueReadStatus | 'no_such_queue';
  messages: StoredMessage[];
  /** Where the next read of the queue starts (past the entries the filter skipped). */
  next_queue_offset: number;
}

/** Whose long poll it is: the broker's hold counts holds per connection and per client. */
export interface PopHolder {
  /** The connection (or HTTP/2 session) the receive came on: its holds end when it closes. */
  owner: object;
  client: ClientIdentity;
  /** False once the caller is gone: a long poll then answers empty without reading (what
   *  it read would stay invisible until its deadline). Absent: always open. */
  open?(): boolean;
}

export interface DeadLetterSource {
  topic: string;
  queue_id: number;
  queue_offset: number;
  commit_log_offset: number;
  /** Kept as ORIGIN_MESSAGE_ID on the copy. */
  msg_id: string;
}
