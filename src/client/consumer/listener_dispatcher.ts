import { assert } from '../../runtime/assert.js';
import type { AssignedQueue } from './assigned_queue.js';
import { messageForAttempt, type Delivery, type MessageListener } from './delivery.js';

/**
 * Runs the user's listener over the messages of all assigned queues, at most `concurrency`
 * calls at once. Queues that may have a runnable message wait in `ready`, an insertion-ordered
 * set used as a round-robin line: a queue that still has work after one message goes to the
 * back, so a busy queue cannot starve the others. Within one queue, calls start in offset
 * order; in orderly mode the queue itself allows one call at a time (AssignedQueue.runnable).
 *
 * Outcomes: a listener that resolves acks its message; one that throws (or rejects) or
 * resolves 'RETRY' fails it, and the queue sends it back to the broker or schedules a local
 * redelivery (AssignedQueue.failed).
 * Runs on the user's thread; calls interleave only at the listener's awaits.
 */
export class ListenerDispatcher {
  private readonly ready = new Set<AssignedQueue>();
  private running = 0;
  private stopped = false;

  constructor(
    private readonly concurrency: number,
    private readonly listener: MessageListener,
  ) {
    assert(Number.isInteger(concurrency) && concurrency >= 1, `listener concurrency must be a positive integer, got ${concurrency}`);
  }

  /** Listener calls running now. */
  get runningCount(): number {
    return this.running;
  }

  /** The queue may have a runnable message. */
  notify(queue: AssignedQueue): void {
    if (this.stopped) return;
    this.ready.add(queue);
    this.pump();
  }

  /** No new calls start; running ones finish and report to their queues. */
  stop(): void {
    this.stopped = true;
    this.ready.clear();
  }

  private pump(): void {
    while (this.running < this.concurrency && !this.stopped) {
      const next = this.ready.values().next();
      if (next.done === true) return;
      const queue = next.value;
      this.ready.delete(queue);
      if (!queue.runnable()) continue;
      const delivery = queue.take();
      if (queue.runnable()) this.ready.add(queue); // to the back of the line
      this.run(queue, delivery);
    }
  }

  private run(queue: AssignedQueue, delivery: Delivery): void {
    this.running++;
    const message = messageForAttempt(delivery);
    // Called from a microtask, so a listener that throws synchronously is a failure too, and
    // a long run of synchronous listeners does not recurse into pump().
    Promise.resolve()
      .then(() => this.listener(message))
      .then(
        (result) => (result === 'RETRY' ? queue.failed(delivery, 'the listener returned RETRY') : queue.acked(delivery)),
        (error: unknown) => queue.failed(delivery, error),
      )
      .finally(() => {
        this.running--;
        if (queue.runnable()) this.ready.add(queue);
        this.pump();
      });
  }
}
