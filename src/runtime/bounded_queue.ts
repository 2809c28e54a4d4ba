import { assert } from './assert.js';

/**
 * A FIFO queue over a growable ring array with a hard capacity. `push` answers false when
 * full: callers turn that into backpressure (a BUSY reply), never into silent growth.
 * O(1) push and shift, unlike Array.prototype.shift on large arrays.
 */
export class BoundedQueue<T> {
  private slots: Array<T | undefined>;
  private head = 0;
  private count = 0;

  constructor(readonly capacity_max: number, initial_slots = 16) {
    assert(Number.isInteger(capacity_max) && capacity_max > 0, 'BoundedQueue: capacity_max must be a positive integer');
    this.slots = new Array<T | undefined>(Math.min(initial_slots, capacity_max));
  }

  get length(): number {
    return this.count;
  }

  push(item: T): boolean {
    if (this.count === this.capacity_max) return false;
    if (this.count === this.slots.length) this.grow();
    this.slots[(this.head + this.count) % this.slots.length] = item;
    this.count++;
    return true;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.slots[this.head];
    this.slots[this.head] = undefined; // let the message be collected
    this.head = (this.head + 1) % this.slots.length;
    this.count--;
    return item;
  }

  /** Removes and returns everything queued, oldest first. */
  drainAll(): T[] {
    const items: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) items.push(item);
    return items;
  }

  private grow(): void {
    const larger = new Array<T | undefined>(Math.min(this.slots.length * 2, this.capacity_max));
    for (let i = 0; i < this.count; i++) larger[i] = this.slots[(this.head + i) % this.slots.length];
    this.slots = larger;
    this.head = 0;
  }
}
