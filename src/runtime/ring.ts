import { ring_control, assertRingCapacity } from './ring_layout.js';

/**
 * A single-producer single-consumer channel of variable-length byte records between two
 * threads, over one SharedArrayBuffer: no message, no copy on the reading side, and no
 * syscall while both sides are busy (a side is notified only when it said it sleeps).
 *
 *     const sab = createRing({ capacity_bytes: 1 << 20 });   // any thread
 *     worker.postMessage({ ring: sab });                        // shared, not copied
 *     const writer = new RingWriter(sab);                       // the producing thread
 *     const reader = new RingReader(sab);                       // the consuming thread
 *
 * Sizing: the ring should hold more than the writer produces while a sleeping reader wakes
 * up (~40 µs on an idle vCPU here, much more under load); a smaller ring makes the two
 * sides take turns sleeping, and throughput falls to a ring-full per wake-up.
 * Batching: tryAppend / commitAppend many records, then publish() once.
 *
 * Layout, record format, wrap rule and the record size bound: ring_layout.ts.
 * Writer: ring_writer.ts. Reader: ring_reader.ts. Sleeping and waking: ring_wait.ts.
 */
export { RingWriter } from './ring_writer.js';
export { RingReader, type RingWaitResult } from './ring_reader.js';
export type { RingSideStats } from './ring_wait.js';
export {
  drain_records_max_default,
  recordBytesMax,
  recordSlotBytes,
  ring_capacity_bytes_max,
  ring_capacity_bytes_min,
  ring_control,
  spin_before_wait_ms,
} from './ring_layout.js';

export interface RingOptions {
  /** Size of the data area: a power of two; records up to capacity/2 - 4 bytes fit. */
  capacity_bytes: number;
}

/**
 * Allocates and initialises a ring. The whole buffer is written once here: fresh memory is
 * slow to touch on this kind of machine (page faults), and paying that at creation keeps
 * the first lap of the ring as fast as the rest.
 */
export function createRing(options: RingOptions): SharedArrayBuffer {
  assertRingCapacity(options.capacity_bytes);
  const sab = new SharedArrayBuffer(ring_control.size_bytes + options.capacity_bytes);
  new Uint8Array(sab).fill(0);
  ring_control.createIn(sab, 0);
  return sab;
}
