import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { adminGet, runCli, startNode, type NodeProcess } from './node_process.js';

/**
 * Each role started as users start it: the ready line, the admin endpoints against the real
 * actor system, and a clean exit on SIGTERM.
 */

const dir = mkdtempSync(join(tmpdir(), 'mq-roles-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const listener_keys = ['namesrv', 'broker', 'ha', 'grpc', 'admin'];
const loopback_address = /^127\.0\.0\.1:[1-9][0-9]*$/;

function checkReadyLine(t: Test, node: NodeProcess, role: string): void {
  t.equal(node.ready['event'], 'ready');
  t.equal(node.ready['role'], role);
  t.match(node.ready['admin'], loopback_address, 'admin listener with the chosen port');
  for (const [key, value] of Object.entries(node.ready)) {
    if (key === 'event' || key === 'role') continue;
    t.ok(listener_keys.includes(key), `ready line key ${key} is a listener`);
    t.match(value, loopback_address, `${key} is host:port with a real port`);
  }
}

async function checkAdmin(t: Test, node: NodeProcess, threads: number): Promise<void> {
  const health = await adminGet(node, '/healthz');
  t.equal(health.status, 200, health.body);
  t.equal(health.body, 'ok\n');

  const actors_response = await adminGet(node, '/api/actors');
  t.equal(actors_response.status, 200);
  const { actors } = JSON.parse(actors_response.body) as { actors: Array<{ address: string; thread: number; status: string }> };
  const threads_seen = new Set(actors.map((a) => a.thread));
  t.equal(threads_seen.size, threads, 'every worker thread hosts an actor (its probe at least)');
  t.ok(actors.every((a) => a.status === 'running'), 'all actors running');

  const metrics = await adminGet(node, '/metrics');
  t.equal(metrics.status, 200);
  for (const actor of actors) {
    const labels = `{address="${actor.address}",thread="${actor.thread}"}`;
    for (const series of ['mq_actor_mailbox_depth', 'mq_actor_messages_handled_total', 'mq_actor_restarts_total', 'mq_actor_busy_seconds_total']) {
      t.match(metrics.body, new RegExp(`^${series}${labels.replace(/[{}/.]/g, '\\$&')} [0-9.e-]+$`, 'm'), `${series} of ${actor.address}`);
    }
  }
  t.match(metrics.body, /^process_cpu_user_seconds_total [0-9.e-]+$/m, 'process metrics');
  t.match(metrics.body, /^nodejs_eventloop_lag_seconds [0-9.e-]+$/m, 'event loop metrics');
}

async function checkCleanExit(t: Test, node: NodeProcess): Promise<void> {
  const exit = await node.signal('SIGTERM');
  t.same({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, 'SIGTERM: exit 0');
  const log = node.stderr().trim().split('\n').map((line) => JSON.parse(line) as { msg?: string });
  t.ok(log.some((entry) => entry.msg === 'stopped'), 'the log says it stopped');
}

/** A broker-type node runs its store: its actors are listed while it serves, and a clean stop
 *  leaves a checkpoint and removes the abort marker (the next start trusts the checkpoint). */
async function checkStore(t: Test, node: NodeProcess, data_dir: string): Promise<void> {
  const { actors } = JSON.parse((await adminGet(node, '/api/actors')).body) as { actors: Array<{ address: string }> };
  const addresses = actors.map((actor) => actor.address);
  for (const address of ['store/segment_allocator', 'store/flush', 'store/commit_log', 'store/dispatch', 'store/offsets']) {
    t.ok(addresses.includes(address), `${address} runs`);
  }
  t.ok(existsSync(join(data_dir, 'abort')), 'the abort marker exists while the node runs');
}

function checkStoreClosed(t: Test, data_dir: string): void {
  t.notOk(existsSync(join(data_dir, 'abort')), 'a clean stop removed the abort marker');
  t.ok(existsSync(join(data_dir, 'checkpoint')), 'a clean stop wrote the checkpoint');
  t.ok(existsSync(join(data_dir, 'commitlog', '00000000000000000000')), 'the first CommitLog segment exists');
}

t.test('standalone: ready line, admin endpoints, store, SIGTERM exits 0', async (t) => {
  const data_dir = join(dir, 'standalone');
  const node = await startNode(t, ['--role', 'standalone', '--port', '0', '--namesrv-port', '0', '--admin-port', '0', '--ha-port', '0', '--grpc-port', '0', '--data', data_dir, '--host', '127.0.0.1', '--threads', '2']);
  checkReadyLine(t, node, 'standalone');
  t.match(node.ready['grpc'], loopback_address, 'the RocketMQ 5 gRPC endpoint is in the ready line');
  await checkAdmin(t, node, 2);
  await checkStore(t, node, data_dir);
  await checkCleanExit(t, node);
  checkStoreClosed(t, data_dir);
});

t.test('namesrv: ready line, admin endpoints, SIGTERM exits 0', async (t) => {
  const node = await startNode(t, ['--role', 'namesrv', '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--threads', '1']);
  checkReadyLine(t, node, 'namesrv');
  await checkAdmin(t, node, 1);
  await checkCleanExit(t, node);
});

t.test('broker (settings from env, logs at warn): ready line, admin endpoints, SIGTERM exits 0', async (t) => {
  const node = await startNode(t, ['--role', 'broker', '--namesrv', '127.0.0.1:9876', '--port', '0', '--ha-port', '0', '--grpc-port', '0', '--host', '127.0.0.1'], {
    MQ_ADMIN_PORT: '0', MQ_DATA: join(dir, 'broker'), MQ_THREADS: '1', MQ_LOG_LEVEL: 'warn',
  });
  checkReadyLine(t, node, 'broker');
  t.match(node.ready['grpc'], loopback_address, 'a broker has the gRPC endpoint too');
  await checkAdmin(t, node, 1);
  await checkStore(t, node, join(dir, 'broker'));
  const exit = await node.signal('SIGTERM');
  t.equal(exit.code, 0);
  checkStoreClosed(t, join(dir, 'broker'));
  // A warning may come (no nameserver listens at that address); nothing below warn may.
  const levels = node.stderr().trim().split('\n').filter((line) => line !== '').map((line) => (JSON.parse(line) as { level: number }).level);
  t.ok(levels.every((level) => level >= 40), `no info lines at --log-level warn (levels seen: ${[...new Set(levels)].join(', ') || 'none'})`);
});

t.test('a second signal during shutdown exits at once with 128 + its number', async (t) => {
  const node = await startNode(t, ['--role', 'namesrv', '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--threads', '1']);
  // Both signals are pending when the process looks: the first it handles starts a shutdown
  // that needs round trips to the worker thread, the other arrives while that runs. Which
  // one the process sees first is up to the OS, so the log says which came second.
  const exit = await node.signal('SIGTERM', 'SIGINT');
  const log = node.stderr().trim().split('\n').map((line) => JSON.parse(line) as { msg?: string; signal?: string });
  const second = log.find((entry) => entry.msg === 'second signal during shutdown; exiting at once');
  t.ok(second !== undefined, 'the second signal is logged');
  const expected_code = second?.signal === 'SIGINT' ? 130 : 143;
  t.same({ code: exit.code, signal: exit.signal }, { code: expected_code, signal: null }, node.stderr());
  t.notOk(log.some((entry) => entry.msg === 'stopped'), 'it did not wait for the shutdown');
});

t.test('a node that cannot listen logs why and exits 1', async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const address = blocker.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const result = await runCli(t, ['--role', 'namesrv', '--port', '0', '--admin-port', String(port), '--host', '127.0.0.1', '--threads', '1']);
  t.equal(result.code, 1);
  t.equal(result.stdout, '', 'no ready line');
  const fatal = result.stderr.trim().split('\n').map((line) => JSON.parse(line) as { level: number; msg: string; err?: { message: string } }).find((entry) => entry.level === 60);
  t.match(fatal, { msg: 'start failed; exiting', err: { message: new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}.*EADDRINUSE`) } });
});
