import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A standalone mq-node (namesrv + broker) in a child process for the benches that go through
 * a real broker: its own temporary data directory, free ports, and cleanup — SIGKILL by PID
 * and the directory removed — whatever the bench did. Its stderr (warnings) goes to the
 * bench's stderr.
 */
export interface BenchNode {
  namesrv: string;
  broker: string;
  /** The RocketMQ 5 gRPC endpoint's host:port. */
  grpc: string;
}

const bin_path = fileURLToPath(new URL('../../bin/mq-node.js', import.meta.url));
const ready_timeout_ms = 20_000;

export async function withStandaloneNode<T>(extra_flags: readonly string[], use: (node: BenchNode) => Promise<T>): Promise<T> {
  const data_dir = mkdtempSync(path.join(tmpdir(), 'mq-bench-'));
  const child = spawn(process.execPath, [
    bin_path, '--role', 'standalone', '--host', '127.0.0.1', '--port', '0', '--namesrv-port', '0', '--admin-port', '0', '--ha-port', '0', '--grpc-port', '0',
    '--data', data_dir, '--log-level', 'warn', ...extra_flags,
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const ready = await readyLine(child);
    return await use({ namesrv: ready['namesrv'] as string, broker: ready['broker'] as string, grpc: ready['grpc'] as string });
  } finally {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
    rmSync(data_dir, { recursive: true, force: true });
  }
}

/** The parsed ready line of a node child (rejects if it exits first or stays silent 20 s). */
export function readyLine(child: ChildProcess): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no ready line from the standalone node within ${ready_timeout_ms} ms`)), ready_timeout_ms);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the standalone node exited (code ${code}, signal ${signal}) before it was ready`));
    });
    const stdout = child.stdout as NodeJS.ReadableStream;
    stdout.setEncoding('utf8');
    stdout.on('data', (chunk: string) => {
      text += chunk;
      for (const line of text.split('\n')) {
        if (!line.includes('"ready"')) continue;
        clearTimeout(timer);
        resolve(JSON.parse(line) as Record<string, unknown>);
        return;
      }
    });
  });
}
