import { assert } from './assert.js';

/**
 * The binary envelope of one actor message between threads. Many envelopes are packed back
 * to back in one ArrayBuffer that is transferred (not copied) with a single postMessage.
 *
 *    0        4      5       6          8            12           16
 *    +--------+------+-------+----------+------------+------------+------------------+
 *    | size   | kind | spare | from     | correlation| to actor   | payload          |
 *    | u32 LE | u8   | u8    | thread   | id u32 LE  | id u32 LE  | (Avro, size - 16)|
 *    |        |      |       | u16 LE   |            |            |                  |
 *    +--------+------+-------+----------+------------+------------+------------------+
 *
 * - size counts the whole envelope, header included.
 * - TELL/ASK: `to actor` is the numeric id the system gave the actor at spawn (addresses are
 *   interned so the hot path compares integers, not strings); payload is the message.
 * - REPLY/FAIL: `to actor` is unused (0); the correlation id names the ask on the receiving
 *   thread, which is the asker. FAIL's payload is a `failure_codec` record.
 * - correlation id is 0 for TELL.
 */
export const envelope_header_bytes = 16;

export const EnvelopeKind = {
  tell: 1,
  ask: 2,
  reply: 3,
  fail: 4,
} as const;
export type EnvelopeKind = (typeof EnvelopeKind)[keyof typeof EnvelopeKind];

export const envelope_offset = {
  size: 0,
  kind: 4,
  from_thread: 6,
  correlation_id: 8,
  to_actor_id: 12,
} as const;

export interface EnvelopeHeader {
  kind: EnvelopeKind;
  from_thread: number;
  correlation_id: number;
  to_actor_id: number;
}

export function writeEnvelopeHeader(target: Buffer, position: number, size: number, header: EnvelopeHeader): void {
  target.writeUInt32LE(size, position + envelope_offset.size);
  target[position + envelope_offset.kind] = header.kind;
  target[position + envelope_offset.kind + 1] = 0;
  target.writeUInt16LE(header.from_thread, position + envelope_offset.from_thread);
  target.writeUInt32LE(header.correlation_id, position + envelope_offset.correlation_id);
  target.writeUInt32LE(header.to_actor_id, position + envelope_offset.to_actor_id);
}

/** Walks a batch of envelopes. The batch comes from a thread of the same node, so a bad size
 *  is a bug on the sending side: it is asserted, not handled. */
export function forEachEnvelope(
  batch: Buffer,
  visit: (header: EnvelopeHeader, payload_start: number, payload_end: number) => void,
): number {
  let position = 0;
  let count = 0;
  while (position < batch.length) {
    const size = batch.readUInt32LE(position + envelope_offset.size);
    assert(size >= envelope_header_bytes && position + size <= batch.length, `thread envelope: bad size ${size} at ${position} of ${batch.length}`);
    const kind = batch[position + envelope_offset.kind] as EnvelopeKind;
    assert(kind >= EnvelopeKind.tell && kind <= EnvelopeKind.fail, `thread envelope: bad kind ${kind}`);
    visit(
      {
        kind,
        from_thread: batch.readUInt16LE(position + envelope_offset.from_thread),
        correlation_id: batch.readUInt32LE(position + envelope_offset.correlation_id),
        to_actor_id: batch.readUInt32LE(position + envelope_offset.to_actor_id),
      },
      position + envelope_header_bytes,
      position + size,
    );
    position += size;
    count++;
  }
  return count;
}
