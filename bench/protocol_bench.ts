/**
 * Protocol throughput: encode + decode of a SendRequest with a 1 KiB body, unframed
 * (record codec only) and framed (record -> envelope -> frame -> FrameDecoder -> record),
 * plus the parts, so that a regression shows where it is. Each measurement is bounded in
 * both time (`measure_ms_max`) and count (`iterations_max`), after a short warm-up.
 *
 * Run: `npm run bench -- protocol` (or `node dist/bench/protocol_bench.js [--json]`).
 */
import { fileURLToPath } from 'node:url';
import * as p from '../src/protocol/index.js';

const body_bytes = 1024;
const warmup_iterations = 5_000;
/** Default time for the whole run; each of the measurements gets an equal share. */
const duration_ms_default = 3_600;
const iterations_max = 3_000_000;
/** Iterations between clock reads, so that reading the clock costs little. */
const batch_iterations = 500;

interface Measurement {
  name: string;
  /** Key of the figure in the returned record. */
  key: string;
  ops_per_s: number;
  /** Wire bytes per operation (for MB/s). */
  bytes_per_op: number;
}

function measure(name: string, key: string, measure_ms_max: number, bytes_per_op: number, operation: () => void): Measurement {
  for (let i = 0; i < warmup_iterations; i++) operation();
  const started_ms = performance.now();
  let iterations = 0;
  let elapsed_ms = 0;
  while (elapsed_ms < measure_ms_max && iterations < iterations_max) {
    for (let i = 0; i < batch_iterations; i++) operation();
    iterations += batch_iterations;
    elapsed_ms = performance.now() - started_ms;
  }
  return { name, key, ops_per_s: (iterations * 1000) / elapsed_ms, bytes_per_op };
}

function sampleRequest(): p.SendRequest {
  return {
    topic: 'BenchTopic',
    queueId: -1,
    tag: 'bench',
    keys: ['key-1'],
    properties: { traceId: '0af7651916cd43dd8448eb211c80319c' },
    bornTimestamp: 1_767_225_600_000,
    bornHost: '127.0.0.1:50000',
    flags: 0,
    delayMs: null,
    deliverAtMs: null,
    reconsumeTimes: 0,
    producerGroup: 'bench-producers',
    body: Buffer.alloc(body_bytes, 0x61),
  };
}

/** Fails loudly if a benchmarked path stops producing correct results. */
function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`protocol bench: ${what}; the codec is broken, run the protocol tests`);
}

export async function run(options: { json: boolean; duration_ms?: number }): Promise<Record<string, number>> {
  const measurement_count = 6;
  const measure_ms_max = Math.max(50, (options.duration_ms ?? duration_ms_default) / measurement_count);
  const request = sampleRequest();
  const request_bytes = p.encodeSendRequest(request);
  const frame = p.encodeFrame(p.requestEnvelope(p.request_codes.SEND, 1, request_bytes));
  const decoder = new p.FrameDecoder();
  const guard = p.guardFor(p.SendRequestType);
  let sink = 0;

  const measurements = [
    measure('encode SendRequest', 'encode', measure_ms_max, request_bytes.length, () => {
      sink += p.encodeSendRequest(request).length;
    }),
    measure('decode SendRequest (body as view)', 'decode', measure_ms_max, request_bytes.length, () => {
      const decoded = p.decodeSendRequest(request_bytes);
      sink += decoded.ok ? decoded.value.body.length : -1;
    }),
    measure('guard walk of SendRequest bytes', 'guard', measure_ms_max, request_bytes.length, () => {
      sink += guard.check(request_bytes) === undefined ? 1 : -1;
    }),
    measure('unframed encode+decode', 'unframed_round_trip', measure_ms_max, request_bytes.length, () => {
      const decoded = p.decodeSendRequest(p.encodeSendRequest(request));
      sink += decoded.ok ? decoded.value.body.length : -1;
    }),
    measure('framed encode+decode', 'framed_round_trip', measure_ms_max, frame.length, () => {
      const encoded = p.encodeFrame(p.requestEnvelope(p.request_codes.SEND, 1, p.encodeSendRequest(request)));
      const [result] = decoder.push(encoded);
      const decoded = result?.ok ? p.decodeSendRequest(result.envelope.body) : undefined;
      sink += decoded?.ok ? decoded.value.body.length : -1;
    }),
    measure('FrameDecoder.push of one frame', 'frame_decode', measure_ms_max, frame.length, () => {
      const results = decoder.push(frame);
      sink += results.length;
    }),
  ];
  check(measurements.length === measurement_count, 'the measurement count changed without measurement_count');
  check(sink > 0 && decoder.bufferedBytes === 0, 'a decode failed during the run');

  const figures: Record<string, number> = {};
  for (const measurement of measurements) {
    figures[`${measurement.key}_ops_per_s`] = Math.round(measurement.ops_per_s);
  }
  figures['send_request_bytes'] = request_bytes.length;
  figures['frame_bytes'] = frame.length;

  if (options.json) {
    console.log(JSON.stringify({ bench: 'protocol', ...figures }));
  } else {
    console.log(`protocol: SendRequest with a ${body_bytes}-byte body (${request_bytes.length} B record, ${frame.length} B frame)`);
    console.log(`${'operation'.padEnd(40)} ${'ops/s'.padStart(12)} ${'µs/op'.padStart(8)} ${'MB/s'.padStart(8)}`);
    for (const measurement of measurements) {
      const us_per_op = 1e6 / measurement.ops_per_s;
      const mb_per_s = (measurement.ops_per_s * measurement.bytes_per_op) / 1e6;
      console.log(
        `${measurement.name.padEnd(40)} ${Math.round(measurement.ops_per_s).toLocaleString('en-US').padStart(12)} ` +
          `${us_per_op.toFixed(2).padStart(8)} ${mb_per_s.toFixed(1).padStart(8)}`,
      );
    }
  }
  return figures;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await run({ json: process.argv.includes('--json') });
}
