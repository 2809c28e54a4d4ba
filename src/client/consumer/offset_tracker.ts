import { assert } from '../../runtime/assert.js';

/**
 * The offsets of one queue between "pulled" and "acked", and from them the offset that may
 * be committed: just below the lowest offset not yet acked — or, when nothing is pending,
 * the offset the next pull starts at. Messages are acked out of order (the listener runs
 * several at once), so a committed offset never passes a message still in the listener or
 * waiting for a retry: after a crash the group resumes at or below every unfinished
 * message, which is at-least-once delivery.
 *
 *     offsets:   97  98  99 100 101 102 | 103 (next pull)
 *     acked:      ✓   ✓   ·   ✓   ·   ✓ |
 *     committable = 99 (the lowest un-acked); after 99 is acked: 101
 *
 * Offsets must be tracked in increasing order (a queue is pulled in order); acks may come
 * in any order. Pending offsets are a sorted array with a moving head: tracking appends,
 * an ack marks, and the head skips acked offsets, so every operation is amortised O(1).
 * Owned by the consumer's event loop; the pending count is bounded by the queue's buffer.
 */
export class OffsetTracker {
  private pending: number[] = [];
  private head = 0;
  private readonly acked = new Set<number>();
  private next_offset: number;

  /** `start_offset`: where pulling starts (the committed offset, or where fromWhere says). */
  constructor(start_offset: number) {
    assert(Number.isSafeInteger(start_offset) && start_offset >= 0, `start offset must be a non-negative integer, got ${start_offset}`);
    this.next_offset = start_offset;
  }

  /** Offsets pulled and not yet acked. */
  get pendingCount(): number {
    return this.pending.length - this.head - this.acked.size;
  }

  /** Where the next pull starts. */
  get nextOffset(): number {
    return this.next_offset;
  }

  /**
   * Records a pull's result: `offsets` (increasing, at or past the next offset) are now
   * pending, and the next pull starts at `next_offset` — past them, and past whatever the
   * broker skipped (messages the tag filter dropped are never pending).
   */
  track(offsets: readonly number[], next_offset: number): void {
    let last = this.pending.length > this.head ? (this.pending[this.pending.length - 1] as number) : this.next_offset - 1;
    for (const offset of offsets) {
      assert(offset > last && offset >= this.next_offset, `offset ${offset} tracked out of order (after ${last}, next ${this.next_offset})`);
      this.pending.push(offset);
      last = offset;
    }
    assert(next_offset > last && next_offset >= this.next_offset, `next offset ${next_offset} must pass the last tracked offset ${last} and not go back from ${this.next_offset}`);
    this.next_offset = next_offset;
  }

  /** The message at `offset` is done (consumed, filtered out, or given up on). */
  ack(offset: number): void {
    if (this.head < this.pending.length && offset === this.pending[this.head]) {
      this.head++;
      this.skipAcked();
      return;
    }
    assert(this.isPending(offset), `offset ${offset} acked but not pending`);
    this.acked.add(offset);
  }

  /** Whether `offset` is pulled and not yet acked. */
  isPending(offset: number): boolean {
    if (this.acked.has(offset)) return false;
    // Binary search in the live part of the sorted array.
    let low = this.head;
    let high = this.pending.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.pending[middle] as number) < offset) low = middle + 1;
      else high = middle;
    }
    return low < this.pending.length && this.pending[low] === offset;
  }

  /** The offset to commit: the lowest pending offset, or the next pull's when none is. */
  committable(): number {
    return this.head < this.pending.length ? (this.pending[this.head] as number) : this.next_offset;
  }

  /**
   * Moves the next pull elsewhere when the broker says the offset is out of its range
   * (OFFSET_MOVED). Only with nothing pending: a pending message must finish first.
   */
  moveTo(offset: number): void {
    assert(this.pendingCount === 0, `cannot move a queue's offset to ${offset} while ${this.pendingCount} messages are pending`);
    assert(Number.isSafeInteger(offset) && offset >= 0, `offset must be a non-negative integer, got ${offset}`);
    this.pending = [];
    this.head = 0;
    this.acked.clear();
    this.next_offset = offset;
  }

  private skipAcked(): void {
    while (this.head < this.pending.length && this.acked.delete(this.pending[this.head] as number)) this.head++;
    // Drop the consumed prefix once it dominates, so the array does not grow without end.
    if (this.head === this.pending.length) {
      this.pending = [];
      this.head = 0;
    } else if (this.head >= 1_024 && this.head * 2 >= this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
  }
}
