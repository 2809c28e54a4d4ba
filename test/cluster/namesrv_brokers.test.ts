import t, { type Test } from 'tap';
import * as p from '../../src/protocol/index.js';
import { ClientConnection } from '../../src/client/remoting/client_connection.js';
import { startNode, type NodeProcess } from '../cli/node_process.js';
import { createTopic } from '../server/broker/broker_helpers.js';
import { tempDir } from '../storage/commit_log_helpers.js';

const expiry_ms = 3_000;
const heartbeat_ms = 200;

function namesrvArgs(port: number): string[] {
  return ['--role', 'namesrv', '--port', String(port), '--admin-port', '0', '--host', '127.0.0.1', '--threads', '1', '--broker-expiry-ms', String(expiry_ms), '--log-level', 'error'];
}

function brokerArgs(name: string, namesrv: string, data_dir: string): string[] {
  return ['--role', 'broker', '--namesrv', namesrv, '--broker-name', name, '--port', '0', '--admin-port', '0', '--ha-port', '0', '--grpc-port', '0',
    '--host', '127.0.0.1', '--data', data_dir, '--threads', '2', '--heartbeat-interval-ms', String(heartbeat_ms), '--log-level', 'error'];
}

/** The broker names in the topic's route, or [] when the nameserver has none. */
async function routeBrokers(namesrv: string, topic: string): Promise<string[]> {
  let client: ClientConnection | undefined;
  try {
    client = await ClientConnection.connect(namesrv, { client_id: 'cluster-test', kind: 'CLIENT', timeout_ms: 1_000 });
    const route = p.decodeTopicRouteData(await client.request(p.request_codes.GET_ROUTE, p.encodeGetRouteRequest({ topic }), { timeout_ms: 1_000 }));
    return route.ok ? route.value.brokers.map((broker) => broker.brokerName).sort() : [];
  } catch {
    return [];
  } finally {
    client?.close();
  }
}

/** Waits (bounded) until the route lists exactly `expected`. */
async function untilRoute(t: Test, namesrv: string, topic: string, expected: string[], timeout_ms: number, why: string): Promise<void> {
  const deadline = performance.now() + timeout_ms;
  let seen: string[] = [];
  while (performance.now() < deadline) {
    seen = await routeBrokers(namesrv, topic);
    if (JSON.stringify(seen) === JSON.stringify(expected)) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.same(seen, expected, why);
}

async function createOn(node: NodeProcess, topic: string): Promise<void> {
  const client = await ClientConnection.connect(node.ready['broker'] as string, { client_id: 'admin', kind: 'ADMIN' });
  try {
    await createTopic(client, topic, 4);
  } finally {
    client.close();
  }
}

t.test('a nameserver and two brokers: registration, eviction, return, nameserver restart, clean leave', async (t) => {
  const first_namesrv = await startNode(t, namesrvArgs(0));
  const namesrv = first_namesrv.ready['namesrv'] as string;
  const port = Number(namesrv.split(':')[1]);
  const dirs = { a: tempDir(t), b: tempDir(t) };
  const broker_a = await startNode(t, brokerArgs('broker-a', namesrv, dirs.a));
  let broker_b = await startNode(t, brokerArgs('broker-b', namesrv, dirs.b));

  await createOn(broker_a, 'Shared');
  await createOn(broker_b, 'Shared');
  await untilRoute(t, namesrv, 'Shared', ['broker-a', 'broker-b'], 10_000, 'a topic created on both brokers routes to both');

  await broker_b.signal('SIGKILL');
  await untilRoute(t, namesrv, 'Shared', ['broker-a'], expiry_ms + 5_000, 'kill -9 of broker-b: evicted within the expiry, its route gone');

  broker_b = await startNode(t, brokerArgs('broker-b', namesrv, dirs.b));
  await untilRoute(t, namesrv, 'Shared', ['broker-a', 'broker-b'], 10_000, 'broker-b restarted: back in the route with its persisted topic');

  const stopped = await first_namesrv.signal('SIGKILL');
  t.equal(stopped.signal, 'SIGKILL', 'the nameserver is gone');
  const second_namesrv = await startNode(t, namesrvArgs(port));
  t.equal(second_namesrv.ready['namesrv'], namesrv, 'a new nameserver on the same address');
  await untilRoute(t, namesrv, 'Shared', ['broker-a', 'broker-b'], 10_000, 'both brokers re-registered with the restarted nameserver on their next heartbeat');

  const leaving = await broker_a.signal('SIGTERM');
  t.same({ code: leaving.code, signal: leaving.signal }, { code: 0, signal: null }, 'SIGTERM on broker-a: exit 0');
  await untilRoute(t, namesrv, 'Shared', ['broker-b'], 2_000, 'it unregistered on the way out: gone from the route at once');
  await broker_b.signal('SIGTERM');
  await second_namesrv.signal('SIGTERM');
});
