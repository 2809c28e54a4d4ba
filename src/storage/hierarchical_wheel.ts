import { assert } from '../runtime/assert.js';

/**
 * A hierarchical timing wheel for delayed messages: schedule(deliver_at_ms, offset, size) and
 * advance(now_ms) hand each entry back once its time has come. Pure: no timers, no I/O, the
 * caller passes the time in. With tick_ms 100 and level_slots [10, 60, 60, 24, 64]:
 *
 *   level 0   [0|1|2|...|9]        100 ms a slot, 1 s a turn
 *   level 1   [0|1|......|59]      1 s a slot,    1 min a turn
 *   level 2   [0|1|......|59]      1 min a slot,  1 h a turn
 *   level 3   [0|1|......|23]      1 h a slot,    1 day a turn
 *   level 4   [0|1|......|63]      1 day a slot,  64 days a turn
 *   overflow  min-heap by deliver_at, beyond the top level's turn
 *   waiting   due by tick but deliver_at not yet reached (only before the clock reaches start)
 *   due       FIFO of entries found due, emitted by advance() (at most due_max per call)
 *
 * Ticks are absolute: an entry is due at tick ceil(deliver_at_ms / tick_ms), whose mixed-radix
 * digits (radices = level_slots) name one slot per level. An entry sits at the lowest level
 * whose turn holds both its due tick and the current tick (every higher digit equal), in the
 * slot of its own digit there, which is always ahead of that level's cursor. When the tick
 * reaches a multiple of a level's slot span, that level's slot for the tick is emptied and its
 * entries re-inserted against the new tick (highest level first): they fall to lower levels,
 * and level 0's slot falls into the due list. The heap's entries move in when the top turns.
 *
 * Memory: no object per entry. An entry is an index into a pool of typed arrays (deliver_at,
 * offset, size, next), 24 bytes, plus 4 in the heap array: slot lists, the due, waiting and
 * free lists are all singly linked through `next`. The pool doubles up to entries_max.
 *
 * Cost: advance() jumps straight to the next tick where a slot is occupied (the lowest occupied
 * level's first slot ahead of its cursor comes before any event of a higher level) or the
 * heap's minimum fits, so a jump of any length costs O(moves × levels + events × slots_max),
 * where every entry moves at most levels + 1 times and every event empties at least one slot:
 * never proportional to the ticks skipped. A cascade moves a whole slot within one advance():
 * when most live entries fall due in the same coming minute (or day), that boundary moves them
 * all at once (bench/wheel_bench.ts: ~0.1 s for 1M entries), other ticks cost about a µs.
 *
 * Order: within one advance() call, entries come out in order of due tick; an entry scheduled
 * at or before the current tick counts as due at the current tick. The wheel's clock never
 * goes back: an advance() with an earlier now_ms than before acts as the latest one.
 */

export interface HierarchicalWheelOptions {
  /** Span of one slot of the lowest level, ms (e.g. 100). */
  tick_ms: number;
  /** Slots per level, lowest first, e.g. [10, 60, 60, 24, 64]; beyond the top level's span
   *  entries wait in an overflow min-heap and move into the wheel when they fit. */
  level_slots: readonly number[];
  /** Wall clock (ms since epoch) the wheel starts at: its current tick is ceil(start_ms / tick_ms). */
  start_ms: number;
  /** Bound on live entries; schedule() answers false when full. */
  entries_max: number;
  /** Initial capacity of the entry pool (grows by doubling up to entries_max). Default 1024. */
  initial_capacity?: number;
}

export const hierarchical_wheel_limits = {
  entries_max: 0x7fff_ffff, // entry indices live in Int32Arrays, -1 meaning none
  levels_max: 8,
  level_slots_max: 4096, // finding the next occupied slot scans a level linearly
  initial_capacity_default: 1024,
  size_max: 0xffff_ffff, // sizes live in a Uint32Array
} as const;

const none = -1;

export class HierarchicalWheel {
  private readonly tick_ms: number;
  private readonly entries_max: number;
  private readonly levels: number;
  private readonly level_slots: number[];
  /** span_ticks[i]: ticks per slot of level i; span_ticks[levels]: ticks per turn of the top level. */
  private readonly span_ticks: number[];
  private readonly level_first: number[]; // index of level i's slot 0 in `heads`
  private readonly heads: Int32Array; // head entry of each slot's list, all levels in one array
  /** Entries per level: an empty level is skipped without scanning its slots. */
  private readonly level_counts: Float64Array;
  private current_tick = 0;
  /** First tick past the current tick's turn of each level: a due tick below it shares that turn. */
  private readonly turn_end_ticks: Float64Array;
  private clock_ms: number; // latest now_ms seen, start_ms at first

  private capacity: number;
  private deliver_at_ms: Float64Array; // NaN marks a free entry
  private offsets: Float64Array;
  private sizes: Uint32Array;
  private next: Int32Array;
  private heap: Int32Array;
  private heap_count = 0;
  /** Indices from here up were never handed out: the pool needs no free-list set-up. */
  private fresh = 0;
  private free_head = none;
  private live = 0;
  private due_head = none;
  private due_tail = none;
  private due_count = 0;
  private waiting_head = none;
  private advancing = false;

  constructor(options: HierarchicalWheelOptions) {
    const { tick_ms, level_slots, start_ms, entries_max } = options;
    const limits = hierarchical_wheel_limits;
    assert(Number.isFinite(tick_ms) && tick_ms > 0, 'HierarchicalWheel: tick_ms must be positive');
    assert(level_slots.length >= 1 && level_slots.length <= limits.levels_max, `HierarchicalWheel: 1..${limits.levels_max} levels`);
    const good_slots = (slots: number) => Number.isInteger(slots) && slots >= 2 && slots <= limits.level_slots_max;
    assert(level_slots.every(good_slots), `HierarchicalWheel: each level has 2..${limits.level_slots_max} slots`);
    assert(Number.isFinite(start_ms) && start_ms >= 0, 'HierarchicalWheel: start_ms must be a time since the epoch');
    assert(Number.isInteger(entries_max) && entries_max >= 1 && entries_max <= limits.entries_max, 'HierarchicalWheel: bad entries_max');
    const initial_capacity = options.initial_capacity ?? limits.initial_capacity_default;
    assert(Number.isInteger(initial_capacity) && initial_capacity >= 1, 'HierarchicalWheel: bad initial_capacity');
    this.tick_ms = tick_ms;
    this.entries_max = entries_max;
    this.levels = level_slots.length;
    this.level_slots = [...level_slots];
    this.span_ticks = [1];
    this.level_first = [];
    let slot_total = 0;
    for (const slots of level_slots) {
      this.level_first.push(slot_total);
      slot_total += slots;
      this.span_ticks.push(this.span_ticks[this.span_ticks.length - 1]! * slots);
    }
    assert(this.span_ticks[this.levels]! <= Number.MAX_SAFE_INTEGER, 'HierarchicalWheel: the top turn is too long');
    this.heads = new Int32Array(slot_total).fill(none);
    this.level_counts = new Float64Array(this.levels);
    this.turn_end_ticks = new Float64Array(this.levels);
    this.setTick(Math.ceil(start_ms / tick_ms));
    this.clock_ms = start_ms;
    const capacity = (this.capacity = Math.min(initial_capacity, entries_max));
    this.deliver_at_ms = new Float64Array(capacity);
    this.offsets = new Float64Array(capacity);
    this.sizes = new Uint32Array(capacity);
    this.next = new Int32Array(capacity);
    this.heap = new Int32Array(capacity);
  }

  /** Live entries (scheduled and not yet emitted). */
  get size(): number {
    return this.live;
  }

  /** The wheel's current time: ticks processed so far × tick_ms. */
  get current_ms(): number {
    return this.current_tick * this.tick_ms;
  }

  /** Entries in the due list: emitted by the next advance(), which the caller should call at once. */
  get pending_due(): number {
    return this.due_count;
  }

  get memory_bytes(): number {
    return this.deliver_at_ms.byteLength + this.offsets.byteLength + this.sizes.byteLength + this.next.byteLength
      + this.heap.byteLength + this.heads.byteLength + this.level_counts.byteLength + this.turn_end_ticks.byteLength;
  }

  /** Adds an entry; false when entries_max are live. One at or before current_ms is due at the next advance(). */
  schedule(deliver_at_ms: number, offset: number, size: number): boolean {
    assert(Number.isFinite(deliver_at_ms), 'HierarchicalWheel.schedule: deliver_at_ms must be finite');
    assert(Number.isSafeInteger(offset), 'HierarchicalWheel.schedule: offset must be a safe integer');
    assert(Number.isInteger(size) && size >= 0 && size <= hierarchical_wheel_limits.size_max, 'HierarchicalWheel.schedule: bad size');
    const index = this.allocate();
    if (index === none) return false;
    this.deliver_at_ms[index] = deliver_at_ms;
    this.offsets[index] = offset;
    this.sizes[index] = size;
    if (deliver_at_ms > this.clock_ms && this.dueTick(index) <= this.current_tick) {
      // Due by its tick, but the clock has not reached it: only while the clock is short of the
      // start tick (start_ms not a multiple of tick_ms). Held apart so it is never emitted early.
      this.next[index] = this.waiting_head;
      this.waiting_head = index;
    } else {
      this.insert(index);
    }
    return true;
  }

  /** Moves to now_ms and emits entries with deliver_at_ms <= now_ms, at most due_max of them;
   *  the rest stay due (pending_due) for the next call. Returns how many were emitted. */
  advance(now_ms: number, due: (deliver_at_ms: number, offset: number, size: number) => void, due_max = Infinity): number {
    assert(Number.isFinite(now_ms), 'HierarchicalWheel.advance: now_ms must be finite');
    assert(due_max === Infinity || (Number.isInteger(due_max) && due_max >= 0), 'HierarchicalWheel.advance: bad due_max');
    assert(!this.advancing, 'HierarchicalWheel.advance: called again from inside its own callback');
    this.advancing = true;
    try {
      if (now_ms > this.clock_ms) this.clock_ms = now_ms;
      if (this.waiting_head !== none) this.releaseWaiting();
      const target_tick = Math.floor(this.clock_ms / this.tick_ms);
      let emitted = 0;
      for (;;) {
        emitted += this.drainDue(due, due_max - emitted);
        if (this.current_tick >= target_tick) break;
        if (emitted >= due_max) {
          // Step on until something is due, so that pending_due tells the caller to come back now.
          while (this.due_count === 0 && this.current_tick < target_tick) this.step(target_tick);
          break;
        }
        this.step(target_tick);
      }
      return emitted;
    } finally {
      this.advancing = false;
    }
  }

  /** Smallest offset among live entries, or undefined when empty. O(capacity): for rare use. */
  minOffset(): number | undefined {
    let min: number | undefined;
    for (let index = 0; index < this.fresh; index++) {
      if (Number.isNaN(this.deliver_at_ms[index]!)) continue;
      const offset = this.offsets[index]!;
      if (min === undefined || offset < min) min = offset;
    }
    return min;
  }

  private dueTick(index: number): number {
    return Math.ceil(this.deliver_at_ms[index]! / this.tick_ms);
  }

  /** Places an entry against the current tick: due list, the lowest level sharing its turn, or the heap. */
  private insert(index: number): void {
    const due_tick = this.dueTick(index);
    if (due_tick <= this.current_tick) {
      this.pushDue(index);
      return;
    }
    for (let level = 0; level < this.levels; level++) {
      if (due_tick >= this.turn_end_ticks[level]!) continue;
      const slot = this.level_first[level]! + (Math.floor(due_tick / this.span_ticks[level]!) % this.level_slots[level]!);
      this.next[index] = this.heads[slot]!;
      this.heads[slot] = index;
      this.level_counts[level]!++;
      return;
    }
    this.heapPush(index);
  }

  /** Moves to the next event tick if it is <= target_tick and processes it; else jumps to target_tick. */
  private step(target_tick: number): void {
    const event_tick = this.nextEventTick();
    if (event_tick > target_tick) {
      this.setTick(target_tick);
      return;
    }
    this.setTick(event_tick);
    const top_turn_ticks = this.span_ticks[this.levels]!;
    if (event_tick % top_turn_ticks === 0) {
      const turn_end_tick = event_tick + top_turn_ticks;
      while (this.heap_count > 0 && this.dueTick(this.heap[0]!) < turn_end_tick) this.insert(this.heapPop());
    }
    // Highest level first; level 0's slot falls into the due list through insert().
    for (let level = this.levels - 1; level >= 0; level--) {
      const slot_ticks = this.span_ticks[level]!;
      if (event_tick % slot_ticks !== 0) continue;
      const slot = this.level_first[level]! + (Math.floor(event_tick / slot_ticks) % this.level_slots[level]!);
      let index = this.heads[slot]!;
      this.heads[slot] = none;
      while (index !== none) {
        const following = this.next[index]!;
        this.level_counts[level]!--;
        this.insert(index);
        index = following;
      }
    }
  }

  private setTick(tick: number): void {
    this.current_tick = tick;
    for (let level = 0; level < this.levels; level++) {
      const turn_ticks = this.span_ticks[level + 1]!;
      this.turn_end_ticks[level] = (Math.floor(tick / turn_ticks) + 1) * turn_ticks;
    }
  }

  /** The first tick after the current one where a slot empties or the heap's minimum fits; Infinity when idle. */
  private nextEventTick(): number {
    const now_tick = this.current_tick;
    for (let level = 0; level < this.levels; level++) {
      if (this.level_counts[level] === 0) continue;
      const slot_ticks = this.span_ticks[level]!;
      const turn_start_tick = this.turn_end_ticks[level]! - this.span_ticks[level + 1]!;
      const slots = this.level_slots[level]!;
      const first = this.level_first[level]!;
      // Every occupied slot is ahead of the cursor in this turn (see insert()).
      for (let digit = (Math.floor(now_tick / slot_ticks) % slots) + 1; digit < slots; digit++) {
        if (this.heads[first + digit] !== none) return turn_start_tick + digit * slot_ticks;
      }
      assert(false, `HierarchicalWheel: level ${level} counts entries but has none ahead of its cursor`);
    }
    if (this.heap_count === 0) return Infinity;
    const top_turn_ticks = this.span_ticks[this.levels]!;
    return Math.floor(this.dueTick(this.heap[0]!) / top_turn_ticks) * top_turn_ticks;
  }

  private pushDue(index: number): void {
    this.next[index] = none;
    if (this.due_tail === none) this.due_head = index;
    else this.next[this.due_tail] = index;
    this.due_tail = index;
    this.due_count++;
  }

  private drainDue(due: (deliver_at_ms: number, offset: number, size: number) => void, limit: number): number {
    let count = 0;
    while (count < limit && this.due_head !== none) {
      const index = this.due_head;
      this.due_head = this.next[index]!;
      if (this.due_head === none) this.due_tail = none;
      this.due_count--;
      const deliver_at_ms = this.deliver_at_ms[index]!;
      const offset = this.offsets[index]!;
      const size = this.sizes[index]!;
      // Freed before the callback, so the callback may schedule into the slot it frees.
      this.release(index);
      count++;
      due(deliver_at_ms, offset, size);
    }
    return count;
  }

  /** Moves waiting entries the clock has reached into the due list (they are all due at the current tick). */
  private releaseWaiting(): void {
    let index = this.waiting_head;
    this.waiting_head = none;
    while (index !== none) {
      const following = this.next[index]!;
      if (this.deliver_at_ms[index]! <= this.clock_ms) {
        this.pushDue(index);
      } else {
        this.next[index] = this.waiting_head;
        this.waiting_head = index;
      }
      index = following;
    }
  }

  private allocate(): number {
    let index = this.free_head;
    if (index !== none) {
      this.free_head = this.next[index]!;
    } else {
      if (this.fresh === this.capacity) {
        if (this.capacity === this.entries_max) return none;
        this.grow();
      }
      index = this.fresh++;
    }
    this.live++;
    return index;
  }

  private release(index: number): void {
    this.deliver_at_ms[index] = NaN;
    this.next[index] = this.free_head;
    this.free_head = index;
    this.live--;
  }

  private grow(): void {
    const capacity = Math.min(this.capacity * 2, this.entries_max);
    const copy = <T extends Float64Array | Uint32Array | Int32Array>(from: T, to: T): T => (to.set(from), to);
    this.deliver_at_ms = copy(this.deliver_at_ms, new Float64Array(capacity));
    this.offsets = copy(this.offsets, new Float64Array(capacity));
    this.sizes = copy(this.sizes, new Uint32Array(capacity));
    this.next = copy(this.next, new Int32Array(capacity));
    this.heap = copy(this.heap, new Int32Array(capacity));
    this.capacity = capacity;
  }

  /** Binary min-heap of entry indices keyed by deliver_at_ms (the same order as by due tick). */
  private heapPush(index: number): void {
    const heap = this.heap;
    const key = this.deliver_at_ms[index]!;
    let position = this.heap_count++;
    while (position > 0) {
      const parent = (position - 1) >> 1;
      if (this.deliver_at_ms[heap[parent]!]! <= key) break;
      heap[position] = heap[parent]!;
      position = parent;
    }
    heap[position] = index;
  }

  private heapPop(): number {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap[--this.heap_count]!;
    const key = this.deliver_at_ms[last]!;
    let position = 0;
    for (;;) {
      let child = 2 * position + 1;
      if (child >= this.heap_count) break;
      if (child + 1 < this.heap_count && this.deliver_at_ms[heap[child + 1]!]! < this.deliver_at_ms[heap[child]!]!) child++;
      if (this.deliver_at_ms[heap[child]!]! >= key) break;
      heap[position] = heap[child]!;
      position = child;
    }
    heap[position] = last;
    return top;
  }
}
