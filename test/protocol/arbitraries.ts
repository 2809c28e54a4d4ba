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

/** Names a peer might send: a few that are valid and recur (so that requests meet the same
 *  topics and groups, and internal ones), and arbitrary text. */
export const name_like = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('FuzzTopic', 'FuzzTopic2', 'fuzz-group', '%RETRY%fuzz-group', '%DLQ%fuzz-group', 'fuzz-client@1', '', ...p.internal_topics) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
);

const int_like = fc.oneof(
  fc.integer({ min: -2, max: 16 }),
  fc.constantFrom(-(2 ** 31), 2 ** 31 - 1, 1_024, 65_535),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
);
const long_like = fc.oneof(
  fc.integer({ min: -2, max: 1_000 }),
  fc.constantFrom(-p.long_magnitude_max, p.long_magnitude_max, 1_767_225_600_000),
  fc.integer({ min: -p.long_magnitude_max, max: p.long_magnitude_max }),
);

/** The avsc type's field/item shapes this protocol uses (schemas/*.ts). */
interface AvroTypeShape {
  typeName: string;
  fields?: Array<{ name: string; type: AvroTypeShape }>;
  itemsType?: AvroTypeShape;
  valuesType?: AvroTypeShape;
  types?: AvroTypeShape[];
  symbols?: string[];
}

/**
 * Values of any record of the protocol, from its avsc type: what a peer could encode with
 * the real encoder, sizes bounded (strings 40, arrays and maps 4 entries, bytes 512).
 */
export function avroValue(type: AvroTypeShape): fc.Arbitrary<unknown> {
  switch (type.typeName) {
    case 'record':
      return fc.record(Object.fromEntries((type.fields ?? []).map((field) => [field.name, avroValue(field.type)])));
    case 'int':
      return int_like;
    case 'long':
      return long_like;
    case 'string':
      return name_like;
    case 'bytes':
      return fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes));
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'enum':
      return fc.constantFrom(...(type.symbols ?? []));
    case 'array':
      return fc.array(avroValue(type.itemsType as AvroTypeShape), { maxLength: 4 });
    case 'map':
      return fc.dictionary(header_key, avroValue(type.valuesType as AvroTypeShape), { maxKeys: 4 });
    case 'union:unwrapped':
      return fc.oneof(...(type.types ?? []).map((branch) => avroValue(branch)));
    default:
      throw new Error(`avroValue: avsc type ${type.typeName} is not used by the protocol yet; add it here`);
  }
}

/** Edits that break a valid byte string the way a bad peer or a bad link would. */
export type ByteMutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'truncate'; at: number };

export const byte_mutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0xff) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

/** `bytes` with the mutations applied in order (positions taken modulo the current length). */
export function mutate(bytes: Uint8Array, mutations: readonly ByteMutation[]): Buffer {
  let out = Buffer.from(bytes);
  for (const mutation of mutations) {
    if (out.length === 0 && mutation.kind !== 'insert') continue;
    const at = mutation.at % Math.max(1, out.length);
    switch (mutation.kind) {
      case 'flip':
        out[at] = (out[at] as number) ^ (1 << mutation.bit);
        break;
      case 'set':
        out[at] = mutation.value;
        break;
      case 'insert':
        out = Buffer.concat([out.subarray(0, at), mutation.bytes, out.subarray(at)]);
        break;
      case 'delete':
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + mutation.count)]);
        break;
      case 'truncate':
        out = out.subarray(0, at);
        break;
    }
  }
  return out;
}
