import { assert } from './assert.js';
import { defineControlBlock, type ControlBlock } from './control_block.js';

/**
 * The shared layout of a single-producer single-consumer ring of variable-length records
 * (see ring.ts for the public entry). One SharedArrayBuffer holds everything:
 *
 *     0                              control_bytes                 control_bytes + capacity
 *     ┌──────────────────────────────┬──────────────────────────────────────────────────┐
 *     │ control block (ring_control) │ data: records, capacity_bytes (a power of two)   │
 *     └──────────────────────────────┴──────────────────────────────────────────────────┘
 *
 * A record, always starting at a 4-byte aligned offset of the data area:
 *
 *     ┌────────────────┬──────────────────────────┬─────────────┐
 *     │ length: u32    │ bytes: `length` bytes    │ pad to 4    │
 *     └────────────────┴──────────────────────────┴─────────────┘
 *
 * A wrap marker is a length field holding `wrap_marker` (0xFFFFFFFF): the rest of the data
 * area up to its end is skipped and the next record starts at offset 0. The u32 is in the
 * platform's byte order; both sides are threads of one process.
 *
 * Positions are byte counts since the ring was created (they never wrap: 2^53 bytes is
 * years at any rate); the offset of a position in the data area is `position & mask`.
 * The writer owns write_position, the reader owns read_position, and the bytes between
 * them belong to the reader; the rest belongs to the writer. Ownership changes hands only
 * through the Atomics store of a position, which also publishes the plain byte writes
 * that came before it.
 */
export const ring_control = defineControlBlock(
  'ring',
  {
    /** Bytes ever committed. Written by the writer only, after the record bytes; loaded by the reader. */
    write_position: 'i64',
    /** Bytes ever consumed. Written by the reader only, after it is done with the records; loaded by the writer. */
    read_position: 'i64',
    /**
     * 1 while the writer sleeps waiting for space. Set to 1 by the writer before its last
     * check for space; set back to 0 by the writer when it stops waiting, and by the reader
     * (or close) with compareExchange(1, 0) just before it notifies: the change of value is
     * what makes a wait that starts after the notify return at once (no lost wake-up).
     */
    writer_waiting: 'i32',
    /** The same protocol for the reader sleeping while the ring is empty; cleared by the writer or close. */
    reader_waiting: 'i32',
    /** 0 open, 1 closed. Set (never cleared) by either side's close(); loaded by both. */
    closed: 'i32',
    /** Set from 0 to 1 by the one RingWriter constructed over this buffer; catches a second writer. */
    writer_claimed: 'i32',
    /** Set from 0 to 1 by the one RingReader constructed over this buffer; catches a second reader. */
    reader_claimed: 'i32',
  } as const,
  // Each side writes its own slots on every record: separate cache lines keep the two
  // cores from invalidating each other's lines on every store (false sharing).
  { padding: 'cache_line' },
);

export type RingControl = ControlBlock<(typeof ring_control)['layout']>;

export const wrap_marker = 0xffff_ffff;
export const record_header_bytes = 4;
export const record_alignment_bytes = 4;
/** Smallest ring: a few records; anything smaller is a mistake. */
export const ring_capacity_bytes_min = 64;
/** Largest ring: keeps offsets within what `position & mask` and Uint32Array indexes handle. */
export const ring_capacity_bytes_max = 1 << 30;

/**
 * Waking an idle vCPU costs ~40 µs here (toolchain.md), so before sleeping a side re-checks
 * for up to this long: on a busy stream the other side usually answers sooner, and neither
 * side then pays for a futex sleep and wake. Bounded so that an idle side stops burning a core.
 */
export const spin_before_wait_ms = 0.02;
/** The clock is read once per this many checks while spinning (a clock read costs more than a check). */
export const spin_checks_per_clock_read = 16;
/** drain() hands out at most this many records per call unless told otherwise. */
export const drain_records_max_default = 4_096;

/**
 * The largest record: capacity/2 minus the length field.
 *
 * Why such a record always fits eventually: its slot takes s = header + padded length
 * bytes, with s <= capacity/2 (the bound is a multiple of 4, so padding cannot exceed it).
 * Let e be the bytes from the write offset to the end of the data area. If s <= e the record
 * goes there and needs s <= capacity free bytes. Otherwise (e < s) it needs a wrap marker
 * covering those e bytes plus s bytes at the front, e + s < 2s <= capacity. Either way the
 * need is at most capacity, so once the reader has drained everything (free = capacity)
 * the record fits. With s = capacity/2 + 4 and e = capacity/2 the need would be
 * capacity + 4, which never fits: the bound is tight.
 */
export function recordBytesMax(capacity_bytes: number): number {
  return capacity_bytes / 2 - record_header_bytes;
}

/** Bytes a record of `length` occupies in the ring: header, bytes, padding to 4. */
export function recordSlotBytes(length: number): number {
  return record_header_bytes + ((length + record_alignment_bytes - 1) & ~(record_alignment_bytes - 1));
}

export function assertRingCapacity(capacity_bytes: number): void {
  assert(
    Number.isInteger(capacity_bytes) &&
      capacity_bytes >= ring_capacity_bytes_min &&
      capacity_bytes <= ring_capacity_bytes_max &&
      (capacity_bytes & (capacity_bytes - 1)) === 0,
    `ring capacity_bytes must be a power of two in [${ring_capacity_bytes_min}, ${ring_capacity_bytes_max}], got ${capacity_bytes}`,
  );
}

/** The views both sides need over a ring buffer. */
export interface RingViews {
  readonly control: RingControl;
  readonly capacity_bytes: number;
  readonly mask: number;
  /** The data area as bytes. */
  readonly data: Uint8Array;
  /** The data area as u32, for length fields (always 4-byte aligned). */
  readonly words: Uint32Array;
}

export function ringViews(sab: SharedArrayBuffer): RingViews {
  const control = ring_control.attach(sab, 0);
  const control_bytes = ring_control.size_bytes;
  const capacity_bytes = sab.byteLength - control_bytes;
  assertRingCapacity(capacity_bytes);
  return {
    control,
    capacity_bytes,
    mask: capacity_bytes - 1,
    data: new Uint8Array(sab, control_bytes, capacity_bytes),
    words: new Uint32Array(sab, control_bytes, capacity_bytes / 4),
  };
}

/**
 * Re-checks `ready` for up to spin_before_wait_ms; true as soon as it holds. The caller
 * sleeps only when this returns false.
 */
export function spinUntil(ready: () => boolean): boolean {
  if (ready()) return true;
  const deadline_ms = performance.now() + spin_before_wait_ms;
  do {
    for (let check = 0; check < spin_checks_per_clock_read; check++) {
      if (ready()) return true;
    }
  } while (performance.now() < deadline_ms);
  return false;
}

/** Marks the ring closed and wakes whichever side sleeps. Either side may call it. */
export function closeRing(control: RingControl): void {
  const slots = control.slots;
  slots.closed.store(1);
  slots.writer_waiting.store(0);
  slots.writer_waiting.notify();
  slots.reader_waiting.store(0);
  slots.reader_waiting.notify();
}
