/**
 * Transactions per second through a real broker (a standalone child process per flush mode):
 *   - send: Producer.send, the baseline a transaction is two of;
 *   - transaction, COMMIT / ROLLBACK: TransactionProducer.sendInTransaction, the local
 *     transaction answering at once: half message (SEND) + END_TRANSACTION; a commit appends
 *     the message into its topic and an operation record, a rollback the operation record;
 *   - check-back: transactions left UNKNOWN, then resolved by the broker's check-back (the
 *     producer's check answers COMMIT): how fast the broker settles a backlog of undecided ones.
 * Each timed case runs `window` operations in flight for its duration; latency is one whole
 * operation as the caller sees it. After each case the topic's records are counted by raw
 * PULL, so a commit that did not land shows as a mismatch.
 *
 * Run: `npm run bench -- tx [--json] [--duration-ms N]` (N = per timed case, default 5000).
 */
import { Admin, Producer, TransactionProducer, type Message, type TransactionOutcome } from '../src/client/index.js';
import { ClientConnection } from '../src/client/remoting/client_connection.js';
import { LatencyHistogram, type LatencySummary } from '../src/client/bench/latency_histogram.js';
import * as p from '../src/protocol/index.js';
import { machineInfo, type MachineInfo } from './lib/machine.js';
import { withStandaloneNode, type BenchNode } from './lib/standalone_node.js';
import { formatTable, type Column } from './lib/table.js';

const tx_bench_settings = {
  duration_ms_default: 5_000,
  /** Operations in flight per timed case. */
  window: 64,
  body_bytes: 1_024,
  queues: 8,
  /** Undecided transactions left to the check-back, and the node's check interval for them. */
  check_backlog: 5_000,
  check_interval_ms: 1_000,
  /** The check-back case stops here whatever was resolved. */
  check_timeout_ms: 60_000,
} as const;

type Operation = 'send' | 'transaction, COMMIT' | 'transaction, ROLLBACK';

export interface TxCaseResult {
  flush: 'async' | 'sync';
  operation: Operation | 'check-back';
  operations: number;
  failed: number;
  per_s: number;
  latency: LatencySummary | undefined;
  /** Records the case added to its topic, by raw PULL. */
  stored: number;
  /** Records the case should have added (sends and commits acknowledged). */
  expected_stored: number;
}

export interface TxBenchReport {
  bench: 'tx';
  machine: MachineInfo;
  settings: typeof tx_bench_settings & { duration_ms: number };
  cases: TxCaseResult[];
}

const quiet = { warn: () => undefined };

/** The sum of the end offsets of `topic`'s queues: every record it holds. */
async function storedCount(broker: string, topic: string): Promise<number> {
  const client = await ClientConnection.connect(broker, { client_id: 'tx-bench-count', kind: 'CLIENT' });
  try {
    let total = 0;
    for (let queue = 0; queue < tx_bench_settings.queues; queue++) {
      const reply = p.decodePullResponse(await client.request(p.request_codes.PULL, p.encodePullRequest({
        consumerGroup: '', topic, queueId: queue, queueOffset: 0, maxCount: 1, maxBytes: 1 << 20, tagExpression: '*', longPollTimeoutMs: 0, commitOffset: null,
      })));
      if (!reply.ok) throw new Error(`PULL of ${topic}/${queue}: ${reply.error.message}`);
      total += reply.value.maxOffset;
    }
    return total;
  } finally {
    client.close();
  }
}

/** Runs `window` loops of `operation` until `duration_ms` passed; times each call. */
async function timedLoops(duration_ms: number, operation: () => Promise<boolean>): Promise<{ operations: number; failed: number; elapsed_ms: number; latency: LatencySummary | undefined }> {
  const histogram = new LatencyHistogram();
  let operations = 0;
  let failed = 0;
  const started_ms = performance.now();
  const deadline_ms = started_ms + duration_ms;
  await Promise.all(Array.from({ length: tx_bench_settings.window }, async () => {
    while (performance.now() < deadline_ms) {
      const before_ms = performance.now();
      let ok = false;
      try {
        ok = await operation();
      } catch {
        ok = false;
      }
      histogram.record((performance.now() - before_ms) * 1_000);
      operations++;
      if (!ok) failed++;
    }
  }));
  const elapsed_ms = performance.now() - started_ms;
  const latency = histogram.summary();
  histogram.destroy();
  return { operations, failed, elapsed_ms, latency };
}

async function createTopics(namesrv: string, topics: readonly string[]): Promise<void> {
  const admin = new Admin({ namesrv });
  try {
    for (const topic of topics) {
      // The ready line can come before the broker's first registration: retried briefly.
      for (let attempt = 0; ; attempt++) {
        try {
          await admin.createTopic({ topic, queues: tx_bench_settings.queues });
          break;
        } catch (error) {
          if (attempt >= 50) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    }
  } finally {
    await admin.close();
  }
}

async function measureFlushMode(flush: 'async' | 'sync', duration_ms: number, progress: (line: string) => void): Promise<TxCaseResult[]> {
  const flags = ['--flush', flush, '--transaction-check-interval-ms', String(tx_bench_settings.check_interval_ms), '--transaction-check-max', '100'];
  return withStandaloneNode(flags, async (node) => {
    const operations: Operation[] = ['send', 'transaction, COMMIT', 'transaction, ROLLBACK'];
    const topicOf = (index: number) => `BenchTx${index}`;
    await createTopics(node.namesrv, [...operations.map((_, index) => topicOf(index)), 'BenchTxCheck']);
    let check_answer: TransactionOutcome = 'UNKNOWN';
    const producer = new Producer({ namesrv: node.namesrv });
    const tx_producer = new TransactionProducer({ namesrv: node.namesrv, group: 'bench-tx', logger: quiet, check: async () => check_answer });
    await producer.start();
    await tx_producer.start();
    const body = Buffer.alloc(tx_bench_settings.body_bytes, 0x61);
    const results: TxCaseResult[] = [];
    try {
      for (const [index, operation] of operations.entries()) {
        const message: Message = { topic: topicOf(index), body };
        const run = operationOf(operation, producer, tx_producer, message);
        await run(); // warm-up: routes, connections
        const loops = await timedLoops(duration_ms, run);
        const acked = loops.operations - loops.failed + 1;
        results.push({
          flush, operation, operations: loops.operations, failed: loops.failed, per_s: (loops.operations / loops.elapsed_ms) * 1_000, latency: loops.latency,
          stored: await settledCount(node, topicOf(index), operation === 'transaction, ROLLBACK' ? 0 : acked),
          expected_stored: operation === 'transaction, ROLLBACK' ? 0 : acked,
        });
        progress(`  ${flush} flush, ${operation}: done`);
      }
      results.push(await measureCheckBack(flush, node, tx_producer, body, (answer) => (check_answer = answer)));
      progress(`  ${flush} flush, check-back: done`);
    } finally {
      await tx_producer.shutdown();
      await producer.shutdown();
    }
    return results;
  });
}

function operationOf(operation: Operation, producer: Producer, tx_producer: TransactionProducer, message: Message): () => Promise<boolean> {
  switch (operation) {
    case 'send':
      return async () => (await producer.send(message)).status === 'SEND_OK';
    case 'transaction, COMMIT':
      return async () => (await tx_producer.sendInTransaction(message, async () => 'COMMIT')).endTransaction === 'COMMITTED';
    case 'transaction, ROLLBACK':
      return async () => (await tx_producer.sendInTransaction(message, async () => 'ROLLBACK')).endTransaction === 'ROLLED_BACK';
  }
}

/** The topic's record count once dispatch caught up with `expected` (or 2 s passed). */
async function settledCount(node: BenchNode, topic: string, expected: number): Promise<number> {
  const deadline_ms = performance.now() + 2_000;
  for (;;) {
    const count = await storedCount(node.broker, topic);
    if (count === expected || performance.now() > deadline_ms) return count;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `check_backlog` transactions left UNKNOWN, then the check answers COMMIT: resolved per second. */
async function measureCheckBack(flush: 'async' | 'sync', node: BenchNode, tx_producer: TransactionProducer, body: Buffer, answer: (outcome: TransactionOutcome) => void): Promise<TxCaseResult> {
  const topic = 'BenchTxCheck';
  const total = tx_bench_settings.check_backlog;
  let next = 0;
  let failed = 0;
  await Promise.all(Array.from({ length: tx_bench_settings.window }, async () => {
    while (next < total) {
      next++;
      const result = await tx_producer.sendInTransaction({ topic, body }, async () => 'UNKNOWN').catch(() => undefined);
      if (result?.endTransaction !== 'UNDECIDED') failed++;
    }
  }));
  const expected = total - failed;
  answer('COMMIT');
  const started_ms = performance.now();
  let stored = 0;
  while (stored < expected && performance.now() - started_ms < tx_bench_settings.check_timeout_ms) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    stored = await storedCount(node.broker, topic);
  }
  const elapsed_ms = performance.now() - started_ms;
  return { flush, operation: 'check-back', operations: stored, failed, per_s: (stored / elapsed_ms) * 1_000, latency: undefined, stored, expected_stored: expected };
}

const columns: Column<TxCaseResult>[] = [
  { header: 'flush', value: (row) => row.flush },
  { header: 'operation', value: (row) => row.operation },
  { header: 'ops', value: (row) => row.operations },
  { header: 'failed', value: (row) => row.failed },
  { header: 'ops/s', value: (row) => row.per_s },
  { header: 'p50 ms', value: (row) => (row.latency === undefined ? null : row.latency.p50_us / 1_000), digits: 2 },
  { header: 'p99 ms', value: (row) => (row.latency === undefined ? null : row.latency.p99_us / 1_000), digits: 2 },
  { header: 'p99.9 ms', value: (row) => (row.latency === undefined ? null : row.latency.p999_us / 1_000), digits: 2 },
  { header: 'max ms', value: (row) => (row.latency === undefined ? null : row.latency.max_us / 1_000), digits: 1 },
  { header: 'stored/expected', value: (row) => `${row.stored}/${row.expected_stored}` },
];

function printReport(report: TxBenchReport): void {
  const { machine, settings } = report;
  const lines = [
    `tx: ${settings.window} operations in flight, ${settings.body_bytes}-byte bodies, ${settings.duration_ms} ms per timed case, standalone node, one producer process`,
    `node ${machine.node}, ${machine.cpus} vCPUs (${machine.cpu_model}), load ${machine.load_average_1m}`,
    '',
    formatTable(columns, report.cases),
    'notes:',
    '  a transaction is two round trips: the half message (SEND with the prepared flag) and END_TRANSACTION; on the broker,',
    '  END_TRANSACTION goes connection thread -> transaction actor (service thread) -> CommitLog writer and back.',
    `  check-back: ${settings.check_backlog} transactions left UNKNOWN, then the producer's check answers COMMIT; ops/s = committed per`,
    `  second from then on (--transaction-check-interval-ms ${settings.check_interval_ms}: up to 256 checks per round, 4 rounds per interval).`,
    '  stored/expected: records in the topic by raw PULL after the case / sends and commits acknowledged (rollbacks: 0).',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

export async function run(options: { json: boolean; duration_ms?: number }): Promise<TxBenchReport> {
  const duration_ms = options.duration_ms ?? tx_bench_settings.duration_ms_default;
  const progress = (line: string) => {
    if (!options.json) process.stderr.write(`${line}\n`);
  };
  const cases: TxCaseResult[] = [];
  for (const flush of ['async', 'sync'] as const) cases.push(...await measureFlushMode(flush, duration_ms, progress));
  const report: TxBenchReport = { bench: 'tx', machine: machineInfo(), settings: { ...tx_bench_settings, duration_ms }, cases };
  if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else printReport(report);
  return report;
}
