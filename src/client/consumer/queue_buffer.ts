import { assert } from '../../runtime/assert.js';

export interface QueueBufferLimits {
  /** Messages held (waiting or in the listener) at which pulling pauses. */
  messages_max: number;
  /** Body bytes held at which pulling pauses. */
  bytes_max: number;
  /** Pulling resumes when both counts fall to this fraction of their maximum (hysteresis). */
  resume_fraction: number;
}

interface Held<T> {
  item: T;
  bytes: number;
}

/**
 * The local buffer of one assigned queue: messages pulled and not yet finished. A message is
 * *held* from `push` until `release` (it finished or was given up on); while held it is
 * either *waiting* (in the FIFO, for a listener slot) or out (in the listener, or waiting
 * for a retry). Pulling pauses when the held count or bytes reach their maximum and resumes
 * only when both fall to `resume_fraction` of it, so a slow listener throttles the pulls
 * (backpressure) instead of the buffer growing, and a paused queue does not flap between
 * pulling one message and pausing again.
 *
 * A pull asks for at most `room()` messages, so the count never passes its maximum; bytes
 * may pass theirs by one message (the broker returns at least one message when any matches).
 * Owned by the consumer's event loop.
 */
export class QueueBuffer<T> {
  private waiting: Array<Held<T>> = [];
  private waiting_head = 0;
  private held_count = 0;
  private held_bytes = 0;
  private paused_now = false;
  private resume_waiters: Array<() => void> = [];

  constructor(private readonly limits: QueueBufferLimits) {
    assert(Number.isInteger(limits.messages_max) && limits.messages_max >= 1, `messages_max must be a positive integer, got ${limits.messages_max}`);
    assert(Number.isInteger(limits.bytes_max) && limits.bytes_max >= 1, `bytes_max must be a positive integer, got ${limits.bytes_max}`);
    assert(limits.resume_fraction >= 0 && limits.resume_fraction < 1, `resume_fraction must be in [0, 1), got ${limits.resume_fraction}`);
  }

  get heldCount(): number {
    return this.held_count;
  }

  get heldBytes(): number {
    return this.held_bytes;
  }

  get waitingCount(): number {
    return this.waiting.length - this.waiting_head;
  }

  /** True from reaching a maximum until falling to the resume level. */
  get paused(): boolean {
    return this.paused_now;
  }

  /** How many more messages one pull may bring. */
  room(): number {
    return this.paused_now ? 0 : Math.max(0, this.limits.messages_max - this.held_count);
  }

  /** Body bytes one pull may bring (at least 1: the broker always returns one message). */
  roomBytes(): number {
    return Math.max(1, this.limits.bytes_max - this.held_bytes);
  }

  /** Adds a pulled message at the back of the waiting line; it is held until released. */
  push(item: T, bytes: number): void {
    assert(this.held_count < this.limits.messages_max, `queue buffer over its ${this.limits.messages_max} messages: pulls must ask for room() at most`);
    this.waiting.push({ item, bytes });
    this.hold(bytes);
  }

  /** The next waiting message, which stays held until released. */
  take(): T | undefined {
    if (this.waiting_head === this.waiting.length) return undefined;
    const held = this.waiting[this.waiting_head] as Held<T>;
    this.waiting[this.waiting_head] = undefined as unknown as Held<T>; // let it be collected
    this.waiting_head++;
    if (this.waiting_head === this.waiting.length) {
      this.waiting = [];
      this.waiting_head = 0;
    } else if (this.waiting_head >= 1_024 && this.waiting_head * 2 >= this.waiting.length) {
      this.waiting = this.waiting.slice(this.waiting_head);
      this.waiting_head = 0;
    }
    return held.item;
  }

  /** The next waiting message without taking it. */
  peek(): T | undefined {
    return this.waiting_head === this.waiting.length ? undefined : (this.waiting[this.waiting_head] as Held<T>).item;
  }

  /** Puts a taken, still-held message back at the front (a retry goes before newer messages). */
  putBack(item: T, bytes: number): void {
    if (this.waiting_head > 0) {
      this.waiting_head--;
      this.waiting[this.waiting_head] = { item, bytes };
    } else {
      this.waiting.unshift({ item, bytes });
    }
  }

  /** A held message is finished; may resume pulling. */
  release(bytes: number): void {
    assert(this.held_count > 0, 'queue buffer: release without a held message');
    this.held_count--;
    this.held_bytes -= bytes;
    if (this.paused_now && this.held_count <= this.limits.messages_max * this.limits.resume_fraction && this.held_bytes <= this.limits.bytes_max * this.limits.resume_fraction) {
      this.paused_now = false;
      this.wakeWaiters();
    }
  }

  /**
   * Drops every waiting message (the queue is released: they will be pulled again by its
   * next owner) and returns them; they are no longer held.
   */
  clearWaiting(): T[] {
    const dropped = this.waiting.slice(this.waiting_head);
    this.waiting = [];
    this.waiting_head = 0;
    for (const held of dropped) this.release(held.bytes);
    return dropped.map((held) => held.item);
  }

  /** Resolves when pulling may go on (at once if not paused). */
  whenResumed(): Promise<void> {
    if (!this.paused_now) return Promise.resolve();
    return new Promise((resolve) => this.resume_waiters.push(resolve));
  }

  /** Wakes whoever waits for a resume, e.g. because the queue is being released. */
  wakeWaiters(): void {
    const waiters = this.resume_waiters;
    this.resume_waiters = [];
    for (const wake of waiters) wake();
  }

  private hold(bytes: number): void {
    this.held_count++;
    this.held_bytes += bytes;
    if (this.held_count >= this.limits.messages_max || this.held_bytes >= this.limits.bytes_max) this.paused_now = true;
  }
}
