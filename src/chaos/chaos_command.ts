/**
 * `mq-node chaos`: starts a cluster of its own on this machine, runs producers and
 * consumers against it while a nemesis injects faults on a seeded schedule, then checks what
 * was recorded: acknowledged-but-lost, duplicated, never-sent and out-of-order messages
 * (chaos_checker.ts). Writes summary.txt, result.json and latency.svg (fault windows shaded)
 * to the output directory, prints the summary, and exits 0 when the run passed, 1 when it did
 * not, 2 on bad flags.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { latencyChartSvg } from './chaos_chart.js';
import { checkHistory } from './chaos_checker.js';
import { ChaosCluster } from './chaos_cluster.js';
import type { ChaosHistory } from './chaos_history.js';
import { Nemesis, planFaults } from './chaos_nemesis.js';
import { FaultHookNetwork, loopback_network, NamespaceNetwork, type ChaosNetwork } from './chaos_network.js';
import { chaos_usage, ChaosUsageError, parseChaosArgs, type ChaosRequest } from './chaos_options.js';
import { chaosJson, formatChaosSummary } from './chaos_report.js';
import { ChaosWorkload, chaos_workload_limits } from './chaos_workload.js';

const usage_exit_code = 2;
const failed_exit_code = 1;

export interface ChaosCommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const default_io: ChaosCommandIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Runs `mq-node chaos` with `argv` (the words after `chaos`); resolves with the exit code. */
export async function runChaosCommand(argv: readonly string[], io: ChaosCommandIo = default_io): Promise<number> {
  let request: ChaosRequest;
  try {
    request = parseChaosArgs(argv);
  } catch (error) {
    if (!(error instanceof ChaosUsageError)) throw error;
    io.stderr(`mq-node chaos: ${error.message}\n`);
    return usage_exit_code;
  }
  if (request.command === 'help') {
    io.stdout(chaos_usage);
    return 0;
  }
  return runChaos(request, io);
}

/**
 * Loopback, unless the partition fault runs: then a network namespace per node, or (asked
 * for, or where those cannot be made) loopback with the nodes' network fault hook. The
 * progress line says which, and why. Throws ChaosUsageError when netns was asked for and
 * cannot be made.
 */
function chooseNetwork(request: ChaosRequest, out_dir: string, progress: (line: string) => void): ChaosNetwork {
  const { settings, partition_by } = request;
  if (!settings.nemesis.includes('partition')) {
    progress('network: loopback');
    return loopback_network;
  }
  const hook = (why: string): ChaosNetwork => {
    progress(`network: loopback with the nodes' network fault hook (partition holds every byte of a node's connections): ${why}`);
    return new FaultHookNetwork(path.join(out_dir, 'net-faults'));
  };
  if (partition_by === 'hook') return hook('--partition-by hook');
  try {
    const network = NamespaceNetwork.create(settings.namesrvs + settings.groups * (settings.slaves + 1));
    progress("network: a network namespace per node, joined by a bridge (partition takes a node's link down)");
    return network;
  } catch (error) {
    if (partition_by === 'netns') throw new ChaosUsageError(`--partition-by netns: ${(error as Error).message}`);
    return hook((error as Error).message);
  }
}

async function runChaos(request: ChaosRequest, io: ChaosCommandIo): Promise<number> {
  const { settings } = request;
  const out_dir = path.resolve(request.out_dir);
  mkdirSync(out_dir, { recursive: true });
  const progress = (line: string): void => io.stderr(`chaos: ${line}\n`);
  progress(`seed ${settings.seed}, ${settings.duration_ms / 1_000} s of ${settings.rate_per_s} msg/s, nemesis ${settings.nemesis.join(',')}; results in ${out_dir}`);

  let network: ChaosNetwork;
  try {
    network = chooseNetwork(request, out_dir, progress);
  } catch (error) {
    if (!(error instanceof ChaosUsageError)) throw error;
    io.stderr(`mq-node chaos: ${error.message}\n`);
    return usage_exit_code;
  }
  let cluster: ChaosCluster;
  try {
    cluster = await ChaosCluster.start(settings, out_dir, network);
  } catch (error) {
    network.destroy();
    throw error;
  }
  let remove_data = false;
  // The nodes must not outlive the command, however it ends.
  const killNodes = (): void => cluster.killAllNow();
  process.once('exit', killNodes);
  const onSignal = (signal: NodeJS.Signals): void => {
    cluster.killAllNow();
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    progress(`cluster up: ${cluster.nodes.map((node) => `${node.name} ${node.address}`).join(', ')}`);
    let origin_ms = performance.now();
    const runMs = (): number => Math.round(performance.now() - origin_ms);
    const workload = new ChaosWorkload({ namesrv: cluster.namesrv_addresses, settings, size_bytes: request.size_bytes, elapsedMs: runMs });
    await workload.start();
    // Time 0 of every recorded time: the load's start (nothing is delivered before it).
    origin_ms = performance.now();
    const started_at = new Date().toISOString();
    const plan = planFaults(settings, cluster.nodes);
    progress(`${plan.length} faults planned: ${plan.map((fault) => `${fault.fault} ${fault.target} at ${fault.at_ms / 1_000}s`).join(', ')}`);
    const nemesis = new Nemesis(plan, cluster, runMs);
    workload.startLoad();
    const faults = nemesis.run();
    await new Promise((resolve) => setTimeout(resolve, settings.duration_ms));
    nemesis.stop();
    await faults;
    await workload.stopLoad();
    const load_end_ms = runMs();
    progress(`load stopped at ${load_end_ms / 1_000} s after ${workload.sends.length} sends; draining`);
    const drained = await workload.drain(load_end_ms + request.drain_ms);
    await workload.close();
    const history: ChaosHistory = {
      started_at,
      settings,
      sends: workload.sends,
      deliveries: workload.deliveries,
      faults: nemesis.windows,
      load_end_ms,
      end_ms: runMs(),
    };
    // Under async replication a failover may take back what consumers read, and the new master
    // reuses those offsets: order and loss are checked under sync replication only.
    const sync = settings.replication === 'sync';
    const verdict = checkHistory(history, { no_loss: sync, orderly: sync });
    const incidents = [
      ...nemesis.incidents,
      ...cluster.unexpected_exits,
      ...(drained ? [] : [`not every acknowledged message was delivered within --drain ${request.drain_ms / 1_000} s`]),
      ...(workload.not_issued > 0 ? [`${workload.not_issued} sends fell due while a producer had ${chaos_workload_limits.inflight_per_producer} in flight and were not issued (informational)`] : []),
    ];
    const summary = `${formatChaosSummary(verdict, settings)}${incidents.map((line) => `note: ${line}\n`).join('')}`;
    writeFileSync(path.join(out_dir, 'summary.txt'), summary);
    writeFileSync(path.join(out_dir, 'result.json'), chaosJson(history, verdict));
    writeFileSync(path.join(out_dir, 'latency.svg'), latencyChartSvg(verdict, settings));
    if (request.keep_history) writeFileSync(path.join(out_dir, 'history.json'), JSON.stringify(history));
    io.stdout(summary);
    const passed = verdict.passed && nemesis.incidents.length === 0 && cluster.unexpected_exits.length === 0;
    // The nodes' data is kept for a run that failed (to look into), removed for one that passed.
    if (passed) remove_data = true;
    return passed ? 0 : failed_exit_code;
  } finally {
    await cluster.stop();
    if (remove_data) rmSync(path.join(out_dir, 'data'), { recursive: true, force: true });
    process.off('exit', killNodes);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
