import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { ChaosVerdict } from '../../src/chaos/chaos_checker.js';
import { planFaults } from '../../src/chaos/chaos_nemesis.js';
import { parseChaosArgs } from '../../src/chaos/chaos_options.js';
import { bin_path, childEnv, type Exit } from '../cli/node_process.js';
import { namespacesAvailable } from './chaos_fixtures.js';
import { tempDir } from '../storage/commit_log_helpers.js';

/**
 * A short chaos run, the real command: `mq-node chaos` starts its own cluster (a nameserver,
 * two broker groups of a master and a slave, sync replication and sync flush), sends and
 * consumes for 24 s while the nemesis injects five faults on a seeded schedule — kill -9,
 * pause, a slow and a full disk, and a partition (a node's network namespace cut where those
 * can be made, root and iproute2; its network fault hook elsewhere) — and must pass: no acknowledged message lost, none delivered that was never
 * sent, no order violation in a queue. The test checks the command's own files against the
 * schedule the seed gives, and that no node process or namespace is left behind.
 *
 * The command runs in a process group of its own, and the teardown kills that whole group,
 * so its nodes go with it whatever happens.
 */

const netns = namespacesAvailable();
const run_test = {
  nemesis: 'kill9,pause,partition,disk-slow,disk-full',
  /** Plans every fault once or more, a kill -9 of a master among them. */
  seed: '18',
  /** 24 s of load, start-up, restarts and the drain, on a loaded 2-core machine. */
  timeout_ms: 180_000,
} as const;
const run_args = ['--duration', '24s', '--nemesis', run_test.nemesis, '--seed', run_test.seed, '--rate', '400', '--groups', '2', '--slaves', '1',
  '--fault-interval', '4s', '--fault-duration', '2s', '--drain', '40s'];

t.setTimeout(run_test.timeout_ms + 20_000);

function runChaos(t: Test, out_dir: string): Promise<Exit & { pid: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bin_path, 'chaos', ...run_args, '--out', out_dir], { env: childEnv({ MQ_LOG_LEVEL: 'warn' }), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const group = child.pid;
  const killGroup = (): void => {
    try {
      if (group !== undefined) process.kill(-group, 'SIGKILL');
    } catch {
      // The group is gone.
    }
  };
  t.teardown(killGroup);
  process.once('exit', killGroup);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      killGroup();
      reject(new Error(`mq-node chaos did not finish within ${run_test.timeout_ms} ms; stderr: ${stderr.slice(-4_000)}`));
    }, run_test.timeout_ms);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, pid: group ?? -1, stdout, stderr });
    });
  });
}

/** PIDs of live processes whose command line names `needle` (from /proc). */
function processesNaming(needle: string): number[] {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).flatMap((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle) ? [Number(pid)] : [];
    } catch {
      return [];
    }
  });
}

t.test('24 s of faults on a sync cluster: nothing acknowledged lost, nothing never-sent, nothing out of order', async (t) => {
  if (!netns) t.comment('network namespaces cannot be made here (needs root and iproute2): the partition fault runs through the nodes\' network fault hook');
  const out_dir = path.join(tempDir(t), 'chaos');
  const exit = await runChaos(t, out_dir);
  t.equal(exit.code, 0, 'the run passed (exit 0)', { stdout: exit.stdout, stderr: exit.stderr.slice(-4_000) });

  const result = JSON.parse(readFileSync(path.join(out_dir, 'result.json'), 'utf8')) as { verdict: ChaosVerdict };
  const verdict = result.verdict;
  t.equal(verdict.passed, true, `the verdict passes (${verdict.reasons.join('; ')})`);
  t.same(verdict.reasons, []);
  t.ok(verdict.counts.acked > 0 && verdict.counts.delivered_messages >= verdict.counts.acked, `${verdict.counts.acked} acknowledged sends of ${verdict.counts.sent}, ${verdict.counts.delivered_messages} messages delivered`);
  t.same([verdict.lost_count, verdict.never_sent_count, verdict.foreign_deliveries, verdict.corrupted_count, verdict.failed_but_delivered_count, verdict.order_violation_count], [0, 0, 0, 0, 0, 0], 'none lost, never sent, foreign, corrupted, failed-but-stored or out of order');

  // The faults ran as the seed planned them, each healed.
  const settings = parseChaosArgs(run_args).settings;
  const nodes: Array<{ name: string; kind: 'namesrv' | 'broker' }> = [{ name: 'namesrv-0', kind: 'namesrv' }, ...['broker-a-0', 'broker-a-1', 'broker-b-0', 'broker-b-1'].map((name) => ({ name, kind: 'broker' as const }))];
  const names = nodes.map((node) => node.name);
  const plan = planFaults(settings, nodes);
  t.same(verdict.faults.map((fault) => `${fault.fault} ${fault.target}`), plan.map((fault) => `${fault.fault} ${fault.target}`), 'the faults the seed plans, in order');
  t.same([...new Set(plan.map((fault) => fault.fault))].sort(), [...settings.nemesis].sort(), `this seed plans every fault of ${run_test.nemesis}`);
  t.ok(verdict.faults.every((fault) => fault.end_ms > fault.start_ms), 'every fault was healed');
  const partitions = verdict.faults.filter((fault) => fault.fault === 'partition');
  t.ok(partitions.length > 0 && partitions.every((fault) => (netns ? /network namespace's link down/ : /network fault hook/).test(fault.how)), `each partition says how it ran: ${partitions[0]?.how ?? 'none'}`);

  const summary = readFileSync(path.join(out_dir, 'summary.txt'), 'utf8');
  t.match(summary, /PASS/, 'the summary says PASS');
  t.equal(exit.stdout, summary, 'and is what the command printed');
  const svg = readFileSync(path.join(out_dir, 'latency.svg'), 'utf8');
  t.match(svg, /^<svg[\s\S]*<\/svg>\s*$/, 'the chart is an SVG document');
  t.notMatch(svg, /NaN/, 'with no NaN in it');
  for (const name of names) t.ok(existsSync(path.join(out_dir, 'nodes', `${name}.log`)), `${name} has its log`);
  t.notOk(existsSync(path.join(out_dir, 'data')), 'the data of a passed run is removed');
  t.same(processesNaming(out_dir), [], 'no node of the run is left running');
  if (netns) t.same(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter((line) => line.startsWith(`mqc-${exit.pid.toString(36)}-`)), [], 'no network namespace of the run is left');
});
