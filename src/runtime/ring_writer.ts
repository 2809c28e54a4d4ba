import { assert, AssertionFailure } from './assert.js';
import type { I32Slot, I64Slot } from './control_block.js';
import { MqError } from './errors.js';
import {
  closeRing,
  record_header_bytes,
  recordBytesMax,
  recordSlotBytes,
  ringViews,
  wrap_marker,
  type RingControl,
} from './ring_layout.js';
import { waitUntil, waitUntilAsync, wakeIfWaiting, type RingSideStats } from './ring_wait.js';

/**
 * The producing end of a ring (layout in ring_layout.ts). Owned by one thread; exactly one
 * RingWriter may exist per ring buffer (checked through the writer_claimed slot). It runs
 * concurrently with the RingReader on another thread and shares only the ring buffer.
 *
 * Hot path: a write is one copy of the caller's bytes into shared memory, then publishing
 * is one Atomics store of write_position and one Atomics load of reader_waiting, once per
 * record (tryWrite, commit) or once per batch (tryAppend / commitAppend, then publish).
 * The read position is loaded only when the cached copy says the ring is full.
 */
export class RingWriter {
  readonly capacity_bytes: number;
  /** The largest record this ring takes (capacity/2 - 4); longer ones are MESSAGE_TOO_LARGE. */
  readonly record_bytes_max: number;
  readonly stats: RingSideStats = { sleeps: 0, notifies: 0 };

  private readonly control: RingControl;
  private readonly mask: number;
  private readonly data: Uint8Array;
  private readonly words: Uint32Array;
  private readonly write_position_slot: I64Slot;
  private readonly read_position_slot: I64Slot;
  private readonly writer_waiting_slot: I32Slot;
  private readonly reader_waiting_slot: I32Slot;
  private readonly closed_slot: I32Slot;

  /** Where the next record goes: includes appended records not yet published. */
  private write_position: number;
  /** The value last stored in the write_position slot (this thread is its only writer). */
  private published_position: number;
  /** A possibly stale read_position: the reader only moves it forward, so stale means "less free". */
  private read_position_cached: number;
  /** Data offset of the reserved record's length field, or -1 when nothing is reserved. */
  private reserved_offset = -1;
  private reserved_length = 0;
  /** Bytes skipped by a wrap marker in front of the reserved record (0 when it did not wrap). */
  private reserved_skip_bytes = 0;

  constructor(sab: SharedArrayBuffer) {
    const views = ringViews(sab);
    this.control = views.control;
    this.capacity_bytes = views.capacity_bytes;
    this.record_bytes_max = recordBytesMax(views.capacity_bytes);
    this.mask = views.mask;
    this.data = views.data;
    this.words = views.words;
    const slots = views.control.slots;
    this.write_position_slot = slots.write_position;
    this.read_position_slot = slots.read_position;
    this.writer_waiting_slot = slots.writer_waiting;
    this.reader_waiting_slot = slots.reader_waiting;
    this.closed_slot = slots.closed;
    assert(
      slots.writer_claimed.compareExchange(0, 1) === 0,
      'this ring already has a writer: a ring is single-producer; create one ring per writing thread',
    );
    this.write_position = this.write_position_slot.load();
    this.published_position = this.write_position;
    this.read_position_cached = this.read_position_slot.load();
  }

  /** Writes one record (one copy of `bytes`) and publishes it; false when the ring is full (backpressure). */
  tryWrite(bytes: Uint8Array): boolean {
    if (!this.tryAppend(bytes)) return false;
    this.publish();
    return true;
  }

  /**
   * Writes one record without publishing it: the reader sees it at the next publish() (or
   * any publishing call). Publishing once per batch saves an Atomics store per record and
   * keeps the shared cache line still while the batch is written. When the ring is full,
   * what was appended is published first (the reader could never make room otherwise) and
   * the answer is false.
   */
  tryAppend(bytes: Uint8Array): boolean {
    const offset = this.reserveOffset(bytes.length);
    if (offset < 0) return false;
    this.data.set(bytes, offset);
    this.commitAppend();
    return true;
  }

  /** Makes every appended record visible to the reader, and wakes the reader if it sleeps. */
  publish(): void {
    if (this.write_position === this.published_position) return;
    this.published_position = this.write_position;
    // The Atomics store publishes the plain writes before it (lengths, bytes, wrap markers).
    this.write_position_slot.store(this.write_position);
    wakeIfWaiting(this.reader_waiting_slot, this.stats);
  }

  /**
   * Writes one record, sleeping while the ring is full. Worker threads only (Atomics.wait).
   * Throws MqError TIMEOUT if the reader frees no room in time, SHUTTING_DOWN if the ring
   * is closed, MESSAGE_TOO_LARGE if the record can never fit.
   */
  write(bytes: Uint8Array, timeout_ms: number): void {
    if (this.tryWrite(bytes)) return;
    if (!waitUntil(this.writer_waiting_slot, () => this.tryWrite(bytes), timeout_ms, this.stats)) {
      throw this.timeoutError(bytes.length, timeout_ms);
    }
  }

  /** write() for the main thread: waits with Atomics.waitAsync, so the event loop keeps running. */
  async writeAsync(bytes: Uint8Array, timeout_ms: number): Promise<void> {
    if (this.tryWrite(bytes)) return;
    if (!(await waitUntilAsync(this.writer_waiting_slot, () => this.tryWrite(bytes), timeout_ms, this.stats))) {
      throw this.timeoutError(bytes.length, timeout_ms);
    }
  }

  /**
   * Reserves room for a record of up to `length` bytes and returns a view to fill in place
   * (no temporary buffer). Nothing is visible to the reader until commit(). Returns null when
   * the ring is full. At most one reservation is open at a time.
   */
  tryReserve(length: number): Uint8Array | null {
    const offset = this.reserveOffset(length);
    return offset < 0 ? null : this.data.subarray(offset, offset + length);
  }

  /**
   * tryReserve, sleeping while the ring is full. Worker threads only (Atomics.wait). Throws
   * like write(). The returned view is the caller's until commit() or cancelReservation().
   */
  reserve(length: number, timeout_ms: number): Uint8Array {
    let view = this.tryReserve(length);
    if (view !== null) return view;
    const reserved = () => (view = this.tryReserve(length)) !== null;
    if (!waitUntil(this.writer_waiting_slot, reserved, timeout_ms, this.stats)) throw this.timeoutError(length, timeout_ms);
    assert(view !== null, 'reserve: waitUntil returned true without a reservation');
    return view;
  }

  /** reserve() for the main thread: waits with Atomics.waitAsync. */
  async reserveAsync(length: number, timeout_ms: number): Promise<Uint8Array> {
    let view = this.tryReserve(length);
    if (view !== null) return view;
    const reserved = () => (view = this.tryReserve(length)) !== null;
    if (!(await waitUntilAsync(this.writer_waiting_slot, reserved, timeout_ms, this.stats))) {
      throw this.timeoutError(length, timeout_ms);
    }
    assert(view !== null, 'reserveAsync: waitUntilAsync returned true without a reservation');
    return view;
  }

  /**
   * Publishes the reserved record with its final `length` (at most the reserved length, so a
   * caller may reserve a maximum, encode, and commit what it used), and wakes the reader if
   * it sleeps.
   */
  commit(length = this.reserved_length): void {
    this.commitAppend(length);
    this.publish();
  }

  /** commit() without publishing: like tryAppend, visible at the next publish(). */
  commitAppend(length = this.reserved_length): void {
    assert(this.reserved_offset >= 0, 'commit without a reservation: call tryReserve() first');
    if (!(Number.isInteger(length) && length >= 0 && length <= this.reserved_length)) {
      throw new AssertionFailure(`commit length ${length} must be within the reserved ${this.reserved_length} bytes`);
    }
    this.words[this.reserved_offset >>> 2] = length;
    this.write_position += this.reserved_skip_bytes + recordSlotBytes(length);
    this.reserved_offset = -1;
  }

  /** Drops the open reservation; the reader never sees it. */
  cancelReservation(): void {
    this.reserved_offset = -1;
  }

  /** Closes the ring for both sides: the reader gets what was written, then 'closed'. */
  close(): void {
    closeRing(this.control);
  }

  isClosed(): boolean {
    return this.closed_slot.load() === 1;
  }

  /** Bytes written (published or not) and not yet consumed (reads the reader's position). */
  usedBytes(): number {
    return this.write_position - this.read_position_slot.load();
  }

  /** Data offset where the record's bytes go, or -1 when full. Throws for closed or oversize. */
  private reserveOffset(length: number): number {
    assert(this.reserved_offset < 0, 'a reservation is already open: commit() or cancelReservation() it first');
    // Checks on the hot path build their message only when they fail.
    if (!(Number.isInteger(length) && length >= 0)) {
      throw new AssertionFailure(`record length must be a non-negative integer, got ${length}`);
    }
    if (length > this.record_bytes_max) {
      throw new MqError(
        'MESSAGE_TOO_LARGE',
        `record of ${length} bytes exceeds this ring's record_bytes_max of ${this.record_bytes_max} ` +
          `(capacity ${this.capacity_bytes} bytes): split the record or create a larger ring`,
      );
    }
    if (this.closed_slot.load() === 1) {
      throw new MqError('SHUTTING_DOWN', 'the ring is closed: the reader or the writer called close(); stop writing', {
        retriable: false,
      });
    }
    const slot_bytes = recordSlotBytes(length);
    const offset = this.write_position & this.mask;
    const contiguous_bytes = this.capacity_bytes - offset;
    const skip_bytes = slot_bytes <= contiguous_bytes ? 0 : contiguous_bytes;
    const end_position = this.write_position + skip_bytes + slot_bytes;
    if (end_position - this.read_position_cached > this.capacity_bytes) {
      this.read_position_cached = this.read_position_slot.load();
      if (end_position - this.read_position_cached > this.capacity_bytes) {
        this.publish();
        return -1;
      }
    }
    if (skip_bytes > 0) this.words[offset >>> 2] = wrap_marker;
    this.reserved_offset = skip_bytes > 0 ? 0 : offset;
    this.reserved_length = length;
    this.reserved_skip_bytes = skip_bytes;
    return this.reserved_offset + record_header_bytes;
  }

  private timeoutError(length: number, timeout_ms: number): MqError {
    return new MqError(
      'TIMEOUT',
      `ring full for ${timeout_ms} ms: no room for a ${length}-byte record because the reader is not draining; ` +
        'retry later or check the reading thread',
    );
  }
}
