import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import type { Test } from 'tap';
import { Producer, PushConsumer, SimpleConsumer, type SendReceipt, type ProducerOptions, type PushConsumerOptions, type SimpleConsumerOptions } from 'rocketmq-client-nodejs';
import { Admin } from '../../../src/client/index.js';
import { messagingServiceClient, messagingServiceDefinition } from '../../../src/server/grpc/grpc_proto.js';
import { startNode, type NodeProcess } from '../../cli/node_process.js';
import { until } from '../../client/client_helpers.js';
import { tempDir } from '../../storage/commit_log_helpers.js';

/**
 * Real nodes with the gRPC endpoint, the official RocketMQ client (`rocketmq-client-nodejs`)
 * against them, and a raw grpc-js client for requests the official client never sends.
 *
 * Teardown order matters: tap runs teardowns last-registered first, and a teardown that
 * throws or rejects stops the rest (the node would not be killed). Clients are registered
 * after their node, so they shut down while it still answers (the official client's
 * shutdown() fails — and keeps its timers — when NotifyClientTermination fails); then the
 * node stops gracefully (SIGTERM), then startNode's teardown kills it if it is still there.
 * These teardowns never throw.
 */

/** A message the official Producer sent, with what it was told (the tests compare what comes back with it). */
export interface Sent {
  body: Buffer;
  tag: string;
  keys: string[];
  properties: Record<string, string>;
  receipt: SendReceipt;
}

export const grpc_test_limits = {
  client_shutdown_timeout_ms: 10_000,
  raw_call_timeout_ms: 10_000,
} as const;

/** The official client's logger interface (src/client/Logger.ts): silent, so it writes no ~/logs file. */
export const silent_logger = { info: (): void => undefined, warn: (): void => undefined, error: (): void => undefined, debug: (): void => undefined };

export interface GrpcNode {
  node: NodeProcess;
  namesrv: string;
  broker: string;
  /** The gRPC endpoint's host:port from the ready line. */
  grpc: string;
}

/** A standalone node on free ports (auto-create on unless `flags` say otherwise). */
export async function startGrpcNode(t: Test, flags: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Promise<GrpcNode> {
  const node = await startNode(t, [
    '--role', 'standalone', '--port', '0', '--namesrv-port', '0', '--admin-port', '0', '--ha-port', '0', '--grpc-port', '0', '--host', '127.0.0.1',
    '--data', tempDir(t), '--threads', '2', '--heartbeat-interval-ms', '200', '--log-level', 'error', ...flags,
  ], env);
  // Runs after the clients' teardowns (registered later) and before startNode's SIGKILL: a
  // graceful stop ends every telemetry stream with an OK status. The official client's
  // shutdown() half-closes its stream and drops the stream's listeners without waiting for
  // the server's end, so a connection reset right after (SIGKILL) is an unhandled 'error'
  // event that crashes the test process.
  t.teardown(async () => {
    try {
      await node.signal('SIGTERM');
    } catch {
      // Exited already, or did not in time: startNode's teardown kills it.
    }
  });
  const grpc_address = node.ready['grpc'];
  if (typeof grpc_address !== 'string') throw new Error(`the ready line has no grpc address: ${JSON.stringify(node.ready)}`);
  return { node, namesrv: node.ready['namesrv'] as string, broker: node.ready['broker'] as string, grpc: grpc_address };
}

/** Creates topics with our SDK's Admin (retried until the broker has registered with the nameserver). */
export async function createTopics(t: Test, namesrv: string, topics: readonly string[], queues: number, credentials: { accessKey: string; secretKey: string } | object = {}): Promise<void> {
  const admin = new Admin({ namesrv, ...credentials });
  t.teardown(() => admin.close().catch(() => undefined));
  for (const topic of topics) await until(`topic ${topic} created`, () => admin.createTopic({ topic, queues }).then(() => true));
  await admin.close();
}

async function quietly(what: Promise<unknown>, timeout_ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([what, new Promise((resolve) => (timer = setTimeout(resolve, timeout_ms)))]);
  } catch {
    // A teardown never throws (see the file comment).
  } finally {
    clearTimeout(timer);
  }
}

/** An official Producer (namespace '', silent), shut down at teardown; `start: false` leaves startup() to the test. */
export async function officialProducer(t: Test, options: Omit<ProducerOptions, 'namespace'> & { namespace?: string }, start = true): Promise<Producer> {
  const producer = new Producer({ namespace: '', logger: silent_logger, ...options });
  t.teardown(() => quietly(producer.shutdown(), grpc_test_limits.client_shutdown_timeout_ms));
  if (start) await producer.startup();
  return producer;
}

/** An official SimpleConsumer (namespace '', silent), shut down at teardown. */
export async function officialSimpleConsumer(t: Test, options: Omit<SimpleConsumerOptions, 'namespace'>): Promise<SimpleConsumer> {
  const consumer = new SimpleConsumer({ namespace: '', logger: silent_logger, ...options });
  t.teardown(() => quietly(consumer.shutdown(), grpc_test_limits.client_shutdown_timeout_ms));
  await consumer.startup();
  return consumer;
}

/**
 * rocketmq-client-nodejs 1.0.8's StandardConsumeService ignores the `logger` option: it makes
 * its own default logger (egg-logger, writing ~/logs/rocketmq/rocketmq_client_nodejs.log),
 * whose flush interval keeps the test process alive after every client shut down. Its
 * factory is looked up on the module's exports at each call, so replacing it there makes
 * the consume service silent too. Test-only; the client's own bug.
 */
function silenceDefaultLogger(): void {
  const logger_module = createRequire(import.meta.url)('rocketmq-client-nodejs/dist/client/Logger.js') as { getDefaultLogger: () => unknown };
  logger_module.getDefaultLogger = () => silent_logger;
}

/** An official PushConsumer (namespace '', silent), shut down at teardown. */
export async function officialPushConsumer(t: Test, options: Omit<PushConsumerOptions, 'namespace'>): Promise<PushConsumer> {
  silenceDefaultLogger();
  const consumer = new PushConsumer({ namespace: '', logger: silent_logger, ...options });
  t.teardown(() => quietly(consumer.shutdown(), grpc_test_limits.client_shutdown_timeout_ms));
  await consumer.startup();
  return consumer;
}

/** What the official client's exceptions carry (src/exception/ClientException.ts). */
export interface ClientFailure {
  name: string;
  code: number | undefined;
  message: string;
}

/** The rejection of `promise` as name/code/message, or 'resolved'. */
export async function failureOf(promise: Promise<unknown>): Promise<ClientFailure | 'resolved'> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    const record = error as { name?: unknown; code?: unknown; message?: unknown; constructor?: { name?: string } };
    return {
      name: typeof record.constructor?.name === 'string' ? record.constructor.name : String(record.name),
      code: typeof record.code === 'number' ? record.code : undefined,
      message: String(record.message),
    };
  }
}

type UnaryMethod = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response: unknown) => void) => void;

/** A raw MessagingService client (grpc-js, plaintext), closed at teardown. */
export class RawClient {
  private readonly client: grpc.Client;

  constructor(t: Test, address: string) {
    const Constructor = messagingServiceClient();
    this.client = new Constructor(address, grpc.credentials.createInsecure());
    t.teardown(() => this.client.close());
  }

  /** A unary call; resolves with the decoded response, rejects with the gRPC error. */
  call<Response>(method: string, request: object, metadata: grpc.Metadata = new grpc.Metadata()): Promise<Response> {
    const fn = (this.client as unknown as Record<string, UnaryMethod>)[method];
    if (fn === undefined) throw new Error(`no method ${method}`);
    return new Promise((resolve, reject) => {
      fn.call(this.client, request, metadata, { deadline: Date.now() + grpc_test_limits.raw_call_timeout_ms }, (error, response) => (error === null ? resolve(response as Response) : reject(error)));
    });
  }

  /** A unary call with these exact request bytes (what no well-behaved client sends). */
  callBytes<Response>(method: string, bytes: Buffer): Promise<Response> {
    const definition = messagingServiceDefinition()[method];
    if (definition === undefined) throw new Error(`no method ${method}`);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(definition.path, (value: Buffer) => value, definition.responseDeserialize, bytes, new grpc.Metadata(), { deadline: Date.now() + grpc_test_limits.raw_call_timeout_ms }, (error, response) => (error === null || error === undefined ? resolve(response as Response) : reject(error)));
    });
  }
}

/** A message as the official client builds it (PublishingMessage.ts), for raw SendMessage calls. */
export function rawMessage(topic: string, body: Buffer, extra: Record<string, unknown> = {}): object {
  return {
    topic: { name: topic, resource_namespace: '' },
    body,
    user_properties: {},
    system_properties: { message_id: `RAW${Date.now().toString(16).toUpperCase()}${Math.floor(Math.random() * 1e9)}`, body_encoding: 1, message_type: 1, born_host: 'test', born_timestamp: { seconds: Math.floor(Date.now() / 1000), nanos: 0 }, ...extra },
  };
}
