import type { Test } from 'tap';
import { pino } from 'pino';
import * as p from '../../src/protocol/index.js';
import { ClientConnection } from '../../src/client/remoting/client_connection.js';
import { FrameServer } from '../../src/server/remoting/frame_server.js';
import { RequestRouter, type RequestHandler } from '../../src/server/remoting/request_router.js';
import type { ServerConnection } from '../../src/server/remoting/server_connection.js';
import { startNode, type NodeProcess } from '../cli/node_process.js';
import { tempDir } from '../storage/commit_log_helpers.js';

/**
 * Real nodes (child processes) and fake servers (a FrameServer in this process with
 * handlers the test writes) for the SDK tests. Every node is killed and every server
 * closed at the test's teardown; every wait has a deadline.
 */

export const client_test_limits = {
  /** Registration, eviction and route changes on loopback take well under a second. */
  condition_timeout_ms: 15_000,
  condition_poll_ms: 20,
  /** Brokers in the cluster tests are evicted this soon after they fall silent. */
  broker_expiry_ms: 3_000,
  heartbeat_interval_ms: 200,
} as const;

export interface Standalone {
  node: NodeProcess;
  namesrv: string;
  broker: string;
}

/** A namesrv and a broker in one process, auto-create on; `flags` add to (not replace) these. */
export async function startStandalone(t: Test, flags: readonly string[] = [], log_level = 'error'): Promise<Standalone> {
  const node = await startNode(t, [
    '--role', 'standalone', '--port', '0', '--namesrv-port', '0', '--admin-port', '0', '--ha-port', '0', '--grpc-port', '0', '--host', '127.0.0.1',
    '--data', tempDir(t), '--threads', '2', '--heartbeat-interval-ms', String(client_test_limits.heartbeat_interval_ms), '--log-level', log_level, ...flags,
  ]);
  return { node, namesrv: node.ready['namesrv'] as string, broker: node.ready['broker'] as string };
}

export interface TestCluster {
  namesrv: string;
  brokers: Map<string, NodeProcess>;
}

/** A nameserver process and one broker process per name. */
export async function startCluster(t: Test, broker_names: readonly string[], broker_flags: readonly string[] = []): Promise<TestCluster> {
  const namesrv_node = await startNode(t, [
    '--role', 'namesrv', '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--threads', '1',
    '--broker-expiry-ms', String(client_test_limits.broker_expiry_ms), '--log-level', 'error',
  ]);
  const namesrv = namesrv_node.ready['namesrv'] as string;
  const brokers = new Map<string, NodeProcess>();
  await Promise.all(broker_names.map(async (name) => {
    brokers.set(name, await startNode(t, [
      '--role', 'broker', '--namesrv', namesrv, '--broker-name', name, '--port', '0', '--admin-port', '0', '--ha-port', '0', '--grpc-port', '0', '--host', '127.0.0.1',
      '--data', tempDir(t), '--threads', '2', '--heartbeat-interval-ms', String(client_test_limits.heartbeat_interval_ms), '--log-level', 'error', ...broker_flags,
    ]));
  }));
  return { namesrv, brokers };
}

/** Polls `check` until it returns a value other than undefined; fails after the deadline. */
export async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeout_ms: number = client_test_limits.condition_timeout_ms): Promise<T> {
  const deadline_ms = performance.now() + timeout_ms;
  let last_error: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last_error = error;
    }
    if (performance.now() >= deadline_ms) {
      throw new Error(`${what}: not within ${timeout_ms} ms${last_error === undefined ? '' : ` (last error: ${String(last_error)})`}`);
    }
    await new Promise((resolve) => setTimeout(resolve, client_test_limits.condition_poll_ms));
  }
}

/** `fn` over `items`, `limit` at a time. */
export async function inParallel<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  }));
  return results;
}

export interface FakeServer {
  address: string;
  /** Request codes in arrival order (HELLO is the server's own and not recorded). */
  codes: number[];
  connections: Set<ServerConnection>;
  close(): Promise<void>;
}

const quiet = pino({ level: 'silent' });

/** A framed-protocol server on a free port that answers with `handlers`. */
export async function startFakeServer(t: Test, handlers: ReadonlyMap<number, RequestHandler>, port = 0): Promise<FakeServer> {
  const codes: number[] = [];
  const connections = new Set<ServerConnection>();
  const router = new RequestRouter();
  for (const [code, handler] of handlers) {
    router.on(code, (body, context) => {
      codes.push(code);
      return handler(body, context);
    });
  }
  const server = new FrameServer({
    server_id: 'fake',
    router,
    log: quiet,
    onConnection: (connection) => connections.add(connection),
    onDisconnect: (connection) => connections.delete(connection),
  });
  const bound = await server.listen('127.0.0.1', port);
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await server.close();
  };
  t.teardown(close);
  return { address: `127.0.0.1:${bound.port}`, codes, connections, close };
}

/** A route of `topic` on `brokers` (name -> master address) with `queues` queues each. */
export function routeData(topic: string, brokers: ReadonlyMap<string, string>, queues: number, version = 1): p.TopicRouteData {
  return {
    topic,
    routeVersion: version,
    brokers: [...brokers].map(([brokerName, address]) => ({ cluster: 'TestCluster', brokerName, addresses: { '0': address } })),
    queues: [...brokers.keys()].map((brokerName) => ({ brokerName, readQueues: queues, writeQueues: queues, perm: p.perm_read | p.perm_write })),
  };
}

/** Messages of one queue from `offset` over a raw connection (as a consumer would pull them). */
export async function pullAll(broker: string, topic: string, queueId: number, offset = 0): Promise<p.StoredMessage[]> {
  const client = await ClientConnection.connect(broker, { client_id: 'pull-check', kind: 'CLIENT' });
  try {
    const messages: p.StoredMessage[] = [];
    for (let next = offset; ;) {
      const reply = p.decodePullResponse(await client.request(p.request_codes.PULL, p.encodePullRequest({
        consumerGroup: '', topic, queueId, queueOffset: next, maxCount: 256, maxBytes: 1 << 20, tagExpression: '*', longPollTimeoutMs: 0, commitOffset: null,
      })));
      if (!reply.ok) throw new Error(reply.error.message);
      if (reply.value.status !== 'FOUND') return messages;
      messages.push(...reply.value.messages);
      next = reply.value.nextOffset;
    }
  } finally {
    client.close();
  }
}

/** Every record of `topic` on `broker`: each of its `queues` queues read by raw PULL from offset 0. */
export async function topicRecords(broker: string, topic: string, queues: number): Promise<p.StoredMessage[]> {
  const records: p.StoredMessage[] = [];
  for (let queue = 0; queue < queues; queue++) records.push(...await pullAll(broker, topic, queue));
  return records;
}

/** How many records `topic` holds on `broker`: the sum of its queues' end offsets, by raw PULL. */
export async function topicRecordCount(broker: string, topic: string, queues: number): Promise<number> {
  const client = await ClientConnection.connect(broker, { client_id: 'count-check', kind: 'CLIENT' });
  try {
    let total = 0;
    for (let queue = 0; queue < queues; queue++) {
      const reply = p.decodePullResponse(await client.request(p.request_codes.PULL, p.encodePullRequest({
        consumerGroup: '', topic, queueId: queue, queueOffset: 0, maxCount: 1, maxBytes: 1 << 20, tagExpression: '*', longPollTimeoutMs: 0, commitOffset: null,
      })));
      if (!reply.ok) throw new Error(reply.error.message);
      total += reply.value.maxOffset;
    }
    return total;
  } finally {
    client.close();
  }
}
