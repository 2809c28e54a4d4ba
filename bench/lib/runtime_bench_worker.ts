import { parentPort, workerData } from 'node:worker_threads';
import { RingReader } from '../../src/runtime/ring.js';
import {
  batch_header_bytes,
  batch_length_bytes,
  bench_progress_block,
  type BenchWorkerInput,
  type FromBenchWorker,
  type ToBenchWorker,
} from './runtime_bench_protocol.js';

/**
 * The receiving side of the runtime bench. It does the least a real receiver does: looks
 * at every message (first byte and length), counts it, and reports progress in the shared
 * control block. Wake-ups: for MessagePort transports, the event-loop turns in which
 * messages arrived; for the ring, the times the reader slept and was woken.
 */
const input = workerData as BenchWorkerInput;
const port = parentPort!;
const progress = bench_progress_block.attach(input.progress);
let received = 0;
let wakeups = 0;
let checksum = 0;
let in_turn = false;

function post(message: FromBenchWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

function handle(view: Uint8Array): void {
  checksum = (checksum + view.length + (view[0] ?? 0)) | 0;
}

/** Counts one wake-up per event-loop turn that delivered messages. */
function noteTurn(): void {
  if (in_turn) return;
  in_turn = true;
  wakeups++;
  setImmediate(() => {
    in_turn = false;
  });
}

function report(): void {
  progress.slots.messages_received.store(received);
  progress.slots.wakeups.store(wakeups);
}

function finished(): FromBenchWorker {
  report();
  return { kind: 'finished', messages: received, wakeups, checksum };
}

function onBatch(buffer: ArrayBuffer): void {
  const words = new DataView(buffer);
  const bytes = new Uint8Array(buffer);
  const count = words.getUint32(0, true);
  let offset = batch_header_bytes;
  for (let i = 0; i < count; i++) {
    const length = words.getUint32(offset, true);
    offset += batch_length_bytes;
    handle(bytes.subarray(offset, offset + length));
    offset += length;
  }
  received += count;
  noteTurn();
  report();
  post({ kind: 'ack', messages: received, buffer }, [buffer]);
}

function onMessage(message: Uint8Array | ArrayBuffer | ToBenchWorker): void {
  if (message instanceof Uint8Array) {
    handle(message);
    received++;
    noteTurn();
    if (received % input.ack_every_messages === 0) {
      report();
      post({ kind: 'ack', messages: received, buffer: null });
    }
  } else if (message instanceof ArrayBuffer) {
    onBatch(message);
  } else if (message.kind === 'finish') {
    post(finished());
  }
}

/** Ring mode blocks this thread in Atomics.wait between batches; close() ends it. */
function readRing(ring: SharedArrayBuffer): void {
  const reader = new RingReader(ring);
  for (;;) {
    const state = reader.waitForData(input.idle_timeout_ms);
    if (state === 'timed-out') {
      post({ kind: 'failed', problem: `ring reader idle for ${input.idle_timeout_ms} ms` });
      return;
    }
    if (state === 'closed') break;
    received += reader.drain(handle);
    wakeups = reader.stats.sleeps;
    report();
  }
  post(finished());
}

if (input.transport === 'ring') {
  if (input.ring === null) post({ kind: 'failed', problem: 'transport ring needs a ring buffer' });
  else readRing(input.ring);
} else {
  port.on('message', onMessage);
}
