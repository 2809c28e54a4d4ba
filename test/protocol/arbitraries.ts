/** fast-check generators shared by the protocol tests. */
import fc from 'fast-check';
import * as p from '../../src/protocol/index.js';

/** Map keys as peers send them; `__proto__` is refused by design (avro_guard.ts), so never generated. */
export const header_key = fc.string({ unit: 'grapheme', maxLength: 12 }).filter((key) => key !== '__proto__');

export const envelope = fc.record({
  code: fc.oneof(fc.constantFrom(...Object.values(p.request_codes)), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
  correlationId: fc.integer({ min: -p.long_magnitude_max, max: p.long_magnitude_max }),
  flags: fc.integer({ min: 0, max: 7 }),
  headers: fc.dictionary(header_key, fc.string({ unit: 'grapheme', maxLength: 20 }), { maxKeys: 4 }),
  body: fc.uint8Array({ maxLength: 300 }),
});

/** Cut positions inside a stream of `length` bytes: sorted, distinct, strictly inside. */
export function cutsOf(raw: number[], length: number): number[] {
  if (length < 2) return [];
  return [...new Set(raw.map((value) => 1 + (value % (length - 1))))].sort((a, b) => a - b);
}

/** The stream split at the cuts, each piece a fresh copy as a socket would deliver it. */
export function split(stream: Buffer, cuts: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let start = 0;
  for (const cut of [...cuts, stream.length]) {
    pieces.push(Buffer.from(stream.subarray(start, cut)));
    start = cut;
  }
  return pieces;
}
