import { isMainThread } from 'node:worker_threads';
import { assert, AssertionFailure } from './assert.js';

/**
 * Control blocks: named integer slots in a SharedArrayBuffer that any thread can read
 * without a message (write/flush positions, waiting flags, closed flags).
 *
 * A block is declared once, in the file of the structure that owns it, next to a comment
 * per slot saying which thread writes it and who only reads it:
 *
 *     const ring_control = defineControlBlock('ring', {
 *       write_position: 'i64', // written by the writer only; the reader loads it
 *       reader_waiting: 'i32', // set by the reader before it sleeps, cleared by whoever wakes it
 *     } as const);
 *     const block = ring_control.create();         // on the owning thread
 *     worker.postMessage(block.sab);               // SharedArrayBuffers are shared, not copied
 *     const same = ring_control.attach(sab);       // on the other thread
 *     same.slots.write_position.load();            // or same.load('write_position')
 *
 * Every access is an Atomics operation (sequentially consistent), so a plain write made
 * before a `store` is visible to a thread that `load`s the stored value.
 *
 * Layout (i64 slots first so that they are 8-byte aligned, then i32 slots):
 *
 *     packed:
 *     0            4            8            16                  8+8n        8+8n+4
 *     ┌────────────┬────────────┬────────────┬─────┬─────────────┬───────────┬─────┐
 *     │fingerprint │ (reserved) │ i64 slot 0 │ ... │ i64 slot n-1│ i32 slot 0│ ... │
 *     │    i32     │    i32     │  8 bytes   │     │             │  4 bytes  │     │
 *     └────────────┴────────────┴────────────┴─────┴─────────────┴───────────┴─────┘
 *
 *     cache_line: the header and then every slot start their own 64-byte line, so that
 *     slots written by different threads never share a cache line (no false sharing).
 *
 * The fingerprint is a hash of the block's name and layout, written by `create` and checked
 * by `attach`, so re-wrapping a buffer with the wrong declaration fails at once instead of
 * reading garbage.
 */

export type SlotType = 'i32' | 'i64';
export type ControlBlockLayout = { readonly [slot: string]: SlotType };
export type SlotPadding = 'packed' | 'cache_line';

export type I32SlotName<L extends ControlBlockLayout> = {
  [K in keyof L]: L[K] extends 'i32' ? K : never;
}[keyof L] &
  string;
export type SlotName<L extends ControlBlockLayout> = keyof L & string;
export type SlotsOf<L extends ControlBlockLayout> = {
  readonly [K in keyof L]: L[K] extends 'i32' ? I32Slot : I64Slot;
};

/** What Atomics.wait / waitAsync report: woken by notify, value already different, or timed out. */
export type WaitResult = 'ok' | 'not-equal' | 'timed-out';

export const cache_line_bytes = 64;
/** Byte offset at which a block may start inside a larger buffer (BigInt64Array alignment). */
export const control_block_alignment_bytes = 8;
const header_bytes = 8;
const fingerprint_index = 0;
/** A pending waitAsync must not outlast this; callers pass a bounded timeout. */
export const wait_timeout_ms_max = 24 * 60 * 60 * 1000;

const min_safe_bigint = BigInt(Number.MIN_SAFE_INTEGER);
const max_safe_bigint = BigInt(Number.MAX_SAFE_INTEGER);

type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
type WaitAsyncFunction = (cells: Int32Array, index: number, expected: number, timeout_ms: number) => WaitAsyncResult;
/** Atomics.waitAsync exists on Node 20 but is typed only in lib ES2024; tsconfig targets ES2023. */
const atomics_wait_async = (Atomics as unknown as { waitAsync?: WaitAsyncFunction }).waitAsync;

function assertTimeout(timeout_ms: number): void {
  assert(
    Number.isFinite(timeout_ms) && timeout_ms >= 0 && timeout_ms <= wait_timeout_ms_max,
    `wait timeout_ms must be a finite number in [0, ${wait_timeout_ms_max}], got ${timeout_ms}`,
  );
}

/**
 * Slot methods sit on hot paths: their checks build a message only when they fail (a
 * template literal passed to assert() would build a string on every call).
 */
function fail(message: string): never {
  throw new AssertionFailure(message);
}

/** One 32-bit slot. Its methods are thin wrappers over Atomics on a fixed index. */
export class I32Slot {
  constructor(
    readonly name: string,
    private readonly cells: Int32Array,
    private readonly index: number,
  ) {}

  load(): number {
    return Atomics.load(this.cells, this.index);
  }

  store(value: number): void {
    if ((value | 0) !== value) fail(`slot ${this.name} is i32; cannot store ${value}`);
    Atomics.store(this.cells, this.index, value);
  }

  /** Adds delta (wrapping at 32 bits) and returns the previous value. */
  add(delta: number): number {
    if ((delta | 0) !== delta) fail(`slot ${this.name} is i32; cannot add ${delta}`);
    return Atomics.add(this.cells, this.index, delta);
  }

  /** Stores replacement if the slot holds expected; returns the value it held before either way. */
  compareExchange(expected: number, replacement: number): number {
    if ((replacement | 0) !== replacement) fail(`slot ${this.name} is i32; cannot store ${replacement}`);
    return Atomics.compareExchange(this.cells, this.index, expected, replacement);
  }

  /**
   * Sleeps while the slot holds `expected`, until notified or timed out. Worker threads only:
   * on the main thread it would block the event loop (use waitAsync there).
   */
  wait(expected: number, timeout_ms: number): WaitResult {
    assert(
      !isMainThread,
      `slot ${this.name}: Atomics.wait would block the main thread's event loop; use waitAsync on the main thread`,
    );
    assertTimeout(timeout_ms);
    return Atomics.wait(this.cells, this.index, expected, timeout_ms);
  }

  /**
   * Resolves when the slot no longer holds `expected` after a notify, or at the timeout.
   * Usable on any thread. A pending Atomics.waitAsync alone does not keep Node's event loop
   * alive (the process would exit under it), so a timer is held until it settles.
   */
  waitAsync(expected: number, timeout_ms: number): Promise<WaitResult> {
    assertTimeout(timeout_ms);
    assert(atomics_wait_async !== undefined, 'Atomics.waitAsync is missing: Node 20 or newer is required');
    const result = atomics_wait_async(this.cells, this.index, expected, timeout_ms);
    if (!result.async) return Promise.resolve(result.value);
    // The timer fires only if waitAsync somehow outlives its own timeout; it just holds the loop.
    const keep_alive = setTimeout(() => undefined, timeout_ms + 1_000);
    return result.value.then((value) => {
      clearTimeout(keep_alive);
      return value;
    });
  }

  /** Wakes up to `count` waiters (sync and async) on this slot; returns how many were woken. */
  notify(count = Infinity): number {
    return Atomics.notify(this.cells, this.index, count);
  }
}

/**
 * One 64-bit slot for positions and counters. Stored as BigInt64 but read and written as
 * `number`: every value must be a safe integer (|v| < 2^53), which is asserted both ways.
 */
export class I64Slot {
  constructor(
    readonly name: string,
    private readonly cells: BigInt64Array,
    private readonly index: number,
  ) {}

  load(): number {
    const value = Atomics.load(this.cells, this.index);
    if (value < min_safe_bigint || value > max_safe_bigint) fail(`slot ${this.name} holds ${value}, outside the safe integer range`);
    return Number(value);
  }

  store(value: number): void {
    if (!Number.isSafeInteger(value)) fail(`slot ${this.name} is i64 read as number; cannot store ${value} (not a safe integer)`);
    Atomics.store(this.cells, this.index, BigInt(value));
  }

  /** Adds delta and returns the previous value. */
  add(delta: number): number {
    if (!Number.isSafeInteger(delta)) fail(`slot ${this.name}: cannot add ${delta} (not a safe integer)`);
    const previous = Number(Atomics.add(this.cells, this.index, BigInt(delta)));
    if (!Number.isSafeInteger(previous + delta)) fail(`slot ${this.name} overflowed the safe integer range`);
    return previous;
  }

  /** Stores replacement if the slot holds expected; returns the value it held before either way. */
  compareExchange(expected: number, replacement: number): number {
    if (!Number.isSafeInteger(expected) || !Number.isSafeInteger(replacement)) {
      fail(`slot ${this.name}: compareExchange takes safe integers, got ${expected} and ${replacement}`);
    }
    return Number(Atomics.compareExchange(this.cells, this.index, BigInt(expected), BigInt(replacement)));
  }
}

interface SlotPlacement {
  readonly name: string;
  readonly type: SlotType;
  /** Index in the Int32Array (i32) or BigInt64Array (i64) view that starts at the block. */
  readonly index: number;
}

/** FNV-1a over the declaration's text; never 0, so a zeroed buffer never passes `attach`. */
function fingerprintOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash | 0) === 0 ? 1 : hash | 0;
}

/** A declared layout: knows the size and slot offsets; creates new blocks or wraps received ones. */
export class ControlBlockDefinition<L extends ControlBlockLayout> {
  readonly size_bytes: number;
  readonly fingerprint: number;
  private readonly placements: readonly SlotPlacement[];

  constructor(
    readonly name: string,
    readonly layout: L,
    readonly padding: SlotPadding,
  ) {
    const names = Object.keys(layout);
    assert(names.length > 0, `control block ${name} declares no slots`);
    const i64_names = names.filter((slot) => layout[slot] === 'i64');
    const i32_names = names.filter((slot) => layout[slot] === 'i32');
    assert(i64_names.length + i32_names.length === names.length, `control block ${name}: slot types must be 'i32' or 'i64'`);
    const placements: SlotPlacement[] = [];
    let offset_bytes = padding === 'cache_line' ? cache_line_bytes : header_bytes;
    const stride_of = (type: SlotType): number => (padding === 'cache_line' ? cache_line_bytes : type === 'i64' ? 8 : 4);
    for (const slot of i64_names) {
      placements.push({ name: slot, type: 'i64', index: offset_bytes / 8 });
      offset_bytes += stride_of('i64');
    }
    for (const slot of i32_names) {
      placements.push({ name: slot, type: 'i32', index: offset_bytes / 4 });
      offset_bytes += stride_of('i32');
    }
    // Round up so that a block followed by other data in the same buffer keeps alignment.
    const round_to = padding === 'cache_line' ? cache_line_bytes : control_block_alignment_bytes;
    this.size_bytes = Math.ceil(offset_bytes / round_to) * round_to;
    this.placements = placements;
    this.fingerprint = fingerprintOf(JSON.stringify([name, padding, placements]));
  }

  /** A new zeroed block in its own SharedArrayBuffer. */
  create(): ControlBlock<L> {
    return this.createIn(new SharedArrayBuffer(this.size_bytes), 0);
  }

  /** Initialises a block inside a larger buffer (for example a ring's header). */
  createIn(sab: SharedArrayBuffer, byte_offset: number): ControlBlock<L> {
    const header = this.headerView(sab, byte_offset);
    assert(Atomics.load(header, fingerprint_index) === 0, `control block ${this.name}: the buffer at offset ${byte_offset} is already in use`);
    Atomics.store(header, fingerprint_index, this.fingerprint);
    return new ControlBlock(this, sab, byte_offset, this.placements);
  }

  /** Wraps a block created elsewhere (typically received through postMessage or workerData). */
  attach(sab: SharedArrayBuffer, byte_offset = 0): ControlBlock<L> {
    const header = this.headerView(sab, byte_offset);
    const found = Atomics.load(header, fingerprint_index);
    assert(
      found === this.fingerprint,
      `control block ${this.name}: fingerprint ${found} at offset ${byte_offset} does not match ${this.fingerprint}; ` +
        'the buffer was created by a different declaration (or never initialised)',
    );
    return new ControlBlock(this, sab, byte_offset, this.placements);
  }

  private headerView(sab: SharedArrayBuffer, byte_offset: number): Int32Array {
    assert(sab instanceof SharedArrayBuffer, `control block ${this.name} needs a SharedArrayBuffer`);
    assert(
      Number.isInteger(byte_offset) && byte_offset >= 0 && byte_offset % control_block_alignment_bytes === 0,
      `control block ${this.name}: byte_offset ${byte_offset} must be a non-negative multiple of ${control_block_alignment_bytes}`,
    );
    assert(
      byte_offset + this.size_bytes <= sab.byteLength,
      `control block ${this.name} needs ${this.size_bytes} bytes at offset ${byte_offset}; the buffer has ${sab.byteLength}`,
    );
    return new Int32Array(sab, byte_offset, header_bytes / 4);
  }
}

/**
 * Declares a control block. Slot order in the declaration does not matter; the layout is
 * derived deterministically from it, so both threads compute the same offsets.
 */
export function defineControlBlock<L extends ControlBlockLayout>(
  name: string,
  layout: L,
  options: { padding?: SlotPadding } = {},
): ControlBlockDefinition<L> {
  return new ControlBlockDefinition(name, layout, options.padding ?? 'packed');
}

/**
 * A live block over shared memory. Any thread may hold one over the same buffer; the
 * declaration's comments say which thread may write each slot.
 */
export class ControlBlock<L extends ControlBlockLayout> {
  /** Slot handles: `block.slots.write_position.load()`. Hot paths keep a handle in a field. */
  readonly slots: SlotsOf<L>;

  constructor(
    readonly definition: ControlBlockDefinition<L>,
    readonly sab: SharedArrayBuffer,
    readonly byte_offset: number,
    placements: readonly SlotPlacement[],
  ) {
    const size_bytes = definition.size_bytes;
    const i32_cells = new Int32Array(sab, byte_offset, size_bytes / 4);
    const i64_cells = new BigInt64Array(sab, byte_offset, size_bytes / 8);
    const slots: Record<string, I32Slot | I64Slot> = {};
    for (const placement of placements) {
      slots[placement.name] =
        placement.type === 'i32'
          ? new I32Slot(placement.name, i32_cells, placement.index)
          : new I64Slot(placement.name, i64_cells, placement.index);
    }
    this.slots = Object.freeze(slots) as SlotsOf<L>;
  }

  load(slot: SlotName<L>): number {
    return this.slot(slot).load();
  }

  store(slot: SlotName<L>, value: number): void {
    this.slot(slot).store(value);
  }

  add(slot: SlotName<L>, delta: number): number {
    return this.slot(slot).add(delta);
  }

  compareExchange(slot: SlotName<L>, expected: number, replacement: number): number {
    return this.slot(slot).compareExchange(expected, replacement);
  }

  wait(slot: I32SlotName<L>, expected: number, timeout_ms: number): WaitResult {
    return this.i32Slot(slot).wait(expected, timeout_ms);
  }

  waitAsync(slot: I32SlotName<L>, expected: number, timeout_ms: number): Promise<WaitResult> {
    return this.i32Slot(slot).waitAsync(expected, timeout_ms);
  }

  notify(slot: I32SlotName<L>, count = Infinity): number {
    return this.i32Slot(slot).notify(count);
  }

  private slot(slot: SlotName<L>): I32Slot | I64Slot {
    const handle = (this.slots as Record<string, I32Slot | I64Slot | undefined>)[slot];
    assert(handle !== undefined, `control block ${this.definition.name} has no slot named ${slot}`);
    return handle;
  }

  private i32Slot(slot: I32SlotName<L>): I32Slot {
    const handle = this.slot(slot);
    assert(handle instanceof I32Slot, `control block ${this.definition.name}: slot ${slot} is not i32; only i32 slots can be waited on`);
    return handle;
  }
}
