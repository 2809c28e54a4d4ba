/**
 * Failover time: a broker group of a master and two slaves under sync replication (one slave
 * must acknowledge), a nameserver, and a producer sending one message at a time. The master
 * is killed -9; measured from the kill to
 *   - the first send the new master stored (any status), and
 *   - the first SEND_OK (the remaining slave acknowledged it),
 * as the producer sees them, plus how many sends failed or came back unacknowledged meanwhile.
 * Default heartbeat settings (brokers 30 s): the nameserver sees the master's connection close
 * at once, and a slave that lost its master asks the nameserver every 500 ms.
 *
 * Run: `npm run bench -- failover [--json]` (three rounds, each with fresh processes and data).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Admin, Producer } from '../src/client/index.js';
import { machineInfo, type MachineInfo } from './lib/machine.js';
import { readyLine } from './lib/standalone_node.js';
import { formatTable, type Column } from './lib/table.js';

const failover_settings = {
  rounds: 3,
  /** Sends before the kill, so the group is warm and the slaves in sync. */
  sends_before_kill: 2_000,
  /** A round gives up this long after the kill. */
  round_timeout_ms: 60_000,
} as const;

const bin_path = fileURLToPath(new URL('../bin/mq-node.js', import.meta.url));

export interface FailoverRound {
  round: number;
  /** Kill -> first send stored by the new master (any status), ms. */
  first_stored_ms: number | null;
  /** Kill -> first SEND_OK, ms. */
  first_ok_ms: number | null;
  failed_sends: number;
  unacknowledged_sends: number;
}

export interface FailoverReport {
  bench: 'failover';
  machine: MachineInfo;
  settings: typeof failover_settings;
  rounds: FailoverRound[];
}

interface Started {
  child: ChildProcess;
  ready: Record<string, unknown>;
}

async function startProcess(args: readonly string[], children: ChildProcess[]): Promise<Started> {
  const child = spawn(process.execPath, [bin_path, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return { child, ready: await readyLine(child) };
}

async function round(index: number): Promise<FailoverRound> {
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  try {
    const namesrv = (await startProcess(['--role', 'namesrv', '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--threads', '1', '--log-level', 'error'], children)).ready['namesrv'] as string;
    const broker = async (id: number): Promise<Started> => {
      const dir = mkdtempSync(path.join(tmpdir(), 'mq-bench-failover-'));
      dirs.push(dir);
      return startProcess(['--role', 'broker', '--namesrv', namesrv, '--broker-name', 'bench-ha', '--broker-id', String(id), '--port', '0', '--admin-port', '0', '--ha-port', '0', '--grpc-port', '0',
        '--host', '127.0.0.1', '--data', dir, '--threads', '2', '--log-level', 'error', '--replication', 'sync'], children);
    };
    const master = await broker(0);
    await broker(1);
    await broker(2);
    const admin = new Admin({ namesrv });
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.createTopic({ topic: 'BenchFailover', queues: 4 });
        break;
      } catch (error) {
        if (attempt > 100) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    await admin.close();
    const producer = new Producer({ namesrv, sendTimeoutMs: 3_000 });
    await producer.start();
    try {
      let ok_before = 0;
      while (ok_before < failover_settings.sends_before_kill) {
        if ((await producer.send({ topic: 'BenchFailover', body: 'warm' }).catch(() => undefined))?.status === 'SEND_OK') ok_before++;
      }
      const killed_ms = performance.now();
      master.child.kill('SIGKILL');
      const result: FailoverRound = { round: index, first_stored_ms: null, first_ok_ms: null, failed_sends: 0, unacknowledged_sends: 0 };
      while (result.first_ok_ms === null && performance.now() - killed_ms < failover_settings.round_timeout_ms) {
        const sent = await producer.send({ topic: 'BenchFailover', body: 'after' }).catch(() => undefined);
        const at_ms = performance.now() - killed_ms;
        if (sent === undefined) {
          result.failed_sends++;
          continue;
        }
        result.first_stored_ms ??= at_ms;
        if (sent.status === 'SEND_OK') result.first_ok_ms = at_ms;
        else result.unacknowledged_sends++;
      }
      return result;
    } finally {
      await producer.shutdown();
    }
  } finally {
    for (const child of children) if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}

const columns: Column<FailoverRound>[] = [
  { header: 'round', value: (row) => row.round },
  { header: 'kill -> first stored ms', value: (row) => row.first_stored_ms },
  { header: 'kill -> first SEND_OK ms', value: (row) => row.first_ok_ms },
  { header: 'failed sends', value: (row) => row.failed_sends },
  { header: 'unacknowledged sends', value: (row) => row.unacknowledged_sends },
];

export async function run(options: { json: boolean }): Promise<FailoverReport> {
  const rounds: FailoverRound[] = [];
  for (let index = 1; index <= failover_settings.rounds; index++) {
    rounds.push(await round(index));
    if (!options.json) process.stderr.write(`  round ${index}: done\n`);
  }
  const report: FailoverReport = { bench: 'failover', machine: machineInfo(), settings: failover_settings, rounds };
  if (options.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    const { machine } = report;
    process.stdout.write([
      'failover: master + 2 slaves, --replication sync, default heartbeats; one producer sending one message at a time; the master killed -9',
      `node ${machine.node}, ${machine.cpus} vCPUs (${machine.cpu_model}), load ${machine.load_average_1m}`,
      '',
      formatTable(columns, rounds),
      '',
    ].join('\n'));
  }
  return report;
}
