/**
 * A typed codec around one avsc record Type: `encode(value): Buffer` and
 * `decode(bytes): Result<T>`, where decode runs the bounded guard (avro_guard.ts) before
 * avsc sees the bytes, and never throws.
 *
 * Copies, stated because they are the hot path: encoding writes into a reusable scratch
 * buffer and copies the value out (one copy per encode; see `encode_scratch_bytes_max`). When decoding,
 * avsc copies every `bytes` field into a fresh allocation (`Tap.readFixed` uses a buffer
 * pool and `copy`). A codec built with `tail_bytes_view` avoids that copy for a record whose
 * last field is `bytes` (a message body): avsc decodes only the fields before it, and the
 * body is returned as a view into the input. Such a view keeps the whole input buffer alive;
 * copy it (`Buffer.from(view)`) before keeping it for long.
 */
import avro from 'avsc';
import { guardFor, type AvroGuard } from './avro_guard.js';
import { encode_scratch_bytes_initial, encode_scratch_bytes_max } from './limits.js';
import { readLong, type ByteCursor } from './avro_varint.js';
import { failed, ok, ProtocolError, type Result } from './protocol_error.js';

/** A schema as avsc's `forSchema` accepts it (its typings do not export the name). */
export type AvroSchema = Parameters<typeof avro.Type.forSchema>[0];

/**
 * Options every schema in this protocol is built with. A fresh object per call: avsc stores
 * its registry of named types in the options object, and a shared one would make the
 * second schema that names `SendRequest` fail as a duplicate.
 */
export function avroTypeOptions(): { wrapUnions: 'never'; namespace: string; omitRecordMethods: boolean } {
  return {
    // Nullable fields decode as `value | null`, not as `{ long: value }`.
    wrapUnions: 'never',
    namespace: 'mq',
    // Decoded records carry their fields only, no avsc methods: a `toBuffer()` on a value
    // decoded through a head type (tail_bytes_view) would otherwise silently drop the body.
    omitRecordMethods: true,
  };
}

export interface AvroCodec<T> {
  /** The record's Avro name (for error messages and registries). */
  readonly name: string;
  /** The protocol version this schema belongs to. */
  readonly protocol_version: number;
  readonly type: avro.Type;
  encode(value: T): Buffer;
  decode(bytes: Uint8Array): Result<T>;
}

export interface CodecDefinition {
  /**
   * An Avro record schema, as a plain object. (Typed loosely because avsc's schema typings
   * reject schema objects that are built once and shared between records.)
   */
  schema: object;
  protocol_version: number;
  /** Decode the last field (which must be `bytes`) as a view into the input, not a copy. */
  tail_bytes_view?: boolean;
}

/** A Buffer over the same memory as `bytes` (no copy); avsc reads only Buffers. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function defineCodec<T>(definition: CodecDefinition): AvroCodec<T> {
  const type = avro.Type.forSchema(definition.schema as AvroSchema, avroTypeOptions());
  const name = type.name ?? type.typeName;
  const guard = guardFor(type);
  const decodeChecked = definition.tail_bytes_view ? tailViewDecoder(type, name) : (buffer: Buffer) => type.fromBuffer(buffer);
  return {
    name,
    protocol_version: definition.protocol_version,
    type,
    encode: (value: T) => encodeWith(type, name, value, guard),
    decode: (bytes: Uint8Array) => decodeWith<T>(guard, name, bytes, decodeChecked),
  };
}

/**
 * Encodes with avsc; a value that does not fit becomes a ProtocolError naming the field.
 * The output is then walked by the same guard a receiver runs, so that what we send is
 * what a peer accepts: avsc writes some values a reader must refuse (a negative long below
 * -2^52 comes out as a different, positive number; a map key `__proto__`). The walk
 * allocates nothing and costs a fraction of the encode (bench/protocol_bench.ts).
 */
export function encodeWith(type: avro.Type, name: string, value: unknown, guard: AvroGuard = guardFor(type)): Buffer {
  let bytes: Buffer;
  try {
    bytes = encodeIntoScratch(type, value);
  } catch {
    // Only on failure: walk the value again to say which field is wrong.
    const problems: string[] = [];
    type.isValid(value, {
      errorHook: (path: string[], field_value: unknown) => {
        if (problems.length < 3) problems.push(`${path.join('.') || '(value)'} = ${describeValue(field_value)}`);
      },
    });
    const detail = problems.length > 0 ? problems.join('; ') : 'the value does not match the schema';
    throw new ProtocolError('INVALID_VALUE', `cannot encode ${name}: ${detail}; fix these fields before sending`);
  }
  const refused = guard.check(bytes);
  if (refused !== undefined) {
    throw new ProtocolError(
      'INVALID_VALUE',
      `cannot encode ${name}: a receiver would refuse the bytes (${refused}); ` +
        'keep longs within ±2^52 and do not use "__proto__" as a map key',
    );
  }
  return bytes;
}

/** Reused by every encode on this thread; replaced (never shrunk in place) when too small. */
let encode_scratch = Buffer.allocUnsafeSlow(encode_scratch_bytes_initial);

/** avsc's `encode` into the scratch; the result is copied out to a buffer of its own. */
function encodeIntoScratch(type: avro.Type, value: unknown): Buffer {
  // avsc returns the end position, or minus the bytes missing when the buffer was too small.
  let end = type.encode(value, encode_scratch, 0);
  if (end < 0) {
    const needed = encode_scratch.length - end;
    if (needed > encode_scratch_bytes_max) {
      const exact = Buffer.allocUnsafe(needed);
      type.encode(value, exact, 0);
      return exact;
    }
    encode_scratch = Buffer.allocUnsafeSlow(Math.min(encode_scratch_bytes_max, Math.max(needed, 2 * encode_scratch.length)));
    end = type.encode(value, encode_scratch, 0);
  }
  const bytes = Buffer.allocUnsafe(end);
  encode_scratch.copy(bytes, 0, 0, end);
  return bytes;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined (missing)';
  if (Buffer.isBuffer(value)) return `Buffer(${value.length})`;
  if (value instanceof Uint8Array) return `Uint8Array(${value.length}) (a Buffer is required)`;
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function decodeWith<T>(
  guard: AvroGuard,
  name: string,
  bytes: Uint8Array,
  decodeChecked: (buffer: Buffer) => unknown,
): Result<T> {
  const reason = guard.check(bytes);
  if (reason !== undefined) {
    return failed(new ProtocolError('MALFORMED_BODY', `${name} is malformed: ${reason}; the sender must re-encode it`));
  }
  try {
    return ok(decodeChecked(asBuffer(bytes)) as T);
  } catch (thrown) {
    // The guard is meant to leave avsc nothing to throw on; a logical type still might.
    const message = thrown instanceof Error ? thrown.message : String(thrown);
    return failed(new ProtocolError('MALFORMED_BODY', `${name} could not be decoded: ${message}`));
  }
}

interface RecordInternals {
  fields: { name: string; type: avro.Type }[];
}

/**
 * Decodes all fields but the last with a "head" type, then takes the trailing `bytes`
 * field as a view. Valid only on input the guard accepted: the head decode cannot run
 * short and the tail's length is known to fit exactly.
 */
function tailViewDecoder(type: avro.Type, name: string): (buffer: Buffer) => unknown {
  const fields = (type as unknown as RecordInternals).fields;
  const tail = fields[fields.length - 1];
  if (tail === undefined || tail.type.typeName !== 'bytes') {
    throw new Error(`codec ${name}: tail_bytes_view needs a record whose last field is bytes`);
  }
  // Derived from the whole record's schema so that each named type is defined once.
  const full_schema = type.schema() as { name: string; fields: unknown[] };
  const head_schema = { ...full_schema, name: `${full_schema.name}Head`, fields: full_schema.fields.slice(0, -1) };
  const head_type = avro.Type.forSchema(head_schema as AvroSchema, avroTypeOptions());
  const tail_name = tail.name;
  return (buffer: Buffer) => {
    const head = head_type.decode(buffer, 0);
    const cursor: ByteCursor = { bytes: buffer, pos: head.offset, end: buffer.length };
    const length = readLong(cursor)!;
    const value = head.value as Record<string, unknown>;
    value[tail_name] = buffer.subarray(cursor.pos, cursor.pos + length);
    return value;
  };
}
