/**
 * The RocketMQ 5 gRPC endpoint against mq-node's own protocol, through one standalone broker
 * (a child process, async flush), with the same load shape:
 *   - send: `window` sends in flight for the case's duration, 1 KiB bodies; the official
 *     client's Producer (rocketmq-client-nodejs) over gRPC, and mq-node's Producer over its
 *     framed protocol;
 *   - receive + ack: the official SimpleConsumer draining what the gRPC send case stored,
 *     `window` messages a receive, each acked.
 * Latency is one whole operation as the caller sees it.
 *
 * Run: `npm run bench -- grpc [--json] [--duration-ms N]` (N = per timed case, default 5000).
 */
import { Producer as RocketMqProducer, SimpleConsumer } from 'rocketmq-client-nodejs';
import { Admin, Producer } from '../src/client/index.js';
import { LatencyHistogram, type LatencySummary } from '../src/client/bench/latency_histogram.js';
import { machineInfo, type MachineInfo } from './lib/machine.js';
import { withStandaloneNode } from './lib/standalone_node.js';
import { formatTable, type Column } from './lib/table.js';

const grpc_bench_settings = {
  duration_ms_default: 5_000,
  /** Sends in flight, and messages asked for per receive. */
  window: 32,
  body_bytes: 1_024,
  queues: 8,
  /** The receive case stops here whatever is left. */
  drain_timeout_ms: 60_000,
  /** After the clients' shutdown, before the node is killed (see run()). */
  client_settle_ms: 1_000,
} as const;

interface GrpcCaseResult {
  case: string;
  operations: number;
  failed: number;
  per_s: number;
  latency: LatencySummary | undefined;
}

export interface GrpcBenchReport {
  bench: 'grpc';
  machine: MachineInfo;
  settings: typeof grpc_bench_settings & { duration_ms: number };
  cases: GrpcCaseResult[];
}

/** The official client's logger, silent (it would write a file under the home directory). */
const silent = { info: (): void => undefined, warn: (): void => undefined, error: (): void => undefined, debug: (): void => undefined };

/** `window` loops of `operation` until `duration_ms` passed; each call timed. */
async function timedLoops(name: string, duration_ms: number, operation: () => Promise<unknown>): Promise<GrpcCaseResult> {
  const histogram = new LatencyHistogram();
  let operations = 0;
  let failed = 0;
  const started_ms = performance.now();
  const loop = async (): Promise<void> => {
    while (performance.now() - started_ms < duration_ms) {
      const begun_ms = performance.now();
      try {
        await operation();
        histogram.record((performance.now() - begun_ms) * 1_000);
        operations++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: grpc_bench_settings.window }, loop));
  const elapsed_ms = performance.now() - started_ms;
  return { case: name, operations, failed, per_s: (operations * 1_000) / elapsed_ms, latency: histogram.summary() };
}

export async function run(options: { json: boolean; duration_ms?: number }): Promise<GrpcBenchReport> {
  const duration_ms = options.duration_ms ?? grpc_bench_settings.duration_ms_default;
  const body = Buffer.alloc(grpc_bench_settings.body_bytes, 7);
  const cases = await withStandaloneNode(['--flush', 'async'], async (node) => {
    const admin = new Admin({ namesrv: node.namesrv });
    try {
      await admin.createTopic({ topic: 'GrpcBench', queues: grpc_bench_settings.queues });
      await admin.createTopic({ topic: 'FramedBench', queues: grpc_bench_settings.queues });
    } finally {
      await admin.close();
    }
    const results: GrpcCaseResult[] = [];
    // The consumer first: a new group starts at each queue's end when it first starts.
    const consumer = new SimpleConsumer({ endpoints: node.grpc, namespace: '', consumerGroup: 'grpc-bench', subscriptions: new Map([['GrpcBench', '*']]), awaitDuration: 1_000, logger: silent });
    await consumer.startup();
    const official = new RocketMqProducer({ endpoints: node.grpc, namespace: '', topic: 'GrpcBench', logger: silent });
    await official.startup();
    results.push(await timedLoops('send, official client over gRPC', duration_ms, () => official.send({ topic: 'GrpcBench', body })));
    await official.shutdown();
    const ours = new Producer({ namesrv: node.namesrv, retries: 0 });
    await ours.start();
    results.push(await timedLoops('send, mq-node Producer (framed)', duration_ms, () => ours.send({ topic: 'FramedBench', body })));
    await ours.shutdown();
    results.push(await drain(consumer, results[0]?.operations ?? 0));
    await consumer.shutdown();
    // The official client (1.0.8) lets its telemetry streams end after shutdown() resolves and
    // throws on a stream that errors meanwhile: the node is killed only once they are closed.
    await new Promise((resolve) => setTimeout(resolve, grpc_bench_settings.client_settle_ms));
    return results;
  });
  const report: GrpcBenchReport = { bench: 'grpc', machine: machineInfo(), settings: { ...grpc_bench_settings, duration_ms }, cases };
  process.stdout.write(options.json ? `${JSON.stringify(report)}\n` : `${formatReport(report)}\n`);
  return report;
}

/** Receives and acks `expected` messages (each receive timed, acks included), or stops at the timeout. */
async function drain(consumer: SimpleConsumer, expected: number): Promise<GrpcCaseResult> {
  const histogram = new LatencyHistogram();
  let received = 0;
  let failed = 0;
  const started_ms = performance.now();
  while (received < expected && performance.now() - started_ms < grpc_bench_settings.drain_timeout_ms) {
    const begun_ms = performance.now();
    try {
      const messages = await consumer.receive(grpc_bench_settings.window, 30_000);
      await Promise.all(messages.map((message) => consumer.ack(message)));
      received += messages.length;
      if (messages.length > 0) histogram.record((performance.now() - begun_ms) * 1_000);
    } catch {
      failed++;
    }
  }
  const elapsed_ms = performance.now() - started_ms;
  return { case: `receive ${grpc_bench_settings.window} + ack each, official SimpleConsumer`, operations: received, failed, per_s: (received * 1_000) / elapsed_ms, latency: histogram.summary() };
}

function formatReport(report: GrpcBenchReport): string {
  const ms = (value: number | undefined): number | null => (value === undefined ? null : value / 1_000);
  const columns: Column<GrpcCaseResult>[] = [
    { header: 'case', value: (row) => row.case },
    { header: 'operations', value: (row) => row.operations },
    { header: 'failed', value: (row) => row.failed },
    { header: 'msgs/s', value: (row) => row.per_s },
    { header: 'p50 ms', value: (row) => ms(row.latency?.p50_us), digits: 2 },
    { header: 'p90 ms', value: (row) => ms(row.latency?.p90_us), digits: 2 },
    { header: 'p99 ms', value: (row) => ms(row.latency?.p99_us), digits: 2 },
    { header: 'max ms', value: (row) => ms(row.latency?.max_us), digits: 2 },
  ];
  const { machine } = report;
  return [
    `grpc: ${report.settings.window} in flight, ${report.settings.body_bytes} B bodies, ${report.settings.duration_ms} ms per send case (node ${machine.node}, ${machine.cpus} cpus, load ${machine.load_average_1m.toFixed(2)}); receive latency is one receive of up to ${report.settings.window} with its acks`,
    formatTable(columns, report.cases),
  ].join('\n');
}
