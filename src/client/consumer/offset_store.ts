import type { MessageQueue } from './message_queue.js';

/** `read`'s answer when the group (or member) has no offset for the queue yet. */
export const no_committed_offset = -1;

export interface CommittedOffset {
  queue: MessageQueue;
  offset: number;
}

/**
 * Where a consumer keeps its position in each queue: on the broker for a clustering group
 * (remote_offset_store.ts: the group shares one offset per queue), in a local file for a
 * broadcasting member (local_offset_store.ts: every member has its own). `update` only notes
 * the offset in memory; `persist` writes what changed since the last persist, so the
 * periodic commit costs nothing for idle queues.
 */
export interface OffsetStore {
  /** Loads what the store needs before the first read (a file; nothing for the broker). */
  open(): Promise<void>;
  /** The committed offset, or `no_committed_offset`. */
  read(queue: MessageQueue): Promise<number>;
  /** Notes the offset to commit: the next offset the group will consume in this queue. */
  update(queue: MessageQueue, offset: number): void;
  /** Writes what changed since the last persist (only `queues` when given); returns what was written. */
  persist(queues?: readonly MessageQueue[]): Promise<CommittedOffset[]>;
  /** The queue went to another member: stop committing it. */
  forget(queue: MessageQueue): void;
  /** Persists and lets go of the store's resources. */
  close(): Promise<void>;
}
