import type { PopBroker } from './pop_broker.js';
import type { PopQueue } from './pop_queue.js';

/**
 * Hands the pop engine's committed offsets to the offset store: a queue whose committed
 * offset moved is marked, and the marked queues are committed once per turn of the event
 * loop (a microtask), so the acks of one request — or of one turn — that move a queue's
 * offset many times cost one message to the offset-store actor. A commit the actor's
 * mailbox dropped stays marked and goes with the next flush (the next ack, receive or close);
 * until then a restart would deliver a little more again, which at-least-once allows.
 *
 * Owned by the broker's main thread.
 */
export class PopCommits {
  private readonly dirty = new Set<PopQueue>();
  private scheduled = false;

  constructor(private readonly broker: PopBroker) {}

  get pending(): number {
    return this.dirty.size;
  }

  has(queue: PopQueue): boolean {
    return this.dirty.has(queue);
  }

  /** Marks `queue` when its committed offset is past what the store was told. */
  mark(queue: PopQueue): void {
    if (queue.committedOffset() <= queue.committed_sent) return;
    this.dirty.add(queue);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.flush());
  }

  flush(): void {
    this.scheduled = false;
    for (const queue of this.dirty) {
      const offset = queue.committedOffset();
      if (offset <= queue.committed_sent || this.broker.commitOffset(queue.group, queue.topic, queue.queue_id, offset)) {
        queue.committed_sent = Math.max(queue.committed_sent, offset);
        this.dirty.delete(queue);
      }
    }
  }
}
