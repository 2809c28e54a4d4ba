import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import type { RegistryEvent } from '../../src/actors/registry/registry_events.js';
import { startNode, type NodeProcess } from '../cli/node_process.js';
import { connect, FakeBroker, routeBrokers, waitFor } from '../server/namesrv_peers.js';

/**
 * `mq-node --role namesrv` as a child process, with raw connections playing brokers: the
 * ready line, registration and both kinds of eviction, plugins named on the command line
 * (the audit log, and one that fails on every event), a restart after which brokers are
 * told to register again, and SIGTERM exiting 0.
 */

const dir = mkdtempSync(join(tmpdir(), 'mq-namesrv-cluster-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const throwing_plugin_path = fileURLToPath(new URL('./fixtures/namesrv_throwing_plugin.js', import.meta.url));
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

function namesrvArgs(port: number, extra: string[] = []): string[] {
  return ['--role', 'namesrv', '--port', String(port), '--admin-port', '0', '--host', '127.0.0.1', '--threads', '1', ...extra];
}

async function stopCleanly(t: Test, node: NodeProcess): Promise<void> {
  const exit = await node.signal('SIGTERM');
  t.same({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, 'SIGTERM: exit 0');
}

t.test('a namesrv process: ready line, registrations, eviction on disconnect and on silence, plugins from --plugins, SIGTERM exits 0', async (t) => {
  const audit_log = join(dir, 'audit.jsonl');
  const node = await startNode(t, namesrvArgs(0, ['--broker-expiry-ms', '1000', '--plugins', `${throwing_plugin_path},audit-log`, '--audit-log', audit_log]));
  const address = node.ready['namesrv'];
  t.match(address, /^127\.0\.0\.1:[1-9][0-9]*$/, 'the ready line names the namesrv listener with its chosen port');
  if (typeof address !== 'string') return;

  const a = await FakeBroker.connect(t, address, 'broker-a', 10911, ['Orders']);
  const b = await FakeBroker.connect(t, address, 'broker-b', 20911, ['Orders']);
  await a.register();
  await b.register();
  const client = await connect(t, address, 'client');
  t.same(await routeBrokers(client, 'Orders'), ['broker-a', 'broker-b'], 'both brokers in the route');

  // broker-b heartbeats while broker-a's connection closes, then falls silent.
  const beat = setInterval(() => void b.heartbeat().catch(() => undefined), 100);
  t.teardown(() => clearInterval(beat));
  a.connection.close();
  // That this eviction came from the disconnect, not the expiry, the audit log shows below
  // (its reason is `disconnected`), whatever the machine's timing.
  await waitFor('eviction on disconnect', async () => same(await routeBrokers(client, 'Orders'), ['broker-b']));
  clearInterval(beat);
  await waitFor('eviction of the silent broker', async () => (await routeBrokers(client, 'Orders')) === 'NO_ROUTE', 10_000);
  t.ok(b.connection.open, 'its connection stayed open: silence alone evicted it');

  await stopCleanly(t, node);
  const events = readFileSync(audit_log, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as RegistryEvent);
  t.same(events.map((event) => `${event.kind}${'reason' in event ? ` ${event.reason}` : ''}`), [
    'broker_registered', 'topic_changed', 'route_changed',
    'broker_registered', 'topic_changed', 'route_changed',
    'broker_removed disconnected', 'route_changed',
    'broker_removed expired', 'route_changed',
  ], 'the audit log saw every event in order, although the plugin before it failed on each');
  t.same(events.map((event) => event.seq), events.map((_, index) => index + 1));
  t.match(node.stderr(), /plugin failed on an event; going on with the next/, 'the failing plugin is logged');
});

t.test('after a namesrv restart on the same port, a broker heartbeat is answered registrationNeeded and the broker registers again', async (t) => {
  const first = await startNode(t, namesrvArgs(0));
  const address = String(first.ready['namesrv']);
  const port = Number(address.split(':')[1]);
  const broker = await FakeBroker.connect(t, address, 'broker-a', 10911, ['Orders']);
  await broker.register();
  t.equal((await broker.heartbeat()).registrationNeeded, false);
  await stopCleanly(t, first);

  const second = await startNode(t, namesrvArgs(port));
  t.equal(second.ready['namesrv'], address, 'the same address');
  broker.connection = await connect(t, address, 'broker-a', 'BROKER');
  t.equal((await broker.heartbeat()).registrationNeeded, true, 'the new process does not know the broker');
  await broker.register();
  const client = await connect(t, address, 'client');
  t.same(await routeBrokers(client, 'Orders'), ['broker-a'], 'routes are back after the re-registration');
  await stopCleanly(t, second);
});
