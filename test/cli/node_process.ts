import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { childNodeOptions } from '../helpers/tap_hooks.js';

/**
 * Runs `node dist/bin/mq-node.js ...` as a child process for tests. Every child is killed
 * (SIGKILL, by its PID) in the test's teardown unless it already exited, so a failing
 * assertion never leaves a node running — and when the test process exits without running
 * its teardowns. Every wait has a deadline.
 */

export const bin_path = fileURLToPath(new URL('../../bin/mq-node.js', import.meta.url));

export const node_process_limits = {
  /** Start-up is ~0.5 s; the margin is for a loaded 2-core machine running tests in parallel. */
  ready_timeout_ms: 20_000,
  /** A command that only reads its flags (errors, --print-config, --help). */
  command_timeout_ms: 10_000,
  /** From SIGTERM to exit: drain and stop the actors. */
  exit_timeout_ms: 10_000,
  /** Output kept per stream; a node logs a few lines, so more means something is wrong. */
  output_chars_max: 1 << 20,
} as const;

/** The environment of the test run without MQ_* variables (and tap's hooks, see tap_hooks.ts), plus `extra`. */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('MQ_')) env[key] = value;
  env['NODE_OPTIONS'] = childNodeOptions(env['NODE_OPTIONS']);
  if (env['NODE_OPTIONS'] === undefined) delete env['NODE_OPTIONS'];
  return { ...env, ...extra };
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Child {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<Exit>;
}

/**
 * Kills of the children still running. A test process that ends without its teardowns (a test
 * left unfinished, an uncaught error) still kills its nodes: an 'exit' handler runs
 * synchronously, and so does process.kill. One handler for all (not one per child: more than
 * ten would draw a MaxListenersExceededWarning).
 */
const live_children = new Set<() => void>();
process.once('exit', () => {
  for (const kill of live_children) {
    try {
      kill();
    } catch {
      // It exited meanwhile.
    }
  }
});

function spawnChild(t: Test, args: readonly string[], env: NodeJS.ProcessEnv, cwd?: string): Child {
  const child = spawn(process.execPath, [bin_path, ...args], { env: childEnv(env), cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid;
  const kill = (): void => {
    if (pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
  };
  t.teardown(kill);
  live_children.add(kill);
  child.once('close', () => live_children.delete(kill));
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    if (stdout.length < node_process_limits.output_chars_max) stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < node_process_limits.output_chars_max) stderr += chunk;
  });
  // 'close' (not 'exit') so that stdout and stderr are complete when it resolves.
  const exited = new Promise<Exit>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

function withDeadline<T>(promise: Promise<T>, timeout_ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what()} within ${timeout_ms} ms`)), timeout_ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Runs a command that exits by itself (bad flags, --print-config) and returns its output. */
export async function runCli(t: Test, args: readonly string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<Exit & { stdout: string; stderr: string }> {
  const run = spawnChild(t, args, env, cwd);
  const exit = await withDeadline(run.exited, node_process_limits.command_timeout_ms, () => `mq-node ${args.join(' ')} did not exit; stderr: ${run.stderr()}`);
  return { ...exit, stdout: run.stdout(), stderr: run.stderr() };
}

export interface NodeProcess {
  pid: number;
  /** The parsed ready line. */
  ready: Record<string, unknown>;
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
  /** Sends `signals` in order, at once, and waits (bounded) for the exit. */
  signal(...signals: NodeJS.Signals[]): Promise<Exit & { elapsed_ms: number }>;
}

/** Starts a node and waits for its ready line on stdout. */
export async function startNode(t: Test, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<NodeProcess> {
  const run = spawnChild(t, args, env);
  const pid = run.child.pid;
  if (pid === undefined) throw new Error(`mq-node ${args.join(' ')} did not start`);
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    let seen = 0;
    const onData = (): void => {
      const lines = run.stdout().split('\n');
      for (; seen < lines.length - 1; seen++) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(lines[seen] ?? '');
        } catch {
          reject(new Error(`stdout carries only JSON lines, got ${JSON.stringify(lines[seen])}`));
          return;
        }
        if (typeof parsed === 'object' && parsed !== null && (parsed as Record<string, unknown>)['event'] === 'ready') {
          run.child.stdout?.off('data', onData);
          resolve(parsed as Record<string, unknown>);
          return;
        }
      }
    };
    run.child.stdout?.on('data', onData);
    void run.exited.then((exit) => reject(new Error(`mq-node exited (${JSON.stringify(exit)}) before it was ready; stderr: ${run.stderr()}`)));
  });
  const ready_line = await withDeadline(ready, node_process_limits.ready_timeout_ms, () => `no ready line from mq-node ${args.join(' ')}; stderr: ${run.stderr()}`);
  return {
    pid,
    ready: ready_line,
    stdout: run.stdout,
    stderr: run.stderr,
    exited: run.exited,
    async signal(...signals) {
      const started_ms = performance.now();
      for (const signal of signals) process.kill(pid, signal);
      const exit = await withDeadline(run.exited, node_process_limits.exit_timeout_ms, () => `mq-node did not exit after ${signals.join(', ')}`);
      return { ...exit, elapsed_ms: performance.now() - started_ms };
    },
  };
}

/** GET on the node's admin server (`headers`: an Authorization header, for a node with an ACL). */
export async function adminGet(node: NodeProcess, path: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; body: string }> {
  const response = await fetch(`http://${String(node.ready['admin'])}${path}`, { headers, signal: AbortSignal.timeout(node_process_limits.command_timeout_ms) });
  return { status: response.status, type: response.headers.get('content-type') ?? '', body: await response.text() };
}
