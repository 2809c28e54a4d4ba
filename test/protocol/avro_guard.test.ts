import t from 'tap';
import fc from 'fast-check';
import avro from 'avsc';
import * as p from '../../src/protocol/index.js';

function typeOf(schema: object): avro.Type {
  return avro.Type.forSchema(schema as never, { wrapUnions: 'never' });
}

/** A schema with every Avro type the guard walks. */
const rich_type = typeOf({
  type: 'record',
  name: 'Rich',
  fields: [
    { name: 'flag', type: 'boolean' },
    { name: 'small', type: 'int' },
    { name: 'big', type: 'long' },
    { name: 'ratio', type: 'float' },
    { name: 'precise', type: 'double' },
    { name: 'text', type: 'string' },
    { name: 'raw', type: 'bytes' },
    { name: 'nothing', type: 'null' },
    { name: 'color', type: { type: 'enum', name: 'Color', symbols: ['RED', 'GREEN', 'BLUE'] } },
    { name: 'id', type: { type: 'fixed', name: 'Id', size: 4 } },
    { name: 'maybe', type: ['null', 'string'] },
    { name: 'list', type: { type: 'array', items: 'int' } },
    { name: 'table', type: { type: 'map', values: { type: 'array', items: 'string' } } },
    {
      name: 'children',
      type: { type: 'array', items: { type: 'record', name: 'Child', fields: [{ name: 'n', type: 'long' }] } },
    },
  ],
});

const rich_value = {
  flag: true,
  small: -7,
  big: 1_700_000_000_000,
  ratio: 0.5,
  precise: Math.PI,
  text: 'héllo',
  raw: Buffer.from([0, 255]),
  nothing: null,
  color: 'BLUE',
  id: Buffer.from('abcd'),
  maybe: 'x',
  list: [1, -2, 3],
  table: { a: ['x', 'y'], b: [] },
  children: [{ n: 1 }, { n: -(2 ** 40) }],
};

t.test('the guard accepts what avsc writes, for every type', async (t) => {
  const bytes = rich_type.toBuffer(rich_value);
  t.equal(p.guardFor(rich_type).check(bytes), undefined);
  t.equal(p.guardFor(rich_type).bytes_min, 1 + 1 + 1 + 4 + 8 + 1 + 1 + 0 + 1 + 4 + 1 + 1 + 1 + 1);
  t.equal(p.guardFor(rich_type), p.guardFor(rich_type), 'built once per type');
});

t.test('the guard checks a range of a buffer', async (t) => {
  const bytes = rich_type.toBuffer(rich_value);
  const padded = Buffer.concat([Buffer.from([9, 9]), bytes, Buffer.from([9])]);
  t.equal(p.guardFor(rich_type).check(padded, 2, 2 + bytes.length), undefined);
  t.match(p.guardFor(rich_type).check(padded, 2), /1 trailing bytes/);
});

t.test('each truncation of a valid value is refused', async (t) => {
  const bytes = rich_type.toBuffer(rich_value);
  const guard = p.guardFor(rich_type);
  let refused = 0;
  for (let cut = 0; cut < bytes.length; cut++) if (guard.check(bytes.subarray(0, cut)) !== undefined) refused++;
  t.equal(refused, bytes.length);
});

t.test('out-of-range indices and bad booleans are refused with their reason', async (t) => {
  const long = avro.Type.forSchema('long');
  const cases: [string, object, Buffer, RegExp][] = [
    ['boolean 2', { type: 'boolean' }, Buffer.from([2]), /boolean byte 2 is neither 0 nor 1/],
    ['enum index 3', { type: 'enum', name: 'E', symbols: ['A', 'B', 'C'] }, long.toBuffer(3), /index 3 is outside 0..2/],
    ['enum index -1', { type: 'enum', name: 'E', symbols: ['A'] }, long.toBuffer(-1), /index -1/],
    ['union index 2', ['null', 'string'], long.toBuffer(2), /union branch index 2 is outside 0..1/],
    ['union index -1', ['null', 'string'], long.toBuffer(-1), /union branch index -1/],
    ['fixed short', { type: 'fixed', name: 'F', size: 4 }, Buffer.from([1, 2]), /needs 4 bytes, 2 remain/],
    ['float short', { type: 'float' }, Buffer.from([1, 2, 3]), /needs 4 bytes/],
    ['double short', { type: 'double' }, Buffer.from([1]), /needs 8 bytes/],
    ['empty boolean', { type: 'boolean' }, Buffer.alloc(0), /missing/],
    [
      'block size mismatch',
      { type: 'array', items: 'int' },
      Buffer.concat([long.toBuffer(-2), long.toBuffer(5), long.toBuffer(1), long.toBuffer(2), Buffer.alloc(3), long.toBuffer(0)]),
      /should have ended at byte/,
    ],
    [
      'map block size mismatch',
      { type: 'map', values: 'int' },
      Buffer.concat([long.toBuffer(-1), long.toBuffer(1), long.toBuffer(1), Buffer.from('k'), long.toBuffer(2), long.toBuffer(0)]),
      /should have ended at byte/,
    ],
    ['block size beyond input', { type: 'array', items: 'int' }, Buffer.concat([long.toBuffer(-1), long.toBuffer(99)]), /block byte size 99/],
  ];
  for (const [name, schema, bytes, reason] of cases) {
    t.match(p.guardFor(typeOf(schema)).check(bytes), reason, name);
  }
});

t.test('blocks with a negative count and a correct byte size are accepted (Avro allows them)', async (t) => {
  const long = avro.Type.forSchema('long');
  const type = typeOf({ type: 'array', items: 'int' });
  const items = Buffer.concat([long.toBuffer(1), long.toBuffer(-300)]);
  const bytes = Buffer.concat([long.toBuffer(-2), long.toBuffer(items.length), items, long.toBuffer(0)]);
  t.equal(p.guardFor(type).check(bytes), undefined);
  t.same(type.fromBuffer(bytes), [1, -300]);
});

t.test('schemas whose array items can take zero bytes are refused when the guard is built', async (t) => {
  t.throws(() => p.guardFor(typeOf({ type: 'array', items: 'null' })), /can encode to zero bytes/);
  t.throws(
    () => p.guardFor(typeOf({ type: 'array', items: { type: 'record', name: 'Empty', fields: [] } })),
    /can encode to zero bytes/,
  );
  t.throws(
    () => p.guardFor(typeOf({ type: 'array', items: { type: 'fixed', name: 'Zero', size: 0 } })),
    /can encode to zero bytes/,
  );
  t.throws(() => p.defineCodec({ protocol_version: 1, schema: { type: 'record', name: 'R', fields: [{ name: 'a', type: { type: 'array', items: 'null' } }] } }), /zero bytes/);
  // A map entry always holds a key length, so map<null> stays bounded and is allowed.
  const map_of_null = typeOf({ type: 'map', values: 'null' });
  t.equal(p.guardFor(map_of_null).check(map_of_null.toBuffer({ a: null, b: null })), undefined);
  t.match(p.guardFor(map_of_null).check(avro.Type.forSchema('long').toBuffer(2 ** 30)), /declares 1073741824 items of at least 1 bytes/);
});

t.test('a recursive schema is walked, and deep nesting stops at the depth limit instead of the stack', async (t) => {
  const list_type = typeOf({
    type: 'record',
    name: 'Node',
    fields: [
      { name: 'value', type: 'int' },
      { name: 'next', type: ['null', 'Node'] },
    ],
  });
  const nested = (depth: number): unknown => (depth === 0 ? null : { value: depth, next: nested(depth - 1) });
  const shallow = list_type.toBuffer(nested(10));
  t.equal(p.guardFor(list_type).check(shallow), undefined);
  // 1,000,000 levels: two bytes each (value, union index), as a hostile peer would send.
  const levels = 1_000_000;
  const deep = Buffer.alloc(levels * 2 + 1);
  for (let i = 0; i < levels; i++) {
    deep[2 * i] = 2; // value 1
    deep[2 * i + 1] = 2; // union branch 1: another Node
  }
  t.match(p.guardFor(list_type).check(deep), new RegExp(`values nest deeper than ${p.avro_nesting_depth_max}`));
  // The array of records inside a recursive schema is bounded too.
  const tree_type = typeOf({
    type: 'record',
    name: 'Tree',
    fields: [{ name: 'children', type: { type: 'array', items: 'Tree' } }],
  });
  t.equal(p.guardFor(tree_type).check(tree_type.toBuffer({ children: [{ children: [] }, { children: [] }] })), undefined);
});

t.test('logical types are walked as their underlying type', async (t) => {
  class Upper extends avro.types.LogicalType {
    protected override _fromValue(value: unknown): unknown {
      return String(value).toUpperCase();
    }
    protected override _toValue(value: unknown): unknown {
      return value;
    }
  }
  const type = avro.Type.forSchema({ type: 'string', logicalType: 'upper' } as never, { logicalTypes: { upper: Upper } });
  t.equal(p.guardFor(type).check(type.toBuffer('abc')), undefined);
  t.match(p.guardFor(type).check(Buffer.from([20])), /string length 10 is negative or exceeds/);
});

t.test('property: bytes the guard accepts, avsc decodes without throwing (differential, random input)', async (t) => {
  const guard = p.guardFor(rich_type);
  const valid = rich_type.toBuffer(rich_value);
  let accepted = 0;
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 80 }),
        fc.array(fc.record({ at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }), { minLength: 1, maxLength: 3 }).map((flips) => {
          const bytes = Buffer.from(valid);
          for (const flip of flips) bytes[flip.at % bytes.length]! ^= flip.mask;
          return bytes;
        }),
      ),
      (bytes) => {
        if (guard.check(bytes) !== undefined) return true;
        accepted++;
        rich_type.fromBuffer(Buffer.from(bytes)); // throws, failing the property, if the guard was wrong
        return true;
      },
    ),
    { numRuns: 3000 },
  );
  t.ok(accepted > 0, `${accepted} mutated inputs were accepted and decoded`);
});

t.test('property: random valid values of the rich schema are accepted', async (t) => {
  const guard = p.guardFor(rich_type);
  for (let i = 0; i < 300; i++) {
    const value = rich_type.random();
    const bytes = rich_type.toBuffer(value);
    if (guard.check(bytes) !== undefined) t.fail(`refused a valid value: ${guard.check(bytes)}`);
  }
  t.pass('300 random values accepted');
});
