/**
 * The replicated registry, per --replication mode: three nameserver processes on loopback;
 * 200 broker groups registered, then broker heartbeats (each a logged registry write) from
 * 16 concurrent writers for a fixed count, sent to the leader and, as brokers do, to the
 * followers (which forward them). Reported per mode: writes per second and the latency of
 * one write as the writer sees it (p50, p99). Then the leader is killed -9 and the time to
 * the next acknowledged write is measured.
 *
 * Run: `npm run bench -- namesrv [--json]` (one cluster per mode, fresh processes and data).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import hdr from 'hdr-histogram-js';
import { ClientConnection } from '../src/client/remoting/client_connection.js';
import {
  decodeNsStatus,
  encodeBrokerHeartbeatRequest,
  encodeNsStatusRequest,
  encodeRegisterBrokerRequest,
  perm_read,
  perm_write,
  request_codes,
} from '../src/protocol/index.js';
import { machineInfo, type MachineInfo } from './lib/machine.js';
import { readyLine } from './lib/standalone_node.js';
import { formatTable, type Column } from './lib/table.js';

const namesrv_bench_settings = {
  modes: ['async', 'semi-sync', 'sync', 'chain'],
  groups: 200,
  writes: 20_000,
  writers: 16,
  election_timeout_ms: 1_500,
  /** A mode gives up this long after the kill. */
  failover_timeout_ms: 30_000,
} as const;

const bin_path = fileURLToPath(new URL('../bin/mq-node.js', import.meta.url));

export interface NamesrvModeResult {
  mode: string;
  writes_per_second: number;
  p50_ms: number;
  p99_ms: number;
  /** Kill -9 of the leader -> the next acknowledged write, ms. */
  failover_ms: number | null;
}

export interface NamesrvReport {
  bench: 'namesrv';
  machine: MachineInfo;
  settings: typeof namesrv_bench_settings;
  modes: NamesrvModeResult[];
}

function heartbeat(group: number): Buffer {
  return encodeBrokerHeartbeatRequest({ cluster: 'C', brokerName: `g${group}`, brokerId: 0, address: `127.0.0.1:${30_000 + group}`, epoch: 0, dataVersion: 1, maxOffset: 0, inSyncSlaves: [] });
}

function registration(group: number): Buffer {
  return encodeRegisterBrokerRequest({
    cluster: 'C', brokerName: `g${group}`, brokerId: 0, address: `127.0.0.1:${30_000 + group}`, haAddress: '', epoch: 0, dataVersion: 1, maxOffset: 0, inSyncSlaves: [],
    topics: [{ topic: `t${group}`, readQueues: 4, writeQueues: 4, perm: perm_read | perm_write }],
  });
}

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => resolve(server));
  })));
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

async function leaderOf(connections: Map<string, ClientConnection>): Promise<string> {
  for (let attempt = 0; attempt < 600; attempt++) {
    for (const connection of connections.values()) {
      const status = decodeNsStatus(await connection.request(request_codes.NS_STATUS, encodeNsStatusRequest({ withSnapshot: false })).catch(() => Buffer.alloc(0)));
      if (status.ok && status.value.role === 'leader') return status.value.self;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('no nameserver leader elected within 30 s');
}

async function runMode(mode: string): Promise<NamesrvModeResult> {
  const children = new Map<string, ChildProcess>();
  const dirs: string[] = [];
  const connections = new Map<string, ClientConnection>();
  try {
    const addresses = (await freePorts(3)).map((port) => `127.0.0.1:${port}`);
    await Promise.all(addresses.map(async (address) => {
      const dir = mkdtempSync(path.join(tmpdir(), 'mq-bench-namesrv-'));
      dirs.push(dir);
      const child = spawn(process.execPath, [bin_path, '--role', 'namesrv', '--host', '127.0.0.1', '--port', address.split(':')[1] as string, '--admin-port', '0', '--threads', '1',
        '--peers', addresses.filter((other) => other !== address).join(','), '--replication', mode, '--data', dir, '--broker-expiry-ms', '600000',
        '--election-timeout-ms', String(namesrv_bench_settings.election_timeout_ms), '--log-level', 'error'], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.set(address, child);
      await readyLine(child);
      connections.set(address, await ClientConnection.connect(address, { client_id: 'namesrv-bench', kind: 'BROKER' }));
    }));
    const leader = await leaderOf(connections);
    await Promise.all(Array.from({ length: namesrv_bench_settings.groups }, (_, group) => (connections.get(leader) as ClientConnection).request(request_codes.REGISTER_BROKER, registration(group))));
    const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
    let next = 0;
    const started_ms = performance.now();
    await Promise.all(Array.from({ length: namesrv_bench_settings.writers }, async (_, writer) => {
      while (next < namesrv_bench_settings.writes) {
        const index = next++;
        const target = addresses[(writer + index) % addresses.length] as string;
        const sent_ms = performance.now();
        await (connections.get(target) as ClientConnection).request(request_codes.BROKER_HEARTBEAT, heartbeat(index % namesrv_bench_settings.groups));
        histogram.recordValue(Math.round((performance.now() - sent_ms) * 1_000));
      }
    }));
    const elapsed_ms = performance.now() - started_ms;
    const killed_ms = performance.now();
    children.get(leader)?.kill('SIGKILL');
    connections.get(leader)?.close();
    connections.delete(leader);
    let failover_ms: number | null = null;
    while (failover_ms === null && performance.now() - killed_ms < namesrv_bench_settings.failover_timeout_ms) {
      for (const connection of connections.values()) {
        const acknowledged = await connection.request(request_codes.BROKER_HEARTBEAT, heartbeat(0), { timeout_ms: 1_000 }).then(() => true, () => false);
        if (acknowledged) {
          failover_ms = performance.now() - killed_ms;
          break;
        }
      }
      if (failover_ms === null) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return {
      mode,
      writes_per_second: (namesrv_bench_settings.writes * 1_000) / elapsed_ms,
      p50_ms: histogram.getValueAtPercentile(50) / 1_000,
      p99_ms: histogram.getValueAtPercentile(99) / 1_000,
      failover_ms,
    };
  } finally {
    for (const connection of connections.values()) connection.close();
    for (const child of children.values()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}

const columns: Column<NamesrvModeResult>[] = [
  { header: 'replication', value: (row) => row.mode },
  { header: 'writes/s', value: (row) => row.writes_per_second },
  { header: 'p50 ms', value: (row) => row.p50_ms, digits: 2 },
  { header: 'p99 ms', value: (row) => row.p99_ms, digits: 2 },
  { header: 'leader kill → next ack ms', value: (row) => row.failover_ms },
];

export async function run(options: { json: boolean }): Promise<NamesrvReport> {
  const modes: NamesrvModeResult[] = [];
  for (const mode of namesrv_bench_settings.modes) {
    modes.push(await runMode(mode));
    if (!options.json) process.stderr.write(`  ${mode}: done\n`);
  }
  const report: NamesrvReport = { bench: 'namesrv', machine: machineInfo(), settings: namesrv_bench_settings, modes };
  if (options.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    process.stdout.write(`namesrv: ${namesrv_bench_settings.writes} heartbeats (logged writes) from ${namesrv_bench_settings.writers} writers over 3 nameservers\n`);
    process.stdout.write(`${formatTable(columns, modes)}\n`);
  }
  return report;
}
