import { assert } from '../../../runtime/assert.js';
import type { InFlightMessage } from './in_flight_message.js';

/**
 * One queue of one (group, topic) in the pop engine: where new messages are read from next,
 * and the messages received from it that hold the committed offset back.
 *
 * The group's committed offset of the queue is its lowest offset not yet acked: the first
 * message of `order` still in flight, or `next_offset` when none is (offsets a tag filter
 * skipped count as acked: they are never in `order`). `order` holds the received messages
 * above the committed offset in queue order — a message is only ever added above every
 * earlier one, as the queue is read forward — so the committed offset moves with a cursor
 * (`head`) over it, amortised O(1) per ack:
 *
 *     committed              head                                   next_offset
 *         v                   v                                          v
 *   order: [12 done][13 done][14 in flight][17 done][18 in flight][20 done]
 *          (passed, dropped)  ^ committed offset = 14
 *
 * An acked message left behind the head is replaced in `order` by its offset (a small
 * integer, no object): these are the "acked above the committed offset" set, bounded with
 * the in-flight ones by pop_limits.tracked_per_subscription_max.
 *
 * Owned by the broker's main thread.
 */
export class PopQueue {
  /** The next queue offset to read new messages from. */
  next_offset: number;
  /** The committed offset last handed to the offset store (or found there); -1: none yet. */
  committed_sent: number;
  /** Messages of this queue invisible, visible or being dead-lettered (not done). */
  in_flight = 0;
  /** In flight: the message; done: its queue offset. */
  private order: Array<InFlightMessage | number> = [];
  private head = 0;
  /** Absolute index of order[0]: entries keep their absolute index across compactions. */
  private base = 0;

  constructor(
    readonly group: string,
    readonly topic: string,
    readonly queue_id: number,
    start_offset: number,
  ) {
    assert(Number.isSafeInteger(start_offset) && start_offset >= 0, `queue ${topic}/${queue_id}: start offset ${start_offset} is not a non-negative integer`);
    this.next_offset = start_offset;
    this.committed_sent = start_offset;
  }

  /** Received messages above the committed offset, in flight or done. */
  get tracked(): number {
    return this.order.length - this.head;
  }

  /** The lowest offset of this queue the group has not acked. */
  committedOffset(): number {
    const first = this.order[this.head];
    if (first === undefined) return this.next_offset;
    assert(typeof first !== 'number', `queue ${this.topic}/${this.queue_id}: a done message at the head`);
    return first.queue_offset;
  }

  /** A message read from this queue for its first delivery. */
  add(entry: InFlightMessage): void {
    const last = this.order[this.order.length - 1];
    const last_offset = last === undefined ? -1 : typeof last === 'number' ? last : last.queue_offset;
    assert(entry.queue_offset > last_offset && entry.queue_offset >= this.committedOffset(), `queue ${this.topic}/${this.queue_id}: offset ${entry.queue_offset} added after ${last_offset}`);
    entry.order_index = this.base + this.order.length;
    this.order.push(entry);
    this.in_flight++;
  }

  /** Marks a message done (acked, dead-lettered, gone); returns how many left `tracked`. */
  settle(entry: InFlightMessage): number {
    const index = entry.order_index - this.base;
    assert(entry.queue === this && entry.state !== 'done' && this.order[index] === entry, `queue ${this.topic}/${this.queue_id}: offset ${entry.queue_offset} settled twice`);
    entry.state = 'done';
    entry.delivery_seq = 0;
    this.order[index] = entry.queue_offset;
    this.in_flight--;
    const before = this.head;
    while (this.head < this.order.length && typeof this.order[this.head] === 'number') this.head++;
    const released = this.head - before;
    if (this.head === this.order.length) {
      this.base += this.order.length;
      this.order = [];
      this.head = 0;
    } else if (this.head >= 1_024 && this.head * 2 >= this.order.length) {
      this.base += this.head;
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
    return released;
  }
}
