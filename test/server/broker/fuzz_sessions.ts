/**
 * Hostile sessions for the fuzz tests: each is what one raw connection sends to a node, made
 * by fast-check from a seed, so that a failing run replays byte for byte. The kinds go from
 * noise to almost-valid traffic, because each reaches a different layer: garbage and bad
 * length prefixes stop at the frame decoder; mutated frames at the envelope decoder; valid
 * envelopes with random codes at the router; valid frames with mutated bodies at each
 * handler's body decoder; valid requests with arbitrary values (the protocol's own
 * encoders) at the handlers' checks and the store.
 */
import fc from 'fast-check';
import * as p from '../../../src/protocol/index.js';
import { avroValue, byte_mutation, cutsOf, envelope, mutate, split } from '../../protocol/arbitraries.js';

export type FuzzSessionKind = 'garbage' | 'oversized-prefix' | 'no-hello' | 'random-envelopes' | 'mutated-stream' | 'mutated-bodies' | 'valid-requests';

export interface FuzzSession {
  kind: FuzzSessionKind;
  /** The bytes to write, already cut where the socket writes are cut. */
  chunks: Buffer[];
  /** Frames (or blobs of garbage) in it. */
  frames: number;
  /** False: a peer that never reads what the node answers. */
  reads: boolean;
}

export const fuzz_session_limits = {
  /** Requests per session after HELLO. */
  requests_max: 12,
  /** Bytes of one garbage blob. */
  garbage_bytes_max: 4_096,
  /** Places a session's byte stream is cut into separate writes. */
  cuts_max: 6,
  mutations_max: 4,
} as const;

const known_codes = Object.values(p.request_codes).filter((code) => code !== p.request_codes.HELLO);

/** Per request code, arbitrary values of its request record (protocol 2 has every API). */
const request_values = new Map<number, fc.Arbitrary<Buffer>>(
  known_codes.map((code) => {
    const codecs = p.apiCodecs(code, p.protocol_version_max);
    if (!codecs.ok) throw codecs.error;
    const request = codecs.value.request;
    // The real encoder, as a client would use it; a value it refuses (none should, the
    // arbitraries stay within the schema) becomes bytes that are at least not empty.
    return [code, avroValue(request.type as never).map((value) => {
      try {
        return request.encode(value);
      } catch {
        return Buffer.from([0xff]);
      }
    })];
  }),
);

const hello_frame = fc
  .constantFrom<p.VersionRange>({ version_min: 1, version_max: 1 }, { version_min: 1, version_max: 2 }, { version_min: 2, version_max: 2 }, { version_min: 1, version_max: 3 })
  .map((range) => p.encodeFrame(p.requestEnvelope(p.request_codes.HELLO, 1, p.encodeHello(p.helloFor('fuzz-client@1', 'CLIENT', range)))));

/** A well-formed request of a known code whose body is an arbitrary value of its record. */
const valid_request = fc.constantFrom(...known_codes).chain((code) =>
  fc.tuple(fc.constant(code), request_values.get(code) as fc.Arbitrary<Buffer>, fc.boolean()),
);

function framed(requests: Array<[number, Buffer, boolean]>, first_id = 2): Buffer[] {
  return requests.map(([code, body, oneway], index) => p.encodeFrame(p.requestEnvelope(code, first_id + index, body, { oneway })));
}

const requests = fc.array(valid_request, { minLength: 1, maxLength: fuzz_session_limits.requests_max });
const mutations = fc.array(byte_mutation, { minLength: 1, maxLength: fuzz_session_limits.mutations_max });

const streams: Record<FuzzSessionKind, fc.Arbitrary<{ stream: Buffer; frames: number }>> = {
  garbage: fc.tuple(fc.option(hello_frame), fc.uint8Array({ minLength: 1, maxLength: fuzz_session_limits.garbage_bytes_max })).map(([hello, bytes]) => ({
    stream: Buffer.concat([...(hello === null ? [] : [hello]), bytes]),
    frames: hello === null ? 1 : 2,
  })),
  'oversized-prefix': fc.tuple(hello_frame, fc.integer({ min: p.frame_bytes_max + 1, max: 2 ** 32 - 1 }), fc.uint8Array({ maxLength: 64 })).map(([hello, length, tail]) => {
    const prefix = Buffer.alloc(p.frame_length_prefix_bytes);
    prefix.writeUInt32BE(length, 0);
    return { stream: Buffer.concat([hello, prefix, tail]), frames: 2 };
  }),
  'no-hello': requests.map((list) => ({ stream: Buffer.concat(framed(list)), frames: list.length })),
  'random-envelopes': fc.tuple(hello_frame, fc.array(envelope, { minLength: 1, maxLength: fuzz_session_limits.requests_max })).map(([hello, list]) => ({
    stream: Buffer.concat([hello, ...list.map((value) => p.encodeFrame({ ...value, body: Buffer.from(value.body) }))]),
    frames: 1 + list.length,
  })),
  'mutated-stream': fc.tuple(hello_frame, requests, mutations).map(([hello, list, edits]) => ({
    stream: mutate(Buffer.concat([hello, ...framed(list)]), edits),
    frames: 1 + list.length,
  })),
  'mutated-bodies': fc.tuple(hello_frame, fc.array(fc.tuple(valid_request, mutations), { minLength: 1, maxLength: fuzz_session_limits.requests_max })).map(([hello, list]) => ({
    stream: Buffer.concat([hello, ...framed(list.map(([[code, body, oneway], edits]) => [code, mutate(body, edits), oneway]))]),
    frames: 1 + list.length,
  })),
  'valid-requests': fc.tuple(hello_frame, requests).map(([hello, list]) => ({ stream: Buffer.concat([hello, ...framed(list)]), frames: 1 + list.length })),
};

export const fuzz_session: fc.Arbitrary<FuzzSession> = fc
  .constantFrom(...(Object.keys(streams) as FuzzSessionKind[]))
  .chain((kind) =>
    fc.tuple(fc.constant(kind), streams[kind], fc.array(fc.nat(), { maxLength: fuzz_session_limits.cuts_max }), fc.boolean(), fc.boolean()),
  )
  .map(([kind, { stream, frames }, cuts, reads_a, reads_b]) => ({
    kind,
    chunks: split(stream, cutsOf(cuts, stream.length)),
    frames,
    // Three in four read their replies; the others never do.
    reads: reads_a || reads_b,
  }));

/** `count` sessions from `seed`: the same seed gives the same sessions. */
export function fuzzSessions(seed: number, count: number): FuzzSession[] {
  return fc.sample(fuzz_session, { seed, numRuns: count });
}
