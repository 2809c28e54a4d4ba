/**
 * Fuzz at a live standalone node (a child process): several raw sockets send fast-check
 * sessions (fuzz_sessions.ts: garbage, bad length prefixes, mutated frames and bodies,
 * random codes, valid requests of every API with arbitrary values, cut at random points,
 * some never reading the replies) for a bounded time and count, while a normal Producer and
 * Consumer work. The node must stay up and healthy, log no error (an INTERNAL answer to
 * hostile input is a bug), keep its memory bounded and stop cleanly; the normal client must
 * see no error and get every message, bytes equal.
 *
 * Replay: the seed is printed in the test name; MQ_TEST_SEED=<seed> runs another one.
 * MQ_FUZZ_DEBUG=1 prints the progress every second (sessions, the node's memory, messages).
 */
import net from 'node:net';
import t from 'tap';
import { Admin } from '../../../src/client/admin.js';
import { Consumer } from '../../../src/client/consumer/consumer.js';
import { Producer } from '../../../src/client/producer.js';
import { adminGet, startNode, type NodeProcess } from '../../cli/node_process.js';
import { until } from '../../client/client_helpers.js';
import { tempDir } from '../../storage/commit_log_helpers.js';
import { fuzzSessions, type FuzzSession } from './fuzz_sessions.js';
import { residentBytes, sleep } from '../process_probes.js';

const fuzz_limits = {
  /** The fixed seed every run uses unless MQ_TEST_SEED names another. */
  seed_default: 20_260_101,
  duration_ms: 15_000,
  /** Raw sockets sending at once, and sessions each sends at most. */
  senders: 4,
  sessions_per_sender_max: 2_500,
  /** A session that reads its replies waits this long for them before closing. */
  linger_ms: 20,
  /** Messages the normal producer sends, spread over the fuzz time. */
  messages: 1_500,
  /** Resident memory the node may gain from before the fuzz to its peak: generous, since
   *  the normal traffic and the fuzz's own topics legitimately take some. */
  rss_growth_bytes_max: 256 << 20,
  health_interval_ms: 1_000,
  drain_timeout_ms: 20_000,
} as const;

const seed = Number(process.env['MQ_TEST_SEED'] ?? fuzz_limits.seed_default);

/** Sends one session on a new connection; resolves when it is closed (by either side). */
function runSession(address: string, session: FuzzSession): Promise<void> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolve) => {
    const socket = net.connect({ host, port: Number(port) });
    let timer: NodeJS.Timeout | undefined;
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
    if (!session.reads) socket.pause();
    socket.on('connect', () => {
      for (const chunk of session.chunks) socket.write(chunk);
      // A peer that reads waits a moment for the answers; one that does not just leaves.
      timer = setTimeout(() => socket.destroy(), session.reads ? fuzz_limits.linger_ms : 0);
    });
  });
}

t.test(`fuzz at a live node while a normal client works (seed ${seed}; MQ_TEST_SEED=${seed} replays)`, async (t) => {
  const node: NodeProcess = await startNode(t, [
    '--role', 'standalone', '--port', '0', '--namesrv-port', '0', '--admin-port', '0', '--ha-port', '0', '--grpc-port', '0', '--host', '127.0.0.1',
    '--data', tempDir(t), '--threads', '2', '--heartbeat-interval-ms', '200', '--log-level', 'error',
  ]);
  let exited = false;
  void node.exited.then(() => (exited = true));
  const namesrv = node.ready['namesrv'] as string;
  const broker = node.ready['broker'] as string;
  const targets = [broker, broker, broker, namesrv];

  // The normal client: its topic exists before it starts, so that it never sees a missing route.
  const admin = new Admin({ namesrv });
  t.teardown(() => admin.close());
  await admin.createTopic({ topic: 'FuzzControl', queues: 4 });
  const producer = new Producer({ namesrv, instanceName: 'fuzz-control-producer' });
  t.teardown(() => producer.shutdown());
  await producer.start();
  const warnings: string[] = [];
  const received = new Map<string, Buffer>();
  const consumer = new Consumer({
    namesrv, group: 'fuzz-control', subscriptions: [{ topic: 'FuzzControl' }], fromWhere: 'first', instanceName: 'fuzz-control-consumer',
    rebalanceIntervalMs: 200, logger: { warn: (message: string) => warnings.push(message) },
  });
  consumer.onMessage(async (message) => {
    received.set(message.keys[0] ?? '', Buffer.from(message.body));
  });
  t.teardown(() => consumer.shutdown());
  await consumer.start();
  const bodyOf = (index: number): Buffer => Buffer.from(`control ${index} `.repeat(1 + (index % 40)));
  // Warm up, so that the memory baseline holds what the normal traffic needs anyway.
  await producer.send({ topic: 'FuzzControl', body: bodyOf(0), keys: ['m0'] });
  await until('the consumer has the first message', () => (received.has('m0') ? true : undefined));
  const rss_before = residentBytes(node.pid);

  const started_ms = performance.now();
  const fuzzing = (): boolean => performance.now() - started_ms < fuzz_limits.duration_ms && !exited;
  let sessions_sent = 0;
  let frames_sent = 0;
  const kinds = new Map<string, number>();
  const senders = Array.from({ length: fuzz_limits.senders }, async (_, index) => {
    const sessions = fuzzSessions(seed + index, fuzz_limits.sessions_per_sender_max);
    const target = targets[index % targets.length] as string;
    for (const session of sessions) {
      if (!fuzzing()) return;
      await runSession(target, session);
      sessions_sent++;
      frames_sent += session.frames;
      kinds.set(session.kind, (kinds.get(session.kind) ?? 0) + 1);
    }
  });

  let send_errors = 0;
  let send_index = 0;
  const sending = (async () => {
    const pause_ms = fuzz_limits.duration_ms / fuzz_limits.messages;
    for (let index = 1; index < fuzz_limits.messages; index++) {
      send_index = index;
      try {
        await producer.send({ topic: 'FuzzControl', body: bodyOf(index), keys: [`m${index}`] });
      } catch (error) {
        send_errors++;
        warnings.push(`send ${index}: ${String(error)}`);
      }
      if (fuzzing()) await sleep(pause_ms);
    }
  })();

  let rss_peak = rss_before;
  const health: number[] = [];
  const watching = (async () => {
    while (fuzzing()) {
      rss_peak = Math.max(rss_peak, residentBytes(node.pid));
      health.push(await adminGet(node, '/healthz').then((reply) => reply.status, () => 0));
      if (process.env['MQ_FUZZ_DEBUG'] !== undefined) t.comment(`${Math.round(performance.now() - started_ms)} ms: ${sessions_sent} sessions, rss ${Math.round(residentBytes(node.pid) / 2 ** 20)} MiB, received ${received.size}, sending ${send_index}, exited ${exited}, warnings ${JSON.stringify(warnings.slice(0, 3))}`);
      await sleep(fuzz_limits.health_interval_ms);
    }
  })();

  await Promise.all([...senders, sending, watching]);
  const elapsed_ms = performance.now() - started_ms;
  t.comment(`seed ${seed}: ${sessions_sent} sessions, ${frames_sent} frames in ${Math.round(elapsed_ms)} ms (${[...kinds].map(([kind, count]) => `${kind} ${count}`).join(', ')})`);
  t.notOk(exited, 'the node never exited');
  t.ok(frames_sent > 1_000, `the fuzz sent ${frames_sent} frames`);
  t.ok(health.length > 0 && health.every((status) => status === 200), `/healthz answered 200 throughout (${health.length} probes)`);
  t.equal((await adminGet(node, '/healthz')).status, 200, '/healthz is 200 after the fuzz');

  await until('the consumer has every message', () => (received.size >= fuzz_limits.messages ? true : undefined), fuzz_limits.drain_timeout_ms);
  let mismatches = 0;
  for (let index = 0; index < fuzz_limits.messages; index++) if (!received.get(`m${index}`)?.equals(bodyOf(index))) mismatches++;
  t.equal(send_errors, 0, 'every send of the normal producer succeeded');
  t.equal(mismatches, 0, `the normal consumer got all ${fuzz_limits.messages} messages, bytes equal`);
  t.same(warnings, [], 'the normal client logged no warning');

  rss_peak = Math.max(rss_peak, residentBytes(node.pid));
  const growth = rss_peak - rss_before;
  t.comment(`node RSS: ${Math.round(rss_before / 2 ** 20)} MiB before, ${Math.round(rss_peak / 2 ** 20)} MiB at the peak`);
  t.ok(growth < fuzz_limits.rss_growth_bytes_max, `the node's memory grew ${Math.round(growth / 2 ** 20)} MiB (bound ${fuzz_limits.rss_growth_bytes_max / 2 ** 20} MiB)`);

  const errors = node.stderr().split('\n').filter((line) => /"level":(50|60)/.test(line));
  t.same(errors.slice(0, 5), [], `the node logged no error (${errors.length} lines)`);

  await consumer.shutdown();
  await producer.shutdown();
  await admin.close();
  const exit = await node.signal('SIGTERM');
  t.equal(exit.code, 0, 'and it stops cleanly after the fuzz');
});
