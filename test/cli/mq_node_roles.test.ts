import { mkdtempSync, rmSync } from 'node:fs';
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

t.test('standalone: ready line, admin endpoints, SIGTERM exits 0', async (t) => {
  const node = await startNode(t, ['--role', 'standalone', '--port', '0', '--namesrv-port', '0', '--admin-port', '0', '--ha-port', '0', '--data', join(dir, 'standalone'), '--host', '127.0.0.1', '--threads', '2']);
  checkReadyLine(t, node, 'standalone');
  await checkAdmin(t, node, 2);
  await checkCleanExit(t, node);
});

t.test('namesrv: ready line, admin endpoints, SIGTERM exits 0', async (t) => {
  const node = await startNode(t, ['--role', 'namesrv', '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--threads', '1']);
  checkReadyLine(t, node, 'namesrv');
  await checkAdmin(t, node, 1);
  await checkCleanExit(t, node);
});

t.test('broker (settings from env, logs at warn): ready line, admin endpoints, SIGTERM exits 0', async (t) => {
  const node = await startNode(t, ['--role', 'broker', '--namesrv', '127.0.0.1:9876', '--port', '0', '--ha-port', '0', '--host', '127.0.0.1'], {
    MQ_ADMIN_PORT: '0', MQ_DATA: join(dir, 'broker'), MQ_THREADS: '1', MQ_LOG_LEVEL: 'warn',
  });
  checkReadyLine(t, node, 'broker');
  await checkAdmin(t, node, 1);
  const exit = await node.signal('SIGTERM');
  t.equal(exit.code, 0);
  t.equal(node.stderr(), '', 'no info lines at --log-level warn');
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
