import t from 'tap';
import fc from 'fast-check';
import * as p from '../../src/protocol/index.js';
import { cutsOf, envelope, split } from './arbitraries.js';
import { plain } from './plain.js';

function envelopesOf(results: p.FrameResult[]): p.Envelope[] {
  return results.map((result) => {
    if (!result.ok) throw result.error;
    return result.envelope;
  });
}

/** True when `view` lies inside `container`'s bytes (same memory, not a copy). */
function isWithin(view: Uint8Array, container: Uint8Array): boolean {
  return (
    view.buffer === container.buffer &&
    view.byteOffset >= container.byteOffset &&
    view.byteOffset + view.byteLength <= container.byteOffset + container.byteLength
  );
}

function feed(decoder: p.FrameDecoder, pieces: Uint8Array[]): p.FrameResult[] {
  return pieces.flatMap((piece) => decoder.push(piece));
}

const small_envelope: p.Envelope = {
  code: p.request_codes.SEND,
  correlationId: 42,
  flags: p.flag_oneway,
  headers: { trace: 't-1' },
  body: Buffer.from('hello'),
};

t.test('property: envelopes split at random points decode whole, in order, field by field', async (t) => {
  fc.assert(
    fc.property(fc.array(envelope, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 30 }), (envelopes, raw_cuts) => {
      const stream = Buffer.concat(envelopes.map((value) => p.encodeFrame(value)));
      const decoder = new p.FrameDecoder();
      const decoded = envelopesOf(feed(decoder, split(stream, cutsOf(raw_cuts, stream.length))));
      t.same(plain(decoded), plain(envelopes));
      return decoded.length === envelopes.length && decoder.bufferedBytes === 0;
    }),
    { numRuns: 300 },
  );
});

t.test('property: envelopes fed one byte at a time decode whole, in order', async (t) => {
  fc.assert(
    fc.property(fc.array(envelope, { minLength: 1, maxLength: 4 }), (envelopes) => {
      const stream = Buffer.concat(envelopes.map((value) => p.encodeFrame(value)));
      const decoder = new p.FrameDecoder();
      const results: p.FrameResult[] = [];
      for (let i = 0; i < stream.length; i++) results.push(...decoder.push(stream.subarray(i, i + 1)));
      t.same(plain(envelopesOf(results)), plain(envelopes));
      return results.length === envelopes.length;
    }),
    { numRuns: 60 },
  );
});

t.test('many frames in one chunk all decode, in order, as views into the chunk', async (t) => {
  const frame_count = 1000;
  const chunk = Buffer.concat(
    Array.from({ length: frame_count }, (_, i) => p.encodeFrame({ ...small_envelope, correlationId: i, body: Buffer.from(`m${i}`) })),
  );
  const decoded = envelopesOf(new p.FrameDecoder().push(chunk));
  t.equal(decoded.length, frame_count);
  t.same(
    decoded.map((value) => value.correlationId),
    Array.from({ length: frame_count }, (_, i) => i),
  );
  t.equal(Buffer.from(decoded[999]!.body).toString(), 'm999');
  t.ok(
    decoded.every((value) => isWithin(value.body, chunk)),
    'frames wholly inside the chunk are decoded in place (bodies are views, not copies)',
  );
});

t.test('a frame that spans chunks is reassembled once, outside the chunks', async (t) => {
  const frame = p.encodeFrame(small_envelope);
  const first = Buffer.from(frame.subarray(0, 10));
  const second = Buffer.from(frame.subarray(10));
  const decoder = new p.FrameDecoder();
  t.same(decoder.push(first), []);
  t.equal(decoder.bufferedBytes, 6, 'four prefix bytes consumed, six envelope bytes held');
  const [result] = decoder.push(second);
  t.ok(result?.ok);
  if (result?.ok) {
    t.equal(Buffer.from(result.envelope.body).toString(), 'hello');
    t.notOk(isWithin(result.envelope.body, second), 'the body lives in the reassembly buffer, not in a chunk');
  }
  t.equal(decoder.bufferedBytes, 0);
  t.equal(decoder.reservedBytes, 0, 'the reassembly buffer is released to the envelope');
});

t.test('encodeFrame writes a 4-byte big-endian length then the Avro envelope (golden bytes)', async (t) => {
  const frame = p.encodeFrame(small_envelope);
  t.equal(
    frame.toString('hex'),
    '0000001514' + '54' + '04' + '020a7472616365' + '06742d31' + '00' + '0a68656c6c6f',
    'length 0x13 | code 10 | correlationId 42 | flags 2 | headers {trace: t-1} | body "hello"',
  );
  t.equal(frame.readUInt32BE(0), frame.length - 4);
  const whole = p.envelope_type.toBuffer({ ...small_envelope });
  t.equal(frame.subarray(4).toString('hex'), whole.toString('hex'), 'same bytes as avsc encoding the full Envelope record');
  const [head, body] = p.encodeFrameChunks(small_envelope);
  t.equal(Buffer.concat([head, body]).toString('hex'), frame.toString('hex'), 'chunks concatenate to the frame');
  t.equal(body, small_envelope.body, 'the body chunk is the caller\'s buffer, not a copy');
  t.equal(p.encodeEnvelope(small_envelope).toString('hex'), frame.subarray(4).toString('hex'));
});

t.test('an envelope body given as a Uint8Array encodes like a Buffer', async (t) => {
  const frame = p.encodeFrame({ ...small_envelope, body: new Uint8Array([104, 101, 108, 108, 111]) });
  t.equal(frame.toString('hex'), p.encodeFrame(small_envelope).toString('hex'));
  t.throws(() => p.encodeFrame({ ...small_envelope, body: 'text' as unknown as Uint8Array }), { code: 'INVALID_VALUE' });
  t.throws(() => p.encodeFrame({ ...small_envelope, code: 2 ** 31 }), { code: 'INVALID_VALUE', message: /code/ });
});

t.test('a declared length over the limit is fatal at once, without buffering the payload', async (t) => {
  const decoder = new p.FrameDecoder({ frame_bytes_max: 1024 });
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(1025, 0);
  const valid_after = p.encodeFrame(small_envelope);
  const results = decoder.push(Buffer.concat([prefix, Buffer.alloc(100, 7), valid_after]));
  t.equal(results.length, 1, 'nothing after the bad prefix is looked at');
  const [result] = results;
  t.equal(result?.ok, false);
  if (result && !result.ok) {
    t.equal(result.error.code, 'FRAME_TOO_LARGE');
    t.equal(result.error.fatal, true);
    t.match(result.error.message, /1025 bytes exceeds frame_bytes_max 1024/);
  }
  t.equal(decoder.bufferedBytes, 0);
  t.equal(decoder.reservedBytes, 0);
  t.equal(decoder.closed, true);
  const later = decoder.push(valid_after);
  t.equal(later.length, 1);
  t.equal(later[0]?.ok === false && later[0].error.code, 'DECODER_CLOSED');
  t.equal(later[0]?.ok === false && later[0].error.fatal, true);
});

t.test('the largest length the prefix can state (2^32-1) is refused by the default limit', async (t) => {
  const decoder = new p.FrameDecoder();
  t.equal(decoder.frame_bytes_max, p.frame_bytes_max);
  const results = decoder.push(Buffer.from([0xff, 0xff]));
  t.same(results, [], 'half a prefix: nothing yet');
  const [result] = decoder.push(Buffer.from([0xff, 0xff]));
  t.equal(result?.ok === false && result.error.code, 'FRAME_TOO_LARGE');
  t.equal(decoder.bufferedBytes, 0);
});

t.test('a frame exactly at the limit is accepted', async (t) => {
  const body = Buffer.alloc(1000, 1);
  const frame = p.encodeFrame({ ...small_envelope, body });
  const length = frame.readUInt32BE(0);
  const [result] = new p.FrameDecoder({ frame_bytes_max: length }).push(frame);
  t.ok(result?.ok);
  t.throws(() => p.encodeFrame({ ...small_envelope, body }, { frame_bytes_max: length - 1 }), {
    code: 'FRAME_TOO_LARGE',
    fatal: false,
  });
});

t.test('frame_bytes_max must fit the 32-bit prefix', async (t) => {
  t.throws(() => new p.FrameDecoder({ frame_bytes_max: 0 }), RangeError);
  t.throws(() => new p.FrameDecoder({ frame_bytes_max: 2 ** 32 }), RangeError);
  t.throws(() => new p.FrameDecoder({ frame_bytes_max: 1.5 }), RangeError);
});

t.test('a garbage frame of valid length is a non-fatal error and the next frame is found', async (t) => {
  const garbage = Buffer.from([0, 0, 0, 3, 0xff, 0xff, 0xff]);
  const empty = Buffer.from([0, 0, 0, 0]);
  const good = p.encodeFrame(small_envelope);
  const decoder = new p.FrameDecoder();
  const results = decoder.push(Buffer.concat([garbage, empty, good]));
  t.same(
    results.map((result) => (result.ok ? 'ok' : `${result.error.code}/${result.error.fatal}`)),
    ['MALFORMED_FRAME/false', 'MALFORMED_FRAME/false', 'ok'],
  );
  t.equal(decoder.closed, false);
});

t.test('a malformed frame whose first fields are readable reports its correlation id', async (t) => {
  const frame = p.encodeFrame({ ...small_envelope, correlationId: 777 });
  frame[frame.length - 6] = 0x7f; // the body length byte: now longer than the frame
  const [result] = new p.FrameDecoder().push(frame);
  t.equal(result?.ok === false && result.error.code, 'MALFORMED_FRAME');
  t.equal(result?.ok === false && result.error.correlationId, 777);
});

t.test('a partial frame holds memory in proportion to the bytes received, not the length declared', async (t) => {
  const decoder = new p.FrameDecoder();
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(8 * 1024 * 1024, 0);
  decoder.push(prefix);
  t.equal(decoder.reservedBytes, 0, 'a prefix alone reserves nothing');
  decoder.push(Buffer.alloc(100));
  t.equal(decoder.bufferedBytes, 100);
  t.equal(decoder.reservedBytes, p.frame_reassembly_bytes_initial);
  decoder.push(Buffer.alloc(p.frame_reassembly_bytes_initial));
  t.ok(decoder.reservedBytes <= 2 * decoder.bufferedBytes, `reserved ${decoder.reservedBytes} <= 2 x ${decoder.bufferedBytes}`);
});

t.test('end() says whether the stream stopped inside a frame', async (t) => {
  const frame = p.encodeFrame(small_envelope);
  const clean = new p.FrameDecoder();
  clean.push(frame);
  t.equal(clean.end(), undefined);
  const cut = new p.FrameDecoder();
  cut.push(frame.subarray(0, 9));
  const error = cut.end();
  t.equal(error?.code, 'TRUNCATED_FRAME');
  t.match(error?.message, /5 bytes received/);
  t.equal(cut.bufferedBytes, 0);
  const in_prefix = new p.FrameDecoder();
  in_prefix.push(frame.subarray(0, 2));
  t.equal(in_prefix.end()?.code, 'TRUNCATED_FRAME');
});

t.test('an empty chunk yields nothing', async (t) => {
  const decoder = new p.FrameDecoder();
  t.same(decoder.push(new Uint8Array(0)), []);
  t.equal(decoder.bufferedBytes, 0);
});

t.test('envelope flags and response helpers', async (t) => {
  t.equal(p.flag_response, 1);
  t.equal(p.flag_oneway, 2);
  t.equal(p.flag_error, 4);
  const request = p.requestEnvelope(p.request_codes.PULL, 9, Buffer.from([1]), { oneway: true, headers: { a: 'b' } });
  t.same(plain(request), { body: 'hex:01', code: 11, correlationId: 9, flags: 2, headers: { a: 'b' } });
  t.equal(p.isOneway(request), true);
  t.equal(p.isResponse(request), false);
  const response = p.responseEnvelope(request, Buffer.from([2]));
  t.same([response.code, response.correlationId, response.flags], [11, 9, 1]);
  t.equal(p.responseStatus(response), 'OK');
  const error = p.errorEnvelope(request, p.encodeErrorResponse({ code: 'BAD_REQUEST', message: 'm', retriable: false }));
  t.same([error.code, error.correlationId, error.flags], [11, 9, 5]);
  t.equal(p.isResponse(error) && p.isError(error), true);
  t.equal(p.responseStatus(error), 'ERROR');
  t.equal(p.requestEnvelope(1, 1, Buffer.alloc(0)).flags, 0);
});

t.test('limits are the documented values', async (t) => {
  t.equal(p.body_bytes_max, 4 * 1024 * 1024);
  t.equal(p.properties_bytes_max, 32 * 1024);
  t.equal(p.frame_bytes_max, 8 * 1024 * 1024 + 256 * 1024);
  t.equal(p.frame_length_prefix_bytes, 4);
  t.equal(p.name_chars_max, 127);
});
