/**
 * Hostile input: bytes a peer controls must never crash, hang or balloon a process.
 * Each case asserts the typed error it gets. The cases that make unguarded avsc spin (seconds
 * to forever) run under a 2 s tap timeout, so a regression fails the test instead of hanging;
 * no elapsed time is asserted, which would be flaky on a shared machine.
 */
import t from 'tap';
import fc from 'fast-check';
import avro from 'avsc';
import * as p from '../../src/protocol/index.js';
import { envelope } from './arbitraries.js';
import { schema_cases } from './schema_cases.js';

const long_type = avro.Type.forSchema('long');

/** An Avro long (zigzag varint) for any |n| <= 2^52. */
function long(n: number): Buffer {
  return long_type.toBuffer(n);
}

function frameOf(envelope_bytes: Buffer): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(envelope_bytes.length, 0);
  return Buffer.concat([prefix, envelope_bytes]);
}

/** Envelope bytes whose headers map declares `count` entries, and nothing after. */
function hostileHeaders(count: number): Buffer {
  return Buffer.concat([long(10), long(1), long(0), long(count)]);
}

const known_codes = new Set<p.ProtocolErrorCode>([
  'FRAME_TOO_LARGE',
  'MALFORMED_FRAME',
  'DECODER_CLOSED',
  'TRUNCATED_FRAME',
]);

/** Every result is a decoded envelope or a typed ProtocolError with a known code. */
function allTyped(results: p.FrameResult[]): boolean {
  return results.every((result) =>
    result.ok
      ? typeof result.envelope.code === 'number' && result.envelope.body instanceof Uint8Array
      : result.error instanceof p.ProtocolError && known_codes.has(result.error.code) && result.error.message.length > 0,
  );
}

t.test('the trap, on raw avsc: a block count is trusted and looped over before any bounds check', async (t) => {
  // A logical type counts how many items avsc reads; it stops the loop after a bound so that
  // this test terminates, which raw avsc on its own would not do for a map.
  let items_read = 0;
  const items_read_max = 10_000;
  class Counted extends avro.types.LogicalType {
    protected override _fromValue(value: unknown): unknown {
      items_read++;
      if (items_read > items_read_max) throw new Error('runaway');
      return value;
    }
    protected override _toValue(value: unknown): unknown {
      return value;
    }
  }
  const map_type = avro.Type.forSchema(
    { type: 'map', values: { type: 'string', logicalType: 'counted' } } as never,
    { logicalTypes: { counted: Counted } },
  );
  const input = long(2 ** 40); // 6 bytes declaring 2^40 entries
  t.throws(() => map_type.fromBuffer(input), /runaway/);
  t.equal(items_read, items_read_max + 1, `avsc read ${items_read} entries out of a ${input.length}-byte input`);

  items_read = 0;
  const array_type = avro.Type.forSchema(
    { type: 'array', items: { type: 'int', logicalType: 'counted' } } as never,
    { logicalTypes: { counted: Counted } },
  );
  t.throws(() => array_type.fromBuffer(long(2 ** 26)), /runaway/);
  t.equal(items_read, items_read_max + 1, 'an array of 2^26 ints is allocated and looped over the same way');

  // The guard answers from the bytes alone: no item is read.
  items_read = 0;
  t.match(p.guardFor(map_type).check(input), /map block declares 1099511627776 items of at least 2 bytes each; only 0 bytes remain/);
  t.match(p.guardFor(array_type).check(long(2 ** 26)), /array block declares 67108864 items/);
  t.equal(items_read, 0, 'the guard never calls into avsc');
});

t.test('a frame declaring 2^40 header entries is refused without spinning', { timeout: 2000 }, async (t) => {
  const decoder = new p.FrameDecoder();
  const results = decoder.push(Buffer.concat([frameOf(hostileHeaders(2 ** 40)), p.encodeFrame(goodEnvelope())]));
  t.equal(results.length, 2);
  t.equal(results[0]?.ok === false && results[0].error.code, 'MALFORMED_FRAME');
  t.equal(results[0]?.ok === false && results[0].error.fatal, false);
  t.match(results[0]?.ok === false && results[0].error.message, /map block declares 1099511627776 items/);
  t.equal(results[0]?.ok === false && results[0].error.correlationId, 1, 'the request can still be answered');
  t.equal(results[1]?.ok, true, 'the next frame is still found');
});

t.test('hostile counts in request bodies are refused without spinning', { timeout: 2000 }, async (t) => {
  const cases: [string, (bytes: Uint8Array) => p.Result<unknown>, Buffer][] = [
    ['SendBatchRequest messages', p.decodeSendBatchRequest, long(2 ** 40)],
    ['SendBatchRequest negative block', p.decodeSendBatchRequest, Buffer.concat([long(-(2 ** 40)), long(1), Buffer.from([0])])],
    ['TopicRouteData brokers', p.decodeTopicRouteData, Buffer.concat([long(0), long(0), long(2 ** 40)])],
    ['HeartbeatRequest producerGroups', (bytes: Uint8Array) => p.decodeHeartbeatRequest(bytes, p.protocol_version_max), Buffer.concat([long(0), long(2 ** 45)])],
    ['PullResponse messages', p.decodePullResponse, Buffer.concat([long(0), long(0), long(0), long(0), long(2 ** 50)])],
    ['SendRequest body length', p.decodeSendRequest, Buffer.concat([long(1), Buffer.from('T'), long(0), long(0), long(0), long(0)])],
    ['SendRequest topic length', p.decodeSendRequest, long(2 ** 52)],
    ['SendRequest negative topic length', p.decodeSendRequest, long(-5)],
  ];
  for (const [name, decode, bytes] of cases) {
    const decoded = decode(bytes);
    t.equal(decoded.ok ? 'ok' : decoded.error.code, 'MALFORMED_BODY', name);
  }
});

t.test('huge and negative string and bytes lengths in an envelope are refused', async (t) => {
  const head = Buffer.concat([long(10), long(1), long(0)]);
  const inputs: [string, Buffer, RegExp][] = [
    ['body length 2^40', Buffer.concat([head, long(0), long(2 ** 40)]), /bytes length 1099511627776 is negative or exceeds/],
    ['body length -1', Buffer.concat([head, long(0), long(-1)]), /bytes length -1/],
    ['header key length 2^40', Buffer.concat([head, long(1), long(2 ** 40)]), /map key length 1099511627776/],
    ['header value length 2^33', Buffer.concat([head, long(1), long(1), Buffer.from('k'), long(2 ** 33)]), /string length/],
    ['varint of 11 bytes', Buffer.concat([Buffer.alloc(11, 0x80), Buffer.from([1])]), /int is truncated, longer than 5 bytes/],
    ['long beyond 2^52', Buffer.concat([long(10), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])]), /beyond 2\^52/],
    ['int beyond 32 bits', Buffer.concat([long(2 ** 33)]), /outside 32 bits/],
    ['empty', Buffer.alloc(0), /truncated/],
  ];
  for (const [name, bytes, reason] of inputs) {
    const decoded = p.decodeEnvelope(bytes);
    t.equal(decoded.ok ? 'ok' : decoded.error.code, 'MALFORMED_FRAME', name);
    t.match(decoded.ok ? '' : decoded.error.message, reason, name);
  }
});

t.test('a map key "__proto__" is refused when decoding and when encoding', async (t) => {
  const key = Buffer.from('__proto__');
  const bytes = Buffer.concat([long(10), long(1), long(0), long(1), long(key.length), key, long(1), Buffer.from('x'), long(0), long(0)]);
  const decoded = p.decodeEnvelope(bytes);
  t.equal(decoded.ok ? 'ok' : decoded.error.code, 'MALFORMED_FRAME');
  t.match(decoded.ok ? '' : decoded.error.message, /__proto__/);
  const headers = JSON.parse('{"__proto__":"x"}') as Record<string, string>;
  t.throws(() => p.encodeFrame({ ...goodEnvelope(), headers }), { code: 'INVALID_VALUE', message: /__proto__/ });
});

t.test('a negative long below -2^52, which avsc would write as a positive number, is refused on encode', async (t) => {
  t.equal(p.long_magnitude_max, 2 ** 52);
  const at_limit = p.decodeGetOffsetResponse(p.encodeGetOffsetResponse({ offset: -(2 ** 52) }));
  t.equal(at_limit.ok && at_limit.value.offset, -(2 ** 52), 'the limit itself round-trips');
  t.throws(() => p.encodeGetOffsetResponse({ offset: -(2 ** 52) - 3 }), { code: 'INVALID_VALUE', message: /receiver would refuse/ });
  t.throws(() => p.encodeFrame({ ...goodEnvelope(), correlationId: -8018747716785387 }), { code: 'INVALID_VALUE' });
});

t.test('property: random garbage never throws, every result is typed, and fatal errors close the decoder', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 12 }), fc.nat({ max: 2048 }), (chunks, limit) => {
      const decoder = new p.FrameDecoder({ frame_bytes_max: limit + 1 });
      let closed_seen = false;
      for (const chunk of chunks) {
        const results = decoder.push(chunk);
        if (!allTyped(results)) return false;
        if (closed_seen && !(results.length === 1 && results[0]?.ok === false && results[0].error.code === 'DECODER_CLOSED')) {
          return false;
        }
        if (results.some((result) => !result.ok && result.error.fatal)) closed_seen = true;
        // At most one result per 5 bytes (the shortest frame), plus one closed notice.
        if (results.length > Math.floor(chunk.length / 5) + 1) return false;
      }
      t.pass();
      return decoder.closed === closed_seen;
    }),
    { numRuns: 500 },
  );
});

t.test('property: a valid frame with its payload mutated costs that frame only; the next is found', async (t) => {
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('extend' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  );
  fc.assert(
    fc.property(envelope, fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.nat(), (value, mutations, split_at) => {
      let payload = Buffer.from(p.encodeEnvelope(value));
      for (const change of mutations) {
        if (change.kind === 'flip' && payload.length > 0) payload[change.at % payload.length]! ^= change.mask;
        if (change.kind === 'truncate') payload = payload.subarray(0, change.at % (payload.length + 1));
        if (change.kind === 'extend') payload = Buffer.concat([payload, change.extra]);
      }
      const sentinel = goodEnvelope();
      const stream = Buffer.concat([frameOf(payload), p.encodeFrame(sentinel)]);
      const cut = split_at % (stream.length + 1);
      const decoder = new p.FrameDecoder();
      const results = [...decoder.push(stream.subarray(0, cut)), ...decoder.push(stream.subarray(cut))];
      t.equal(results.length, 2);
      const [mutated, last] = results;
      const mutated_typed = mutated?.ok === true || mutated?.error.code === 'MALFORMED_FRAME';
      return allTyped(results) && mutated_typed && last?.ok === true && last.envelope.correlationId === sentinel.correlationId;
    }),
    { numRuns: 400 },
  );
});

t.test('property: any mutation of a stream (prefix included) never throws and yields typed results', async (t) => {
  fc.assert(
    fc.property(
      fc.array(envelope, { minLength: 1, maxLength: 4 }),
      fc.array(fc.record({ at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }), { maxLength: 4 }),
      fc.nat(),
      fc.uint8Array({ maxLength: 16 }),
      (envelopes, flips, keep, extra) => {
        const stream = Buffer.concat([...envelopes.map((value) => p.encodeFrame(value)), extra]);
        for (const flip of flips) stream[flip.at % stream.length]! ^= flip.mask;
        const decoder = new p.FrameDecoder({ frame_bytes_max: 4096 });
        const results = decoder.push(stream.subarray(0, keep % (stream.length + 1)));
        t.pass();
        return allTyped(results);
      },
    ),
    { numRuns: 400 },
  );
});

t.test('property: every schema decoder survives garbage and mutations (the guard leaves avsc nothing to throw on)', async (t) => {
  for (const schema_case of schema_cases) {
    const valid = schema_case.encode(schema_case.value as never);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 96 }),
          fc.array(fc.record({ at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }), { minLength: 1, maxLength: 4 }).map((flips) => {
            const bytes = Buffer.from(valid);
            for (const flip of flips) if (bytes.length > 0) bytes[flip.at % bytes.length]! ^= flip.mask;
            return bytes;
          }),
        ),
        (bytes) => {
          const decoded = schema_case.decode(bytes);
          if (decoded.ok) {
            // Whatever decoded is a value the encoder accepts again.
            return schema_case.decode(schema_case.encode(decoded.value as never)).ok;
          }
          return decoded.error.code === 'MALFORMED_BODY' && /is malformed: at byte \d+: /.test(decoded.error.message);
        },
      ),
      { numRuns: 150 },
    );
    t.pass(schema_case.name);
  }
});

function goodEnvelope(): p.Envelope {
  return { code: p.request_codes.HEARTBEAT, correlationId: 99, flags: 0, headers: {}, body: Buffer.from([1, 2, 3]) };
}
