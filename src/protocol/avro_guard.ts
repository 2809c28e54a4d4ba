/**
 * A bounded pre-check of Avro binary against an avsc Type, run before avsc decodes any
 * untrusted bytes.
 *
 * Why it exists: avsc reads an array or map block count and then loops over that many
 * items, checking that the buffer was long enough only at the end. A frame of a few bytes
 * that declares 2^40 map entries loops (effectively) forever; an array declaring 2^26 ints
 * allocates the array and spins for seconds (test/protocol/hostile_input.test.ts shows both
 * on raw avsc). The guard walks the same bytes without allocating and rejects every count
 * or length that the remaining bytes cannot hold, so its work is linear in the input.
 *
 * Why the walk is bounded: every string, bytes, array and map length is compared with the
 * bytes that remain; every array item takes at least one byte (schemas whose array items
 * could take zero bytes, such as `array<null>`, are refused when the guard is built); every
 * map entry takes at least one byte for its key length; nesting is capped at
 * `avro_nesting_depth_max`. The walk also applies the checks avsc would make later (union
 * and enum indices, longs beyond 2^52 (see avro_varint.ts)) and a few it would not (booleans other than 0/1, ints
 * outside 32 bits, the map key `__proto__`), so that bytes the guard accepts decode cleanly.
 *
 * Not checked: UTF-8 validity of strings (avsc replaces bad sequences with U+FFFD, which is
 * harmless), and logical types' own conversions (the codec catches what they throw).
 */
import type avro from 'avsc';
import { avro_nesting_depth_max } from './limits.js';
import { readInt, readLong, type ByteCursor } from './avro_varint.js';

type AvroType = avro.Type;

interface GuardCursor extends ByteCursor {
  /** Why the walk stopped; set only on failure. */
  reason: string;
}

type Check = (cursor: GuardCursor, depth: number) => boolean;

interface GuardNode {
  check: Check;
}

export interface AvroGuard {
  /** Fewest bytes any value of the type encodes to. */
  readonly bytes_min: number;
  /**
   * Walks `bytes[start, end)` as one value of the type. Returns undefined when the bytes
   * are one whole, well-formed value (nothing before `end` left over), otherwise the reason.
   */
  check(bytes: Uint8Array, start?: number, end?: number): string | undefined;
}

const guards_by_type = new WeakMap<AvroType, AvroGuard>();

/** The guard for a type, built once per type. Throws if the schema cannot be guarded. */
export function guardFor(type: AvroType): AvroGuard {
  let guard = guards_by_type.get(type);
  if (guard === undefined) {
    guard = buildGuard(type);
    guards_by_type.set(type, guard);
  }
  return guard;
}

function buildGuard(type: AvroType): AvroGuard {
  const root = compile(type, new Map());
  const bytes_min = bytesMin(type, new Set());
  return {
    bytes_min,
    check(bytes: Uint8Array, start = 0, end = bytes.length): string | undefined {
      const cursor: GuardCursor = { bytes, pos: start, end: Math.min(end, bytes.length), reason: '' };
      if (!root.check(cursor, 0)) return cursor.reason;
      if (cursor.pos !== cursor.end) {
        return `at byte ${cursor.pos}: ${cursor.end - cursor.pos} trailing bytes after a complete ${describe(type)} value`;
      }
      return undefined;
    },
  };
}

function fail(cursor: GuardCursor, reason: string): false {
  cursor.reason = `at byte ${cursor.pos}: ${reason}`;
  return false;
}

function describe(type: AvroType): string {
  return type.name ?? type.typeName;
}

/** The avsc subclasses' fields that the walk needs; avsc's typings do not narrow by typeName. */
interface TypeInternals {
  fields?: { name: string; type: AvroType }[];
  itemsType?: AvroType;
  valuesType?: AvroType;
  types?: AvroType[];
  symbols?: string[];
  size?: number;
  underlyingType?: AvroType;
}

function internals(type: AvroType): TypeInternals {
  return type as unknown as TypeInternals;
}

function isRecord(type_name: string): boolean {
  return type_name === 'record' || type_name === 'error' || type_name === 'request';
}

/**
 * A lower bound of the bytes any value of `type` takes. A record met again while it is
 * being measured (a recursive schema) counts as zero, which keeps the result a lower bound.
 */
function bytesMin(type: AvroType, visiting: Set<AvroType>): number {
  const type_name = type.typeName;
  const parts = internals(type);
  switch (type_name) {
    case 'null':
      return 0;
    case 'boolean':
    case 'int':
    case 'long':
    case 'string':
    case 'bytes':
    case 'enum':
    case 'array': // an empty array is its terminating zero count
    case 'map':
      return 1;
    case 'float':
      return 4;
    case 'double':
      return 8;
    case 'fixed':
      return parts.size ?? 0;
    case 'union:unwrapped':
    case 'union:wrapped':
      return 1 + Math.min(...(parts.types ?? []).map((branch) => bytesMin(branch, visiting)));
    default:
      if (isRecord(type_name)) {
        if (visiting.has(type)) return 0;
        visiting.add(type);
        let sum = 0;
        for (const field of parts.fields ?? []) sum += bytesMin(field.type, visiting);
        visiting.delete(type);
        return sum;
      }
      if (type_name.startsWith('logical:') && parts.underlyingType) return bytesMin(parts.underlyingType, visiting);
      throw new Error(`avro guard: type ${type_name} is not supported; use the plain Avro types listed in avro_guard.ts`);
  }
}

function compile(type: AvroType, memo: Map<AvroType, GuardNode>): GuardNode {
  const known = memo.get(type);
  if (known) return known;
  // The node is registered before its children are compiled, so a recursive schema
  // refers back to it; its check is filled in below (late binding through the object).
  const node: GuardNode = { check: () => false };
  memo.set(type, node);
  node.check = compileCheck(type, memo);
  return node;
}

function compileCheck(type: AvroType, memo: Map<AvroType, GuardNode>): Check {
  const type_name = type.typeName;
  const parts = internals(type);
  switch (type_name) {
    case 'null':
      return () => true;
    case 'boolean':
      return (cursor) => {
        if (cursor.pos >= cursor.end) return fail(cursor, 'a boolean is missing (truncated)');
        const byte = cursor.bytes[cursor.pos]!;
        if (byte > 1) return fail(cursor, `boolean byte ${byte} is neither 0 nor 1`);
        cursor.pos++;
        return true;
      };
    case 'int':
      return (cursor) => readInt(cursor) !== undefined || fail(cursor, 'an int is truncated, longer than 5 bytes or outside 32 bits');
    case 'long':
      return (cursor) =>
        readLong(cursor) !== undefined || fail(cursor, 'a long is truncated, longer than 10 bytes or beyond 2^52');
    case 'float':
      return fixedSizeCheck(4, 'float');
    case 'double':
      return fixedSizeCheck(8, 'double');
    case 'fixed':
      return fixedSizeCheck(parts.size ?? 0, `fixed ${describe(type)}`);
    case 'string':
    case 'bytes':
      return (cursor) => skipLengthPrefixed(cursor, type_name) >= 0;
    case 'enum': {
      const symbols_count = parts.symbols?.length ?? 0;
      return (cursor) => {
        const index = readLong(cursor);
        if (index === undefined) return fail(cursor, `enum ${describe(type)} index is malformed`);
        if (index < 0 || index >= symbols_count) {
          return fail(cursor, `enum ${describe(type)} index ${index} is outside 0..${symbols_count - 1}`);
        }
        return true;
      };
    }
    case 'union:unwrapped':
    case 'union:wrapped': {
      const branches = (parts.types ?? []).map((branch) => compile(branch, memo));
      return (cursor, depth) => {
        const index = readLong(cursor);
        if (index === undefined) return fail(cursor, 'union branch index is malformed');
        const branch = branches[index];
        if (index < 0 || branch === undefined) {
          return fail(cursor, `union branch index ${index} is outside 0..${branches.length - 1}`);
        }
        return branch.check(cursor, depth);
      };
    }
    case 'array':
      return compileArray(type, parts.itemsType!, memo);
    case 'map':
      return compileMap(parts.valuesType!, memo);
    default:
      if (isRecord(type_name)) {
        const fields = (parts.fields ?? []).map((field) => compile(field.type, memo));
        return (cursor, depth) => {
          if (depth >= avro_nesting_depth_max) return fail(cursor, `values nest deeper than ${avro_nesting_depth_max}`);
          for (let i = 0; i < fields.length; i++) {
            if (!fields[i]!.check(cursor, depth + 1)) return false;
          }
          return true;
        };
      }
      if (type_name.startsWith('logical:') && parts.underlyingType) return compile(parts.underlyingType, memo).check;
      throw new Error(`avro guard: type ${type_name} is not supported; use the plain Avro types listed in avro_guard.ts`);
  }
}

function fixedSizeCheck(size: number, what: string): Check {
  return (cursor) => {
    if (cursor.end - cursor.pos < size) return fail(cursor, `a ${what} needs ${size} bytes, ${cursor.end - cursor.pos} remain`);
    cursor.pos += size;
    return true;
  };
}

/** Skips a length-prefixed string or bytes value; returns its length, or -1 on failure. */
function skipLengthPrefixed(cursor: GuardCursor, what: string): number {
  const length = readLong(cursor);
  if (length === undefined) {
    fail(cursor, `${what} length is malformed`);
    return -1;
  }
  if (length < 0 || length > cursor.end - cursor.pos) {
    fail(cursor, `${what} length ${length} is negative or exceeds the ${cursor.end - cursor.pos} bytes that remain`);
    return -1;
  }
  cursor.pos += length;
  return length;
}

/**
 * Reads one block header of an array or map: the item count, and for a negative count the
 * block's byte size (Avro lets writers announce it so readers can skip). Returns the count,
 * 0 at the end marker, or -1 on failure; `block` receives the position the block must end at.
 */
function readBlockHeader(cursor: GuardCursor, item_bytes_min: number, what: string, block: { end: number }): number {
  let count = readLong(cursor);
  if (count === undefined) {
    fail(cursor, `${what} block count is malformed`);
    return -1;
  }
  block.end = -1;
  if (count < 0) {
    count = -count;
    const size = readLong(cursor);
    if (size === undefined || size < 0 || size > cursor.end - cursor.pos) {
      fail(cursor, `${what} block byte size ${String(size)} is malformed or exceeds the bytes that remain`);
      return -1;
    }
    block.end = cursor.pos + size;
  }
  const remaining = cursor.end - cursor.pos;
  if (count * item_bytes_min > remaining) {
    fail(cursor, `${what} block declares ${count} items of at least ${item_bytes_min} bytes each; only ${remaining} bytes remain`);
    return -1;
  }
  return count;
}

function compileArray(type: AvroType, items_type: AvroType, memo: Map<AvroType, GuardNode>): Check {
  const item_bytes_min = bytesMin(items_type, new Set());
  if (item_bytes_min < 1) {
    // An item of zero bytes would let a tiny input declare any number of items.
    throw new Error(
      `avro guard: ${describe(type)} has items of type ${describe(items_type)} that can encode to zero bytes; ` +
        'a hostile count could not be bounded. Give the items at least one field that takes a byte.',
    );
  }
  const items = compile(items_type, memo);
  return (cursor, depth) => {
    if (depth >= avro_nesting_depth_max) return fail(cursor, `values nest deeper than ${avro_nesting_depth_max}`);
    const block = { end: -1 };
    // Each pass consumes at least one byte (the count), so the loop ends within the input.
    for (;;) {
      const count = readBlockHeader(cursor, item_bytes_min, 'array', block);
      if (count <= 0) return count === 0;
      for (let i = 0; i < count; i++) {
        if (!items.check(cursor, depth + 1)) return false;
      }
      if (block.end >= 0 && cursor.pos !== block.end) return fail(cursor, `array block should have ended at byte ${block.end}`);
    }
  };
}

/** `__proto__` as UTF-8: a decoded map is a plain object, where this key would replace its prototype. */
const proto_key = [0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f];

function isProtoKey(bytes: Uint8Array, start: number, length: number): boolean {
  if (length !== proto_key.length) return false;
  for (let i = 0; i < length; i++) if (bytes[start + i] !== proto_key[i]) return false;
  return true;
}

function compileMap(values_type: AvroType, memo: Map<AvroType, GuardNode>): Check {
  // A map entry always carries its key's length (at least one byte), so even values of
  // zero bytes (map<null>) cannot make a hostile count cheap; no schema is refused here.
  const entry_bytes_min = 1 + bytesMin(values_type, new Set());
  const values = compile(values_type, memo);
  return (cursor, depth) => {
    if (depth >= avro_nesting_depth_max) return fail(cursor, `values nest deeper than ${avro_nesting_depth_max}`);
    const block = { end: -1 };
    for (;;) {
      const count = readBlockHeader(cursor, entry_bytes_min, 'map', block);
      if (count <= 0) return count === 0;
      for (let i = 0; i < count; i++) {
        const key_length = skipLengthPrefixed(cursor, 'map key');
        if (key_length < 0) return false;
        if (isProtoKey(cursor.bytes, cursor.pos - key_length, key_length)) {
          return fail(cursor, 'map key "__proto__" is refused: it would replace the decoded object\'s prototype');
        }
        if (!values.check(cursor, depth + 1)) return false;
      }
      if (block.end >= 0 && cursor.pos !== block.end) return fail(cursor, `map block should have ended at byte ${block.end}`);
    }
  };
}
