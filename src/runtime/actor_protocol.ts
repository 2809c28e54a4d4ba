import avro from 'avsc';
import { assert } from './assert.js';

/**
 * The typed, Avro-encoded vocabulary of one kind of actor: the messages it accepts and the
 * replies it gives to `ask`.
 *
 * A message is a discriminated union on `kind`. On the wire it is
 *
 *   +-------------------+-----------------------------------------+
 *   | kind index (zigzag| the Avro record of that kind's fields    |
 *   | varint, Avro int) | (field order as declared)               |
 *   +-------------------+-----------------------------------------+
 *
 * so decoding yields a plain `{ kind, ...fields }` object, not avsc's wrapped-union form.
 * Encoding writes straight into the caller's buffer (no temporary Buffer per message).
 * Note: avsc copies `bytes` fields when decoding (Tap.readFixed allocates from its pool);
 * bulk data therefore travels through shared segments or rings, not through messages.
 */
export interface Codec<T> {
  /** Writes `value` at `position`; returns the end position, or a negative number whose
   *  magnitude is how many more bytes are needed (nothing useful was written then). */
  encode(value: T, target: Buffer, position: number): number;
  /** Reads one value from `source[position, end)`; throws on malformed bytes (only trusted
   *  peers inside the process use this codec: threads of the same node). */
  decode(source: Buffer, position: number, end: number): T;
}

/** Avro field declarations of one message kind (the record's `fields` array). */
export type AvroFields = ReadonlyArray<{ name: string; type: unknown; default?: unknown }>;

interface KindEntry {
  index: number;
  kind: string;
  record: avro.Type;
}

const kind_index_type = avro.Type.forSchema('int');

/** A union codec over `{ kind: ... }` objects, one Avro record per kind. */
export function unionCodec<T extends { kind: string }>(
  protocol_name: string,
  kinds: Readonly<Record<T['kind'], AvroFields>>,
): Codec<T> {
  const by_kind = new Map<string, KindEntry>();
  const by_index: KindEntry[] = [];
  for (const [kind, fields] of Object.entries(kinds) as Array<[string, AvroFields]>) {
    assert(!fields.some((field) => field.name === 'kind'), `${protocol_name}.${kind}: 'kind' is reserved`);
    const record = avro.Type.forSchema({
      type: 'record',
      name: `${protocol_name.replace(/[^A-Za-z0-9_]/g, '_')}_${kind}`,
      fields: fields as avro.Schema[],
    } as avro.Schema);
    const entry: KindEntry = { index: by_index.length, kind, record };
    by_kind.set(kind, entry);
    by_index.push(entry);
  }

  return {
    encode(value, target, position) {
      const entry = by_kind.get(value.kind);
      assert(entry !== undefined, `${protocol_name}: unknown message kind '${value.kind}'`);
      const after_index = kind_index_type.encode(entry.index, target, position);
      if (after_index < 0) return after_index - 64; // ask for room for the record too
      return entry.record.encode(value, target, after_index);
    },
    decode(source, position, end) {
      const view = end === source.length ? source : source.subarray(0, end);
      const index_read = kind_index_type.decode(view, position);
      const entry = by_index[index_read.value as number];
      assert(entry !== undefined, `${protocol_name}: unknown message kind index ${String(index_read.value)}`);
      const record_read = entry.record.decode(view, index_read.offset);
      assert(record_read.offset === end, `${protocol_name}.${entry.kind}: decoded ${record_read.offset - position} of ${end - position} bytes`);
      const value = record_read.value as Record<string, unknown>;
      value['kind'] = entry.kind;
      return value as unknown as T;
    },
  };
}

/** A codec for a single Avro type (e.g. a reply that is one record, a long, a string). */
export function avroCodec<T>(schema: unknown): Codec<T> {
  const type = avro.Type.forSchema(schema as avro.Schema);
  return {
    encode: (value, target, position) => type.encode(value, target, position),
    decode(source, position, end) {
      const view = end === source.length ? source : source.subarray(0, end);
      const read = type.decode(view, position);
      assert(read.offset === end, `decoded ${read.offset - position} of ${end - position} bytes`);
      return read.value as T;
    },
  };
}

/** An actor kind's vocabulary: its name (also used to check both threads agree), messages and replies. */
export interface ActorProtocol<M extends { kind: string }, R> {
  readonly name: string;
  readonly message: Codec<M>;
  readonly reply: Codec<R>;
}

export function defineProtocol<M extends { kind: string }, R>(
  name: string,
  message: Readonly<Record<M['kind'], AvroFields>>,
  reply: Codec<R>,
): ActorProtocol<M, R> {
  return { name, message: unionCodec<M>(name, message), reply };
}

/** Encodes into a buffer that grows as needed; returns the bytes written (a view of `scratch`
 *  or of a larger buffer). Used where the target size is not known ahead. */
export function encodeToBuffer<T>(codec: Codec<T>, value: T, scratch: Buffer): Buffer {
  let buffer = scratch;
  for (let attempt = 0; attempt < 32; attempt++) {
    const end = codec.encode(value, buffer, 0);
    if (end >= 0) return buffer.subarray(0, end);
    buffer = Buffer.allocUnsafe(Math.max(buffer.length * 2, buffer.length - end));
  }
  assert(false, 'encodeToBuffer: value does not fit after 32 doublings');
}
