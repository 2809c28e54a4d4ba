import { spawn } from 'node:child_process';
import t, { type Test } from 'tap';
import { bin_path, childEnv } from '../cli/node_process.js';
import { startStandalone } from './client_helpers.js';

/**
 * `mq-node bench` as users run it: child processes against a standalone node started by
 * the test. Produce and consume report exactly the counts sent and consumed, as one JSON
 * object on stdout, with progress as plain lines on stderr (not a terminal); e2e in one
 * process receives every message it sent; bad flags exit 2 with one line.
 */

const bench_test_limits = {
  /** A run of a few thousand messages takes about a second; the margin is for a loaded machine. */
  command_timeout_ms: 90_000,
  output_chars_max: 1 << 20,
} as const;

interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `mq-node bench ...` to its exit (bounded); the child is SIGKILLed by PID at teardown if still running. */
function bench(t: Test, args: readonly string[]): Promise<CommandResult> {
  const child = spawn(process.execPath, [bin_path, 'bench', ...args], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid;
  t.teardown(() => {
    if (pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    if (stdout.length < bench_test_limits.output_chars_max) stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < bench_test_limits.output_chars_max) stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mq-node bench ${args.join(' ')} did not exit within ${bench_test_limits.command_timeout_ms} ms; stderr: ${stderr}`)), bench_test_limits.command_timeout_ms);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function onlyJson(t: Test, result: CommandResult): Record<string, unknown> {
  const lines = result.stdout.trim().split('\n');
  t.equal(lines.length, 1, 'stdout is one JSON line');
  return JSON.parse(lines[0] ?? '') as Record<string, unknown>;
}

t.test('bench against a standalone node', async (t) => {
  const { namesrv } = await startStandalone(t);
  const topic = 'BenchTopic';
  const count = 2_000;

  await t.test('produce: every message sent and acknowledged, latency of each', async (t) => {
    const result = await bench(t, ['produce', '--namesrv', namesrv, '--topic', topic, '--count', String(count), '--size', '1024', '--producers', '2', '--inflight', '32', '--queues', '4', '--json']);
    t.equal(result.code, 0, `exit 0; stderr: ${result.stderr}`);
    const report = onlyJson(t, result);
    t.match(report, { command: 'produce', topic, count, size_bytes: 1024, producers: 2, inflight_per_producer: 32, sent: count, failed: 0, stopped_by: 'count' });
    t.equal((report['send_ack_latency_us'] as Record<string, number>)['samples'], count, 'one latency sample per acknowledged send');
    t.ok((report['msgs_per_s'] as number) > 0 && (report['mb_per_s'] as number) > 0, 'throughput reported');
    t.notOk(result.stderr.includes('\r'), 'progress is not redrawn in place when stderr is not a terminal');
  });

  await t.test('consume: exactly what was sent, once each', async (t) => {
    const result = await bench(t, ['consume', '--namesrv', namesrv, '--topic', topic, '--group', 'BenchGroup', '--count', String(count), '--json']);
    t.equal(result.code, 0, `exit 0; stderr: ${result.stderr}`);
    const report = onlyJson(t, result);
    t.match(report, { command: 'consume', topic, group: 'BenchGroup', count_target: count, received: count, unique: count, duplicates: 0, unstamped: 0, stopped_by: 'count' });
    t.equal((report['e2e_latency_us'] as Record<string, number>)['samples'], count, 'every stamped message gave an end-to-end latency');
  });

  await t.test('consume again without a count: nothing left for the group, ends when idle', async (t) => {
    const result = await bench(t, ['consume', '--namesrv', namesrv, '--topic', topic, '--group', 'BenchGroup', '--idle-ms', '1500', '--json', '--quiet']);
    t.equal(result.code, 1, 'not done: nothing arrived');
    t.match(onlyJson(t, result), { received: 0, stopped_by: 'idle' });
    t.equal(result.stderr, '', '--quiet prints no progress');
  });

  await t.test('e2e: producer and consumer in one process at a fixed rate', async (t) => {
    const result = await bench(t, ['e2e', '--namesrv', namesrv, '--topic', 'BenchE2e', '--rate', '500', '--count', '500', '--queues', '2', '--json']);
    t.equal(result.code, 0, `exit 0; stderr: ${result.stderr}`);
    const report = onlyJson(t, result);
    t.match(report, { command: 'e2e', rate_target_per_s: 500, sent: 500, received: 500, failed: 0, stopped_by: 'count' });
    t.equal((report['e2e_latency_us'] as Record<string, number>)['samples'], 500);
    t.equal((report['send_ack_latency_us'] as Record<string, number>)['samples'], 500);
  });

  await t.test('the text report', async (t) => {
    const result = await bench(t, ['produce', '--namesrv', namesrv, '--topic', topic, '--count', '100', '--quiet']);
    t.equal(result.code, 0);
    t.match(result.stdout, /sent 100, failed 0/);
    t.match(result.stdout, /throughput: \d+ msgs\/s, [\d.]+ MB\/s/);
    t.match(result.stdout, /send -> ack\s+100\s/);
  });
});

t.test('bad flags: one line on stderr, exit 2, before any connection', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['produce'], /--topic is missing/],
    [['produce', '--topic', 'T', '--count', '0'], /--count must be a whole number/],
    [['produce', '--topic', 'T', '--inflght', '4'], /unknown flag --inflght/],
    [['consume', '--topic', 'T'], /--group is missing/],
    [['e2e', '--topic', 'T'], /--rate is missing/],
    [['produce', '--topic', 'a/b'], /--topic: .*"\/"/],
    [['produce', '--topic', 'T', '--namesrv', 'nowhere'], /namesrv address "nowhere"/],
    [['frob'], /unknown bench command "frob"/],
  ];
  for (const [args, message] of cases) {
    const result = await bench(t, args);
    t.equal(result.code, 2, `${args.join(' ')}: exit 2`);
    t.equal(result.stdout, '', `${args.join(' ')}: nothing on stdout`);
    t.equal(result.stderr.trimEnd().split('\n').length, 1, `${args.join(' ')}: one line`);
    t.match(result.stderr, message);
  }
});
