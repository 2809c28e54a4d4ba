import { Worker } from 'node:worker_threads';
import { createRing, RingWriter } from '../src/runtime/ring.js';
import { machineInfo, type MachineInfo } from './lib/machine.js';
import {
  batch_header_bytes,
  batch_length_bytes,
  bench_progress_block,
  type BenchWorkerInput,
  type Transport,
} from './lib/runtime_bench_protocol.js';
import { formatTable, type Column } from './lib/table.js';
import { nowMs, perSecond, until, type CaseBudget } from './lib/timing.js';
import { WorkerLink } from './lib/worker_link.js';
import { ActorSystem } from '../src/runtime/actor_system.js';
import { bench_sink_module_url, bench_sink_protocol } from './lib/bench_sink_messages.js';

/**
 * Cross-thread messages per second, main thread to one worker, by transport:
 *   - per_message: one postMessage per message (the payload is structured-cloned);
 *   - batched: N messages packed into one ArrayBuffer, transferred (no copy), and handed
 *     back with the acknowledgement so a small pool of buffers is reused;
 *   - ring: the SharedArrayBuffer ring (src/runtime/ring.ts), no message at all.
 * Every message is counted by the worker and the total checked against what was sent, so
 * nothing is dropped uncounted. Each case is bounded in time and count.
 */

const payload_sizes_bytes = [64, 1024] as const;
const batch_sizes_messages = [64, 1024] as const;
/** per_message: messages sent and not yet acknowledged, at most. */
const per_message_window_messages = 4_096;
const per_message_ack_every_messages = 512;
/** batched: buffers in the pool, so batches in flight, at most. */
const batch_buffers_in_flight_max = 8;
/**
 * A ring must hold more than the writer produces while the reader wakes up (~40 µs per
 * wake here, far more under load), or the two sides take turns sleeping. Measured on this
 * machine: with 1 KiB records, 256 KiB gave ~1.3-1.5 M messages/s with ~4,500 sender
 * sleeps/s; 4 MiB gave 1.9-4 M messages/s with a few hundred.
 */
const ring_capacity_bytes = 4 << 20;
/** The batched ring case publishes once per this many records (as an outbox flush would). */
const ring_publish_every_messages = 64;
/** Messages sent between clock reads in the measured phase (a multiple of every batch size). */
const send_chunk_messages = 4_096;

export const default_budget: CaseBudget = {
  warmup_messages: 16_384,
  duration_ms: 1_000,
  messages_max: 20_000_000,
  stall_timeout_ms: 10_000,
};

/** One open connection to a fresh bench worker. */
interface Session {
  /** The worker's progress, written by the worker, read here without a message. */
  readonly progress: BenchProgress;
  /** Sends `count` messages, waiting (bounded) whenever flow control says so. */
  send(count: number): Promise<void>;
  /** Ends the sending and returns how many messages the receiving side counted in all. */
  finishAndCount(timeout_ms: number): Promise<number>;
  /** Ends the receiving thread. */
  dispose(): Promise<void>;
  /** Times the sending (main) thread had to wait for room; null where it never blocks that way. */
  senderSleeps(): number | null;
}

export interface RuntimeBenchCase {
  name: string;
  transport: string;
  payload_bytes: number;
  /** Messages per postMessage for batched transports; null otherwise. */
  batch_messages: number | null;
  open(budget: CaseBudget): Promise<Session>;
}

export interface RuntimeCaseResult {
  name: string;
  transport: string;
  payload_bytes: number;
  batch_messages: number | null;
  messages: number;
  elapsed_ms: number;
  messages_per_s: number;
  /** Payload megabytes (10^6 bytes) per second. */
  mb_per_s: number;
  /** Times the worker was woken to handle messages during the measured phase. */
  wakeups: number;
  messages_per_wakeup: number | null;
  /** Ring cases: times the main thread slept because the ring was full (null for postMessage). */
  sender_sleeps: number | null;
}

export interface RuntimeBenchReport {
  bench: 'runtime';
  machine: MachineInfo;
  budget: CaseBudget;
  cases: RuntimeCaseResult[];
}

function payloadOf(payload_bytes: number): Uint8Array {
  // Its own buffer: posting a view of a larger buffer would clone the whole buffer.
  const payload = new Uint8Array(payload_bytes);
  for (let i = 0; i < payload_bytes; i++) payload[i] = i & 0xff;
  return payload;
}

type BenchProgress = ReturnType<typeof bench_progress_block.create>;

function startWorker(transport: Transport, ring: SharedArrayBuffer | null, budget: CaseBudget): { link: WorkerLink; progress: BenchProgress } {
  const progress = bench_progress_block.create();
  const input: BenchWorkerInput = {
    transport,
    progress: progress.sab,
    ring,
    ack_every_messages: per_message_ack_every_messages,
    idle_timeout_ms: budget.stall_timeout_ms,
  };
  const worker = new Worker(new URL('./lib/runtime_bench_worker.js', import.meta.url), { workerData: input });
  return { link: new WorkerLink(worker), progress };
}

function perMessageCase(payload_bytes: number): RuntimeBenchCase {
  return {
    name: `postMessage per message, ${payload_bytes} B`,
    transport: 'per_message',
    payload_bytes,
    batch_messages: null,
    async open(budget) {
      const { link, progress } = startWorker('per_message', null, budget);
      const payload = payloadOf(payload_bytes);
      let sent = 0;
      return {
        progress,
        async send(count) {
          for (let i = 0; i < count; i++) {
            while (sent - link.acked >= per_message_window_messages) await link.changed(budget.stall_timeout_ms);
            link.worker.postMessage(payload);
            sent++;
          }
        },
        ...workerEnd(link, () => link.worker.postMessage({ kind: 'finish' })),
        senderSleeps: () => null,
      };
    },
  };
}

function batchedCase(payload_bytes: number, batch_messages: number): RuntimeBenchCase {
  return {
    name: `postMessage batch of ${batch_messages}, ${payload_bytes} B`,
    transport: 'batched',
    payload_bytes,
    batch_messages,
    async open(budget) {
      const { link, progress } = startWorker('batched', null, budget);
      const payload = payloadOf(payload_bytes);
      const batch_bytes = batch_header_bytes + batch_messages * (batch_length_bytes + payload_bytes);
      for (let i = 0; i < batch_buffers_in_flight_max; i++) {
        const buffer = new ArrayBuffer(batch_bytes);
        new Uint8Array(buffer).fill(0); // touch the pages now, not while measuring
        link.free_buffers.push(buffer);
      }
      return {
        progress,
        async send(count) {
          for (let batch = 0; batch < count / batch_messages; batch++) {
            while (link.free_buffers.length === 0) await link.changed(budget.stall_timeout_ms);
            const buffer = link.free_buffers.pop()!;
            const words = new DataView(buffer);
            const bytes = new Uint8Array(buffer);
            words.setUint32(0, batch_messages, true);
            let offset = batch_header_bytes;
            for (let i = 0; i < batch_messages; i++) {
              words.setUint32(offset, payload_bytes, true);
              bytes.set(payload, offset + batch_length_bytes);
              offset += batch_length_bytes + payload_bytes;
            }
            link.worker.postMessage(buffer, [buffer]);
          }
        },
        ...workerEnd(link, () => link.worker.postMessage({ kind: 'finish' })),
        senderSleeps: () => null,
      };
    },
  };
}

/**
 * publish_every_messages: 1 publishes each record (one Atomics store each, the reader can
 * start at once); more appends that many records and publishes them together.
 */
function ringCase(payload_bytes: number, publish_every_messages: number): RuntimeBenchCase {
  const publishing = publish_every_messages === 1 ? 'publish each' : `publish per ${publish_every_messages}`;
  return {
    name: `SAB ring, ${publishing}, ${payload_bytes} B`,
    transport: publish_every_messages === 1 ? 'ring' : 'ring_batched',
    payload_bytes,
    batch_messages: publish_every_messages === 1 ? null : publish_every_messages,
    async open(budget) {
      const ring = createRing({ capacity_bytes: ring_capacity_bytes });
      const writer = new RingWriter(ring);
      const { link, progress } = startWorker('ring', ring, budget);
      const payload = payloadOf(payload_bytes);
      return {
        progress,
        async send(count) {
          for (let i = 0; i < count; i++) {
            // tryAppend publishes by itself when it finds the ring full; writeAsync publishes.
            if (!writer.tryAppend(payload)) await writer.writeAsync(payload, budget.stall_timeout_ms);
            if ((i + 1) % publish_every_messages === 0) writer.publish();
          }
          writer.publish();
        },
        ...workerEnd(link, () => writer.close()),
        senderSleeps: () => writer.stats.sleeps,
      };
    },
  };
}

/** The end of a raw bench worker's session: tell it to finish, read its final count. */
function workerEnd(link: WorkerLink, finish: () => void): Pick<Session, 'finishAndCount' | 'dispose'> {
  return {
    async finishAndCount(timeout_ms) {
      finish();
      return (await link.final(timeout_ms)).messages;
    },
    dispose: async () => void (await link.worker.terminate()),
  };
}

/** Tells between marks; the sender keeps at most two marked windows in flight, far below the
 *  sink's mailbox bound, so flow control never turns into BUSY. */
const actor_window_messages = 8_192;

/**
 * The actor system's own path: `tell` from the main thread to an actor on a worker thread.
 * Each message is Avro-encoded into the main thread's outbox and a turn's worth leaves in one
 * transferred buffer; the sink's thread decodes each into its mailbox.
 */
function actorTellCase(payload_bytes: number): RuntimeBenchCase {
  return {
    name: `actor tell across threads, ${payload_bytes} B`,
    transport: 'actor_tell',
    payload_bytes,
    batch_messages: null,
    async open() {
      const system = await ActorSystem.start({ threads: 1, limits: { mailbox_messages_max: 4 * actor_window_messages } });
      const progress = bench_progress_block.create();
      const sink = await system.spawn({ address: 'bench/sink', module: bench_sink_module_url, protocol: bench_sink_protocol, args: { progress: progress.sab }, thread: 1 });
      const payload = Buffer.from(payloadOf(payload_bytes));
      let since_mark = 0;
      let previous_mark: Promise<number> = Promise.resolve(0);
      return {
        progress,
        async send(count) {
          for (let i = 0; i < count; i++) {
            if (!sink.tell({ kind: 'data', payload })) throw new Error('the sink refused a tell');
            if (++since_mark === actor_window_messages) {
              since_mark = 0;
              await previous_mark;
              previous_mark = sink.ask({ kind: 'mark' }, { timeout_ms: 30_000 });
            }
          }
        },
        finishAndCount: (timeout_ms) => sink.ask({ kind: 'mark' }, { timeout_ms }),
        dispose: () => system.stop(),
        senderSleeps: () => null,
      };
    },
  };
}

/**
 * The rows, in print order. To add a transport, add a function returning RuntimeBenchCase
 * and list it here.
 */
export const runtime_bench_cases: RuntimeBenchCase[] = payload_sizes_bytes.flatMap((payload_bytes) => [
  perMessageCase(payload_bytes),
  ...batch_sizes_messages.map((batch_messages) => batchedCase(payload_bytes, batch_messages)),
  ringCase(payload_bytes, 1),
  ringCase(payload_bytes, ring_publish_every_messages),
  actorTellCase(payload_bytes),
]);

export async function measureCase(bench_case: RuntimeBenchCase, budget: CaseBudget): Promise<RuntimeCaseResult> {
  const session = await bench_case.open(budget);
  const progress = session.progress;
  try {
    const delivered = () => progress.load('messages_received');
    await session.send(budget.warmup_messages);
    let sent = budget.warmup_messages;
    await until(() => delivered() === sent, 'warm-up delivery', budget.stall_timeout_ms);
    const wakeups_before = progress.load('wakeups');
    const sender_sleeps_before = session.senderSleeps();
    const started_ms = nowMs();
    while (nowMs() - started_ms < budget.duration_ms && sent - budget.warmup_messages < budget.messages_max) {
      await session.send(send_chunk_messages);
      sent += send_chunk_messages;
    }
    await until(() => delivered() === sent, 'delivery of every message sent', budget.stall_timeout_ms);
    const elapsed_ms = nowMs() - started_ms;
    const wakeups = progress.load('wakeups') - wakeups_before;
    const sender_sleeps_after = session.senderSleeps();
    const sender_sleeps =
      sender_sleeps_after === null || sender_sleeps_before === null ? null : sender_sleeps_after - sender_sleeps_before;
    const counted = await session.finishAndCount(budget.stall_timeout_ms);
    if (counted !== sent) {
      throw new Error(`${bench_case.name}: sent ${sent} messages but the receiver counted ${counted}`);
    }
    const messages = sent - budget.warmup_messages;
    return {
      name: bench_case.name,
      transport: bench_case.transport,
      payload_bytes: bench_case.payload_bytes,
      batch_messages: bench_case.batch_messages,
      messages,
      elapsed_ms: Math.round(elapsed_ms * 10) / 10,
      messages_per_s: Math.round(perSecond(messages, elapsed_ms)),
      mb_per_s: Math.round((perSecond(messages, elapsed_ms) * bench_case.payload_bytes) / 1e4) / 100,
      wakeups,
      messages_per_wakeup: wakeups > 0 ? Math.round((messages / wakeups) * 10) / 10 : null,
      sender_sleeps,
    };
  } finally {
    await session.dispose();
  }
}

const result_columns: Column<RuntimeCaseResult>[] = [
  { header: 'case', value: (row) => row.name },
  { header: 'messages', value: (row) => row.messages },
  { header: 'seconds', value: (row) => row.elapsed_ms / 1_000, digits: 2 },
  { header: 'messages/s', value: (row) => row.messages_per_s },
  { header: 'MB/s', value: (row) => row.mb_per_s, digits: 1 },
  { header: 'worker wake-ups', value: (row) => row.wakeups },
  { header: 'messages/wake-up', value: (row) => row.messages_per_wakeup, digits: 1 },
  { header: 'sender sleeps', value: (row) => row.sender_sleeps },
];

/** Runs every case in order; prints a table, or one JSON object with `json`. */
export async function run(options: { json: boolean; duration_ms?: number }): Promise<RuntimeBenchReport> {
  const budget: CaseBudget = { ...default_budget, duration_ms: options.duration_ms ?? default_budget.duration_ms };
  const cases: RuntimeCaseResult[] = [];
  for (const bench_case of runtime_bench_cases) {
    const result = await measureCase(bench_case, budget);
    cases.push(result);
    if (!options.json) process.stderr.write(`  ${result.name}: ${result.messages_per_s.toLocaleString('en-US')} messages/s\n`);
  }
  const report: RuntimeBenchReport = { bench: 'runtime', machine: machineInfo(), budget, cases };
  if (options.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    const machine = report.machine;
    process.stdout.write(
      `runtime bench: main thread -> one worker, ${budget.duration_ms} ms per case ` +
        `(node ${machine.node}, ${machine.cpus} cpus, load ${machine.load_average_1m})\n` +
        `${formatTable(result_columns, cases)}\n` +
        'MB/s counts payload bytes (10^6). Wake-ups: event-loop turns that delivered messages (postMessage), ' +
        'or sleeps of the ring reader. Sender sleeps: the main thread waited for room in the ring.\n',
    );
  }
  return report;
}
