import { AssignedQueue, type AssignedQueueContext } from './assigned_queue.js';
import { messageQueueKey, sortedMessageQueues, type MessageQueue } from './message_queue.js';
import type { TagCheck } from './tag_check.js';

/**
 * The queues this member owns, and the handovers under way. A rebalance calls `apply` with
 * the queues a topic should now have: queues no longer wanted start releasing (in the
 * background: draining the listener may take a while), new ones start pulling. A queue still
 * releasing is not taken again until its release is complete (its offset committed), so
 * one member never has two pull loops on one queue.
 *
 * Handover delay: members notice a membership change at their own ticks, up to one
 * rebalance interval apart. A queue newly allocated to this member is taken only once it has
 * been allocated to it for `take_delay_ms` (one interval, give or take), which leaves the
 * previous owner a tick to release it and commit its offset first; taken at once, both would
 * consume it until that tick, and every message in between would be delivered twice.
 * Runs on the user's thread.
 */
export class QueueAssignment {
  private readonly owned = new Map<string, AssignedQueue>();
  private readonly releasing = new Map<string, Promise<unknown>>();
  /** Queues allocated to this member and not taken yet -> when first allocated (monotonic ms). */
  private readonly pending = new Map<string, number>();

  constructor(private readonly context: AssignedQueueContext) {}

  /** The owned queues (releasing ones excluded), sorted. */
  queues(): MessageQueue[] {
    return sortedMessageQueues([...this.owned.values()].map((owned) => owned.queue));
  }

  active(): AssignedQueue[] {
    return [...this.owned.values()];
  }

  /** Queues allocated but waiting for their handover delay. */
  pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Makes `target` the topic's owned queues: releases the others at once, takes new ones once
   * they were allocated for `take_delay_ms` (0: at once). True when the owned set changed.
   */
  apply(topic: string, target: readonly MessageQueue[], tags: TagCheck, now_ms: number, take_delay_ms: number): boolean {
    const wanted = new Map(target.map((queue) => [messageQueueKey(queue), queue]));
    let changed = false;
    for (const [key, owned] of this.owned) {
      if (owned.queue.topic !== topic || wanted.has(key)) continue;
      this.owned.delete(key);
      this.release(key, owned);
      changed = true;
    }
    for (const key of this.pending.keys()) {
      if (key.startsWith(`${topic}@`) && !wanted.has(key)) this.pending.delete(key);
    }
    for (const [key, queue] of wanted) {
      if (this.owned.has(key) || this.releasing.has(key)) continue;
      const since_ms = this.pending.get(key) ?? now_ms;
      if (now_ms - since_ms < take_delay_ms) {
        this.pending.set(key, since_ms);
        continue;
      }
      this.pending.delete(key);
      const owned = new AssignedQueue(queue, tags, this.context);
      this.owned.set(key, owned);
      owned.start();
      changed = true;
    }
    return changed;
  }

  /** Releases every queue; resolves when all are released (including earlier releases). */
  async releaseAll(): Promise<void> {
    this.pending.clear();
    for (const [key, owned] of this.owned) this.release(key, owned);
    this.owned.clear();
    await Promise.all([...this.releasing.values()]);
  }

  private release(key: string, owned: AssignedQueue): void {
    const done = owned.release().finally(() => this.releasing.delete(key));
    this.releasing.set(key, done);
  }
}
