import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { freePorts } from '../runtime/free_ports.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { disk_fault_limits } from '../storage/disk_fault_probe.js';
import type { ChaosSettings } from './chaos_history.js';
import type { ChaosNetwork } from './chaos_network.js';

export const chaos_cluster_limits = {
  /** A node prints its ready line within this (a restart replays its log first). */
  ready_timeout_ms: 60_000,
  /** A node asked to stop (SIGTERM) gets this long before SIGKILL. */
  stop_grace_ms: 10_000,
  /** Brokers beat often, so a paused master is noticed within the expiry. */
  heartbeat_interval_ms: 500,
  /** A broker silent this long is evicted by the nameserver (and its group fails over). */
  broker_expiry_ms: 3_000,
  /** A sync send no slave acknowledged within this answers FLUSH_SLAVE_TIMEOUT. */
  replication_timeout_ms: 1_500,
  election_timeout_ms: 2_000,
  threads_per_broker: 2,
} as const;

export type ChaosNodeState = 'running' | 'killed' | 'paused' | 'stopped';

/** One node process of the run's cluster; restarted with the same arguments (ports, data). */
export interface ChaosNode {
  /** `namesrv-0`, `broker-a-0` (group a, configured broker id 0), ... */
  readonly name: string;
  readonly kind: 'namesrv' | 'broker';
  /** A broker's group (`group-a`); undefined for a nameserver. */
  readonly group: string | undefined;
  /** Its place in the cluster's list (and on the network). */
  readonly index: number;
  /** Its client port, `<host>:<port>` (the same across restarts). */
  readonly address: string;
  readonly data_dir: string;
  readonly args: readonly string[];
  state: ChaosNodeState;
  child: ChildProcess | undefined;
  /** Starts, counting the first. */
  starts: number;
}

const bin_path = fileURLToPath(new URL('../../bin/mq-node.js', import.meta.url));

/**
 * The run's own cluster: nameservers (one, or three replicating), and broker groups of a
 * master and slaves, each an `mq-node` process with its own data directory under the output
 * directory, on the run's network (chaos_network.ts: 127.0.0.1, or a network namespace per
 * node). Ports are picked once, before any node starts, so a node killed and restarted comes
 * back where its peers and clients look for it. Each node's stdout and stderr are appended
 * to `nodes/<name>.log`.
 *
 * The nodes are children of this process and share its process group: a Ctrl-C reaches
 * them too, and `stop()` (also run on the way out of the command) ends every one left.
 */
export class ChaosCluster {
  private constructor(
    readonly nodes: readonly ChaosNode[],
    readonly namesrv_addresses: readonly string[],
    private readonly logs_dir: string,
    readonly network: ChaosNetwork,
  ) {}

  static async start(settings: ChaosSettings, out_dir: string, network: ChaosNetwork): Promise<ChaosCluster> {
    const logs_dir = path.join(out_dir, 'nodes');
    const data_root = path.join(out_dir, 'data');
    mkdirSync(logs_dir, { recursive: true });
    // Every port at once: ports picked by separate calls could repeat.
    const ports = await freePorts(settings.namesrvs + 2 * settings.groups * (settings.slaves + 1));
    const namesrv_ports = ports.splice(0, settings.namesrvs);
    const namesrv_addresses = namesrv_ports.map((port, index) => `${network.hostOf(index)}:${port}`);
    const nodes: ChaosNode[] = namesrv_ports.map((port, index) => ({
      name: `namesrv-${index}`,
      kind: 'namesrv',
      group: undefined,
      index,
      address: namesrv_addresses[index] as string,
      data_dir: path.join(data_root, `namesrv-${index}`),
      args: namesrvArgs(network.hostOf(index), port, namesrv_addresses.filter((_, other) => other !== index), path.join(data_root, `namesrv-${index}`)),
      state: 'stopped',
      child: undefined,
      starts: 0,
    }));
    for (let group = 0; group < settings.groups; group++) {
      const group_name = `group-${String.fromCharCode(97 + group)}`;
      for (let id = 0; id <= settings.slaves; id++) {
        const [port, ha_port] = ports.splice(0, 2) as [number, number];
        const name = `broker-${String.fromCharCode(97 + group)}-${id}`;
        const index = nodes.length;
        const host = network.hostOf(index);
        nodes.push({
          name,
          kind: 'broker',
          group: group_name,
          index,
          address: `${host}:${port}`,
          data_dir: path.join(data_root, name),
          args: brokerArgs(settings, { group_name, id, host, port, ha_port, namesrv: namesrv_addresses, data_dir: path.join(data_root, name) }),
          state: 'stopped',
          child: undefined,
          starts: 0,
        });
      }
    }
    const cluster = new ChaosCluster(nodes, namesrv_addresses, logs_dir, network);
    try {
      // Nameservers first (brokers register with them), then every master, then the slaves.
      await Promise.allSettled(nodes.filter((node) => node.kind === 'namesrv').map((node) => cluster.launch(node))).then(throwFirst);
      await Promise.allSettled(nodes.filter((node) => node.kind === 'broker' && node.name.endsWith('-0')).map((node) => cluster.launch(node))).then(throwFirst);
      await Promise.allSettled(nodes.filter((node) => node.kind === 'broker' && !node.name.endsWith('-0')).map((node) => cluster.launch(node))).then(throwFirst);
    } catch (error) {
      // The nodes that did start must not outlive a cluster that could not (the caller removes the network).
      cluster.killNodesNow();
      throw error;
    }
    return cluster;
  }

  node(name: string): ChaosNode {
    const node = this.nodes.find((candidate) => candidate.name === name);
    if (node === undefined) throw new Error(`no node ${name} in this cluster`);
    return node;
  }

  /** SIGKILL; resolves once the process is gone. */
  async kill9(node: ChaosNode): Promise<void> {
    const child = node.child;
    if (child === undefined || node.state === 'killed' || node.state === 'stopped') return;
    node.state = 'killed';
    await signalAndWait(child, 'SIGKILL', chaos_cluster_limits.stop_grace_ms);
    node.child = undefined;
  }

  /** SIGSTOP: the process is frozen, its sockets stay open. */
  pause(node: ChaosNode): void {
    if (node.child === undefined || node.state !== 'running') return;
    node.child.kill('SIGSTOP');
    node.state = 'paused';
  }

  resume(node: ChaosNode): void {
    if (node.child === undefined || node.state !== 'paused') return;
    node.child.kill('SIGCONT');
    node.state = 'running';
  }

  /** Cuts the node off from the others and from the clients (a network partition). */
  async partition(node: ChaosNode): Promise<void> {
    await this.network.cut(node.index);
  }

  reconnect(node: ChaosNode): void {
    this.network.heal(node.index);
  }

  /** Sets the broker's disk fault probe (storage/disk_fault_probe.ts): `slow <ms>` or `full`. */
  setDiskFault(node: ChaosNode, fault: string): void {
    writeFileSync(path.join(node.data_dir, disk_fault_limits.file_name), fault);
  }

  clearDiskFault(node: ChaosNode): void {
    rmSync(path.join(node.data_dir, disk_fault_limits.file_name), { force: true });
  }

  /** Starts a killed or stopped node again on its ports and data; resolves when it is ready. */
  async restart(node: ChaosNode): Promise<void> {
    if (node.state === 'running' || node.state === 'paused') return;
    await this.launch(node);
  }

  /** Every node: resumed if paused, then SIGTERM, SIGKILL after the grace. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map(async (node) => {
      const child = node.child;
      if (child === undefined) return;
      if (node.state === 'paused') child.kill('SIGCONT');
      node.state = 'stopped';
      const exited = await signalAndWait(child, 'SIGTERM', chaos_cluster_limits.stop_grace_ms);
      if (!exited) await signalAndWait(child, 'SIGKILL', chaos_cluster_limits.stop_grace_ms);
      node.child = undefined;
    }));
    this.network.destroy();
  }

  /** SIGKILL to every node at once, and the network removed, synchronously (the process is exiting). */
  killAllNow(): void {
    this.killNodesNow();
    this.network.destroy();
  }

  /** SIGKILL to every node process at once, synchronously. */
  killNodesNow(): void {
    for (const node of this.nodes) {
      try {
        node.child?.kill('SIGKILL');
      } catch {
        // Gone already.
      }
    }
  }

  /** Nodes that exited while the run wanted them up (a crash, not a fault): what, when, how. */
  readonly unexpected_exits: string[] = [];

  private async launch(node: ChaosNode): Promise<void> {
    const log = createWriteStream(path.join(this.logs_dir, `${node.name}.log`), { flags: 'a' });
    log.write(`--- start ${node.starts + 1} at ${new Date().toISOString()}: mq-node ${node.args.join(' ')}\n`);
    const command = this.network.commandOf(node.index, [process.execPath, bin_path, ...node.args]);
    // A log that fails (a full disk) must not end the run: the node's output is lost, not the run.
    log.on('error', () => undefined);
    const child = spawn(command.file, command.args, { stdio: ['ignore', 'pipe', 'pipe'], ...(command.env === undefined ? {} : { env: command.env }) });
    node.child = child;
    node.starts++;
    child.stderr?.pipe(log, { end: false });
    // 'close', not 'exit': output may still arrive after the process exited.
    child.once('close', (code, signal) => log.end(`--- exited (code ${code}, signal ${signal})\n`));
    child.once('exit', (code, signal) => {
      // Died on its own (not killed or stopped by the run): a finding the run reports.
      if (node.child === child && node.state === 'running') {
        this.unexpected_exits.push(`${node.name} exited by itself (code ${code}, signal ${signal}) at ${new Date().toISOString()}`);
        node.state = 'killed';
        node.child = undefined;
      }
    });
    try {
      await waitForReady(node, child, log);
    } catch (error) {
      // Not ready: it must not keep the node's ports and data for a later start.
      child.kill('SIGKILL');
      node.child = undefined;
      node.state = 'killed';
      throw error;
    }
    node.state = 'running';
  }
}

function namesrvArgs(host: string, port: number, peers: readonly string[], data_dir: string): string[] {
  return [
    '--role', 'namesrv', '--host', host, '--port', String(port), '--admin-port', '0', '--threads', '1',
    '--broker-expiry-ms', String(chaos_cluster_limits.broker_expiry_ms), '--log-level', 'warn',
    ...(peers.length === 0 ? [] : ['--peers', peers.join(','), '--data', data_dir, '--replication', 'sync', '--election-timeout-ms', String(chaos_cluster_limits.election_timeout_ms)]),
  ];
}

interface BrokerPlace {
  group_name: string;
  id: number;
  host: string;
  port: number;
  ha_port: number;
  namesrv: readonly string[];
  data_dir: string;
}

function brokerArgs(settings: ChaosSettings, place: BrokerPlace): string[] {
  return [
    '--role', 'broker', '--namesrv', place.namesrv.join(','), '--cluster', 'chaos', '--broker-name', place.group_name, '--broker-id', String(place.id),
    '--host', place.host, '--port', String(place.port), '--ha-port', String(place.ha_port), '--admin-port', '0', '--grpc-port', '0',
    '--data', place.data_dir, '--threads', String(chaos_cluster_limits.threads_per_broker),
    '--replication', settings.replication, '--flush', settings.flush, '--replication-timeout-ms', String(chaos_cluster_limits.replication_timeout_ms),
    '--heartbeat-interval-ms', String(chaos_cluster_limits.heartbeat_interval_ms), '--log-level', 'warn',
  ];
}

/** Rethrows the first rejection of a group of starts, once all of them have settled. */
function throwFirst(results: readonly PromiseSettledResult<void>[]): void {
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

/** Reads stdout until the ready line (copying everything to the log); rejects on exit or timeout. */
function waitForReady(node: ChaosNode, child: ChildProcess, log: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let done = false;
    const timer = setTimeout(() => finish(new Error(`${node.name} printed no ready line within ${chaos_cluster_limits.ready_timeout_ms} ms (see its log)`)), chaos_cluster_limits.ready_timeout_ms);
    const finish = (error?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (error === undefined) resolve();
      else reject(error);
    };
    child.stdout?.on('data', (chunk: Buffer) => {
      log.write(chunk);
      if (done) return;
      buffered += chunk.toString('utf8');
      if (buffered.split('\n').some((line) => line.includes('"event":"ready"'))) finish();
    });
    child.once('exit', (code, signal) => finish(new Error(`${node.name} exited (code ${code}, signal ${signal}) before it was ready (see its log)`)));
  });
}

/** Sends `signal`; true when the process exited within `timeout_ms`. */
function signalAndWait(child: ChildProcess, signal: NodeJS.Signals, timeout_ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeout_ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
    try {
      child.kill(signal);
    } catch {
      clearTimeout(timer);
      resolve(true);
    }
  });
}
