import { assert } from '../../../runtime/assert.js';
import { HierarchicalWheel } from '../../../storage/hierarchical_wheel.js';
import type { InFlightMessage } from './in_flight_message.js';
import { pop_wheel_shape } from './pop_limits.js';

/**
 * The engine's index of deliveries: receipt-handle sequence → in-flight message, and every
 * invisible message's deadline in a timing wheel (storage/hierarchical_wheel.ts, the
 * structure of the timing-wheel actor, here in memory on the main thread).
 *
 * The wheel has no delete. An ack, a new invisible duration or a redelivery leaves the old
 * deadline in the wheel; when it fires, it is dropped unless it still matches its message
 * (same sequence, still invisible, same deadline). The wheel's entries are an entry's sequence
 * (its `offset` field) and deadline, so a stale one costs 28 bytes until it fires; the
 * engine bounds them through `client_room` (see there).
 *
 * Owned by the broker's main thread.
 */
export class InFlightTable {
  private readonly by_seq = new Map<number, InFlightMessage>();
  private readonly wheel: HierarchicalWheel;
  private next_seq = 1;

  constructor(
    now_ms: number,
    private readonly wheel_entries_max: number,
    /** Deadlines kept for messages in flight whatever clients do (in_flight_total_max). */
    private readonly reserved_entries: number,
  ) {
    assert(reserved_entries < wheel_entries_max, 'the wheel must hold more deadlines than it reserves');
    this.wheel = new HierarchicalWheel({ ...pop_wheel_shape, start_ms: now_ms, entries_max: wheel_entries_max });
  }

  /** Receipt handles that ack something now. */
  get named(): number {
    return this.by_seq.size;
  }

  get wheel_entries(): number {
    return this.wheel.size;
  }

  /**
   * Deadlines a client's request may still add (a delivery or a new invisible duration).
   * `reserved_entries` are kept back: each message in flight holds at most one live deadline,
   * so a deadline the engine itself sets (a dead letter that failed, tried again later) always
   * fits, however many stale deadlines clients made.
   */
  get client_room(): number {
    return Math.max(0, this.wheel_entries_max - this.reserved_entries - this.wheel.size);
  }

  find(delivery_seq: number): InFlightMessage | undefined {
    return this.by_seq.get(delivery_seq);
  }

  /**
   * Makes the message invisible until `deadline_ms` under a new handle sequence (every
   * earlier handle goes stale), or under its current one with `keep_seq` (a forward to the
   * dead letters that failed: the client tries again with the handle it has).
   */
  schedule(entry: InFlightMessage, deadline_ms: number, keep_seq = false): number {
    let seq = entry.delivery_seq;
    if (!keep_seq || seq === 0) {
      if (seq !== 0) this.by_seq.delete(seq);
      seq = this.next_seq++;
    }
    entry.delivery_seq = seq;
    entry.deadline_ms = deadline_ms;
    entry.state = 'invisible';
    this.by_seq.set(seq, entry);
    // Callers checked client_room (or hold a reserved place): a full wheel here is a bug.
    assert(this.wheel.schedule(deadline_ms, seq, 0), `the invisibility wheel is full (${this.wheel.size} deadlines)`);
    return seq;
  }

  /** Visible now, under a new handle sequence (ChangeInvisibleDuration with 0): no deadline
   *  in the wheel, whose ticks would make it wait up to one tick. */
  reveal(entry: InFlightMessage): number {
    if (entry.delivery_seq !== 0) this.by_seq.delete(entry.delivery_seq);
    const seq = this.next_seq++;
    entry.delivery_seq = seq;
    entry.state = 'visible';
    this.by_seq.set(seq, entry);
    return seq;
  }

  /** No handle names the message any more (acked, dead-lettered, or gone). A message on
   *  its way to the dead letters keeps its handle, which resolve() refuses meanwhile. */
  unname(entry: InFlightMessage): void {
    if (entry.delivery_seq !== 0) this.by_seq.delete(entry.delivery_seq);
    entry.delivery_seq = 0;
  }

  /** Calls `expired` for each invisible message whose deadline is at or before `now_ms`. */
  expire(now_ms: number, expired: (entry: InFlightMessage) => void): void {
    this.wheel.advance(now_ms, (deadline_ms, seq) => {
      const entry = this.by_seq.get(seq);
      if (entry === undefined || entry.state !== 'invisible' || entry.deadline_ms !== deadline_ms) return;
      expired(entry);
    });
  }
}
