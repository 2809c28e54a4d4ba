import { assert } from '../runtime/assert.js';
import { MqError } from '../runtime/errors.js';

/**
 * The published positions of every ConsumeQueue, in one SharedArrayBuffer that every thread
 * of the broker holds: a reader on any thread finds a queue's readable window [min, max)
 * without a message, as the design asks of positions.
 *
 * An open-addressing table of fixed slots, probed linearly from hash(topic, queue id):
 *
 *    slot (160 bytes):
 *    0        4          8            16           24      25                 159     160
 *    +--------+----------+------------+------------+-------+------------------+-------+
 *    | state  | queue id | min offset | max offset | topic | topic bytes      | spare |
 *    | i32    | i32      | i64        | i64        | size  | (134, latin1)    |       |
 *    +--------+----------+------------+------------+-------+------------------+-------+
 *
 * state: 0 empty, 1 being claimed, 2 ready. Who writes what:
 *  - a slot is claimed (state, queue id, topic) by one owner only: the dispatch actor, which
 *    also creates the ConsumeQueue actors; it stores state 2 last, so a reader that sees 2
 *    sees the key;
 *  - min and max are written by the queue's ConsumeQueue actor only, with Atomics, after the
 *    entries below max are written whole;
 *  - everyone else only reads.
 * Slots are never freed while the broker runs (a deleted topic keeps its slot), so a slot
 * index, once found, stays valid.
 */
export const queue_position_slot_bytes = 160;
const state_index_i32 = 0;
const queue_id_index_i32 = 1;
const min_index_i64 = 1;
const max_index_i64 = 2;
const topic_size_offset = 24;
const topic_offset = 25;
/** Room for the longest topic, a retry topic `%RETRY%` + a 127-character group. */
const topic_bytes_max = 134;
const slot_empty = 0;
const slot_claiming = 1;
const slot_ready = 2;

export const queue_positions_limits = {
  /** Queues one broker can publish; ~10 MB of shared memory at the default. */
  slots_default: 65_536,
} as const;

export class QueuePositions {
  private readonly i32: Int32Array;
  private readonly i64: BigInt64Array;
  private readonly bytes: Uint8Array;
  readonly slots: number;
  /** Slot indices found so far on this thread (never change, see above). */
  private readonly cache = new Map<string, number>();

  constructor(readonly sab: SharedArrayBuffer) {
    assert(sab.byteLength % queue_position_slot_bytes === 0, 'QueuePositions: buffer is not a whole number of slots');
    this.slots = sab.byteLength / queue_position_slot_bytes;
    this.i32 = new Int32Array(sab);
    this.i64 = new BigInt64Array(sab);
    this.bytes = new Uint8Array(sab);
  }

  static create(slots: number = queue_positions_limits.slots_default): QueuePositions {
    return new QueuePositions(new SharedArrayBuffer(slots * queue_position_slot_bytes));
  }

  /** The slot of (topic, queue), or -1 when no such queue has been published. */
  find(topic: string, queue_id: number): number {
    const key = `${topic}\u0000${queue_id}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const topic_bytes = Buffer.from(topic, 'latin1');
    let slot = hash(topic_bytes, queue_id) % this.slots;
    for (let probe = 0; probe < this.slots; probe++, slot = (slot + 1) % this.slots) {
      const state = Atomics.load(this.i32, this.i32Index(slot, state_index_i32));
      if (state === slot_empty) return -1;
      if (state === slot_ready && this.keyMatches(slot, topic_bytes, queue_id)) {
        this.cache.set(key, slot);
        return slot;
      }
    }
    return -1;
  }

  /** Claims the slot of (topic, queue) if it has none yet (the dispatch actor only). */
  claim(topic: string, queue_id: number): number {
    const found = this.find(topic, queue_id);
    if (found >= 0) return found;
    const topic_bytes = Buffer.from(topic, 'latin1');
    assert(topic_bytes.length >= 1 && topic_bytes.length <= topic_bytes_max, `topic '${topic}' does not fit a position slot`);
    let slot = hash(topic_bytes, queue_id) % this.slots;
    for (let probe = 0; probe < this.slots; probe++, slot = (slot + 1) % this.slots) {
      const state_index = this.i32Index(slot, state_index_i32);
      if (Atomics.compareExchange(this.i32, state_index, slot_empty, slot_claiming) !== slot_empty) continue;
      Atomics.store(this.i32, this.i32Index(slot, queue_id_index_i32), queue_id);
      Atomics.store(this.i64, this.i64Index(slot, min_index_i64), 0n);
      Atomics.store(this.i64, this.i64Index(slot, max_index_i64), 0n);
      const base = slot * queue_position_slot_bytes;
      this.bytes[base + topic_size_offset] = topic_bytes.length;
      this.bytes.set(topic_bytes, base + topic_offset);
      Atomics.store(this.i32, state_index, slot_ready);
      this.cache.set(`${topic}\u0000${queue_id}`, slot);
      return slot;
    }
    throw new MqError('BUSY', `the broker publishes at most ${this.slots} queues; raise the queue position slots or delete topics`, { retriable: false });
  }

  /** Written by the queue's ConsumeQueue actor only. */
  publish(slot: number, min_offset: number, max_offset: number): void {
    Atomics.store(this.i64, this.i64Index(slot, min_index_i64), BigInt(min_offset));
    Atomics.store(this.i64, this.i64Index(slot, max_index_i64), BigInt(max_offset));
  }

  window(slot: number): { min_offset: number; max_offset: number } {
    return {
      min_offset: Number(Atomics.load(this.i64, this.i64Index(slot, min_index_i64))),
      max_offset: Number(Atomics.load(this.i64, this.i64Index(slot, max_index_i64))),
    };
  }

  /** Every published queue (for the inspector and recovery). */
  list(): Array<{ topic: string; queue_id: number; min_offset: number; max_offset: number }> {
    const queues = [];
    for (let slot = 0; slot < this.slots; slot++) {
      if (Atomics.load(this.i32, this.i32Index(slot, state_index_i32)) !== slot_ready) continue;
      const base = slot * queue_position_slot_bytes;
      const topic = Buffer.from(this.bytes.subarray(base + topic_offset, base + topic_offset + (this.bytes[base + topic_size_offset] as number))).toString('latin1');
      queues.push({ topic, queue_id: Atomics.load(this.i32, this.i32Index(slot, queue_id_index_i32)), ...this.window(slot) });
    }
    return queues;
  }

  private keyMatches(slot: number, topic_bytes: Buffer, queue_id: number): boolean {
    if (Atomics.load(this.i32, this.i32Index(slot, queue_id_index_i32)) !== queue_id) return false;
    const base = slot * queue_position_slot_bytes;
    if (this.bytes[base + topic_size_offset] !== topic_bytes.length) return false;
    for (let i = 0; i < topic_bytes.length; i++) if (this.bytes[base + topic_offset + i] !== topic_bytes[i]) return false;
    return true;
  }

  private i32Index(slot: number, field: number): number {
    return (slot * queue_position_slot_bytes) / 4 + field;
  }

  private i64Index(slot: number, field: number): number {
    return (slot * queue_position_slot_bytes) / 8 + field;
  }
}

/** FNV-1a over the topic bytes and the queue id. */
function hash(topic_bytes: Uint8Array, queue_id: number): number {
  let h = 0x811c9dc5;
  for (const byte of topic_bytes) h = Math.imul(h ^ byte, 0x01000193);
  h = Math.imul(h ^ (queue_id & 0xff), 0x01000193);
  h = Math.imul(h ^ ((queue_id >>> 8) & 0xff), 0x01000193);
  return h >>> 0;
}
