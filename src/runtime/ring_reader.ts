import { assert, AssertionFailure } from './assert.js';
import type { I32Slot, I64Slot } from './control_block.js';
import {
  closeRing,
  drain_records_max_default,
  record_header_bytes,
  recordBytesMax,
  recordSlotBytes,
  ringViews,
  wrap_marker,
  type RingControl,
} from './ring_layout.js';
import { waitUntil, waitUntilAsync, wakeIfWaiting, type RingSideStats } from './ring_wait.js';

/** What waiting for data found: records to drain, a closed and fully drained ring, or nothing in time. */
export type RingWaitResult = 'data' | 'closed' | 'timed-out';

/**
 * The consuming end of a ring (layout in ring_layout.ts). Owned by one thread; exactly one
 * RingReader may exist per ring buffer (checked through the reader_claimed slot). It runs
 * concurrently with the RingWriter on another thread and shares only the ring buffer.
 *
 * Hot path: drain() loads write_position once per batch (again only when it catches up),
 * reads records in place, and stores read_position every quarter of the ring and at the
 * end, so a writer waiting for room can go on before a large batch ends.
 */
export class RingReader {
  readonly capacity_bytes: number;
  readonly record_bytes_max: number;
  readonly stats: RingSideStats = { sleeps: 0, notifies: 0 };

  private readonly control: RingControl;
  private readonly mask: number;
  private readonly data: Uint8Array;
  private readonly words: Uint32Array;
  /** Consumed bytes between read_position stores while draining. */
  private readonly publish_interval_bytes: number;
  private readonly write_position_slot: I64Slot;
  private readonly read_position_slot: I64Slot;
  private readonly writer_waiting_slot: I32Slot;
  private readonly reader_waiting_slot: I32Slot;
  private readonly closed_slot: I32Slot;
  /** This thread's copy of read_position (it is the only writer of that slot). */
  private read_position: number;

  constructor(sab: SharedArrayBuffer) {
    const views = ringViews(sab);
    this.control = views.control;
    this.capacity_bytes = views.capacity_bytes;
    this.record_bytes_max = recordBytesMax(views.capacity_bytes);
    this.mask = views.mask;
    this.data = views.data;
    this.words = views.words;
    this.publish_interval_bytes = views.capacity_bytes / 4;
    const slots = views.control.slots;
    this.write_position_slot = slots.write_position;
    this.read_position_slot = slots.read_position;
    this.writer_waiting_slot = slots.writer_waiting;
    this.reader_waiting_slot = slots.reader_waiting;
    this.closed_slot = slots.closed;
    assert(
      slots.reader_claimed.compareExchange(0, 1) === 0,
      'this ring already has a reader: a ring is single-consumer; create one ring per reading thread',
    );
    this.read_position = this.read_position_slot.load();
  }

  /**
   * Hands up to `records_max` records to `onRecord`, in order, and returns how many.
   *
   * ZERO COPY — THE VIEW IS VALID ONLY DURING THE CALLBACK. `view` points into the shared
   * ring; once the callback returns, its bytes are given back to the writer and will be
   * overwritten. Copy (`view.slice()`) whatever must outlive the callback; never keep,
   * post or await with the view itself.
   *
   * If the callback throws, the records before it stay consumed and the one that threw is
   * handed out again by the next drain().
   */
  drain(onRecord: (view: Uint8Array) => void, records_max = drain_records_max_default): number {
    if (!(Number.isInteger(records_max) && records_max >= 1)) {
      throw new AssertionFailure(`records_max must be a positive integer, got ${records_max}`);
    }
    let read_position = this.read_position;
    let published_position = read_position;
    let write_position = this.write_position_slot.load();
    let records = 0;
    try {
      while (records < records_max) {
        if (read_position === write_position) {
          // Caught up: look once more, so records written meanwhile join this batch.
          write_position = this.write_position_slot.load();
          if (read_position === write_position) break;
        }
        const offset = read_position & this.mask;
        const length = this.words[offset >>> 2]!;
        if (length === wrap_marker) {
          read_position += this.capacity_bytes - offset;
          continue;
        }
        const slot_bytes = recordSlotBytes(length);
        // Checked for every record, so the message is built only when it fails.
        if (length > this.record_bytes_max || read_position + slot_bytes > write_position) {
          throw new AssertionFailure(
            `ring corrupt: record of ${length} bytes at position ${read_position} runs past write position ${write_position}`,
          );
        }
        const start = offset + record_header_bytes;
        onRecord(this.data.subarray(start, start + length));
        read_position += slot_bytes;
        records++;
        if (read_position - published_position >= this.publish_interval_bytes) {
          this.publish(read_position);
          published_position = read_position;
        }
      }
    } finally {
      this.read_position = read_position;
      if (read_position !== published_position) this.publish(read_position);
    }
    return records;
  }

  /** True when at least one record (or wrap marker) waits to be drained. */
  hasData(): boolean {
    return this.write_position_slot.load() !== this.read_position;
  }

  /**
   * Waits until there is data or the ring is closed and drained. Worker threads only
   * (Atomics.wait). After the writer closes, the records it wrote still come first.
   */
  waitForData(timeout_ms: number): RingWaitResult {
    if (!this.hasData()) waitUntil(this.reader_waiting_slot, () => this.hasData() || this.isClosed(), timeout_ms, this.stats);
    return this.waitResult();
  }

  /** waitForData for the main thread: waits with Atomics.waitAsync. */
  async waitForDataAsync(timeout_ms: number): Promise<RingWaitResult> {
    if (!this.hasData()) {
      await waitUntilAsync(this.reader_waiting_slot, () => this.hasData() || this.isClosed(), timeout_ms, this.stats);
    }
    return this.waitResult();
  }

  /** Closes the ring for both sides: the writer's next write throws SHUTTING_DOWN. */
  close(): void {
    closeRing(this.control);
  }

  isClosed(): boolean {
    return this.closed_slot.load() === 1;
  }

  private waitResult(): RingWaitResult {
    // Closed is read first: everything written before close() is then visible to hasData().
    const closed = this.isClosed();
    if (this.hasData()) return 'data';
    return closed ? 'closed' : 'timed-out';
  }

  private publish(read_position: number): void {
    this.read_position_slot.store(read_position);
    wakeIfWaiting(this.writer_waiting_slot, this.stats);
  }
}
