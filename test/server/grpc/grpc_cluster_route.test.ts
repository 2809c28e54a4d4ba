import t from 'tap';
import type { MessageView } from 'rocketmq-client-nodejs';
import { Admin, Consumer, type ReceivedMessage } from '../../../src/client/index.js';
import { Code, Permission, type QueryRouteResponse } from '../../../src/server/grpc/grpc_types.js';
import { inParallel, startCluster, until } from '../../client/client_helpers.js';
import { prng } from '../../helpers/prng.js';
import { officialProducer, officialSimpleConsumer, RawClient } from './grpc_helpers.js';

/**
 * RocketMQ 5 routes over a cluster: two master brokers and a nameserver in their own
 * processes. A QueryRoute at either broker lists both masters, each with its own gRPC
 * endpoint; the official Producer, given broker-a's endpoint only, spreads its messages over
 * both; the official SimpleConsumer, given broker-a's endpoint only, receives and acks every
 * one of them (broker-b's from broker-b); mq-node's SDK reads the same messages from both
 * brokers, bytes equal. When broker-b stops, routes list broker-a alone and a new producer's
 * sends all go there.
 */

const cluster_test = {
  topic: 'GrpcClusterTopic',
  queues_per_broker: 2,
  messages: 200,
  after_stop: 40,
  sends_in_flight: 8,
  invisible_ms: 20_000,
  seed: 0xc1_05_7e,
} as const;

t.setTimeout(90_000);

function routeOf(response: QueryRouteResponse): Array<{ broker: string; endpoint: string; id: number; permission: number }> {
  return response.message_queues
    .map((queue) => ({ broker: queue.broker.name, endpoint: queue.broker.endpoints.addresses.map((address) => `${address.host}:${address.port}`).join(','), id: queue.id, permission: queue.permission }))
    .sort((a, b) => (a.broker < b.broker ? -1 : 1));
}

t.test('two masters: routes list both, the official clients use both through one endpoint', async (t) => {
  const cluster = await startCluster(t, ['broker-a', 'broker-b']);
  const grpc_of = (name: string): string => cluster.brokers.get(name)?.ready['grpc'] as string;
  // Registered after the nodes and before the clients: clients shut down first, then the
  // brokers stop gracefully (telemetry streams end OK), then startNode's teardown kills them.
  for (const node of cluster.brokers.values()) t.teardown(() => node.signal('SIGTERM').catch(() => undefined));

  const admin = new Admin({ namesrv: cluster.namesrv, instanceName: 'grpc-cluster-admin' });
  t.teardown(() => admin.close());
  await until('the topic on both masters', async () => {
    const route = await admin.createTopic({ topic: cluster_test.topic, queues: cluster_test.queues_per_broker });
    return route.queues.length === 2 ? true : undefined;
  });

  const expected_route = [
    { broker: 'broker-a', endpoint: grpc_of('broker-a'), id: 0, permission: Permission.READ_WRITE },
    { broker: 'broker-b', endpoint: grpc_of('broker-b'), id: 0, permission: Permission.READ_WRITE },
  ];
  for (const asked of ['broker-a', 'broker-b']) {
    const raw = new RawClient(t, grpc_of(asked));
    const route = await until(`${asked} routes to both masters`, async () => {
      const response = await raw.call<QueryRouteResponse>('QueryRoute', { topic: { name: cluster_test.topic, resource_namespace: '' } });
      return response.status.code === Code.OK && response.message_queues.length === 2 ? response : undefined;
    });
    t.same(routeOf(route), expected_route, `QueryRoute at ${asked}: both masters, each with its own gRPC endpoint`);
  }

  const consumer = await officialSimpleConsumer(t, { endpoints: grpc_of('broker-a'), consumerGroup: 'grpc-cluster-group', subscriptions: new Map([[cluster_test.topic, '*']]), awaitDuration: 1_000, requestTimeout: 5_000 });
  const producer = await officialProducer(t, { endpoints: grpc_of('broker-a'), topic: cluster_test.topic, requestTimeout: 5_000 });
  const random = prng(cluster_test.seed);
  const bodies = Array.from({ length: cluster_test.messages }, (_, index) => {
    const body = Buffer.alloc(16 + Math.floor(random() * 2_048));
    for (let at = 0; at < body.length; at++) body[at] = Math.floor(random() * 256);
    body.writeUInt32BE(index, 0);
    return body;
  });
  const receipts = await inParallel(bodies, cluster_test.sends_in_flight, (body) => producer.send({ topic: cluster_test.topic, body }));
  const per_broker = new Map<string, number>();
  for (const receipt of receipts) per_broker.set(receipt.messageQueue.broker.name, (per_broker.get(receipt.messageQueue.broker.name) ?? 0) + 1);
  t.same([...per_broker.keys()].sort(), ['broker-a', 'broker-b'], `the producer sent to both masters (${JSON.stringify(Object.fromEntries(per_broker))})`);
  const body_of = new Map(receipts.map((receipt, index) => [receipt.messageId, bodies[index] as Buffer]));

  // The official SimpleConsumer: every message once, from both brokers, bytes equal.
  const received = new Map<string, MessageView>();
  let duplicates = 0;
  let mismatches = 0;
  await until('the SimpleConsumer received every message', async () => {
    for (const message of await consumer.receive(32, cluster_test.invisible_ms)) {
      if (received.has(message.messageId)) duplicates++;
      received.set(message.messageId, message);
      if (!body_of.get(message.messageId)?.equals(message.body)) mismatches++;
      await consumer.ack(message);
    }
    return received.size >= cluster_test.messages ? true : undefined;
  }, 40_000);
  t.equal(received.size, cluster_test.messages, 'every message received');
  t.equal(duplicates, 0, 'none twice');
  t.equal(mismatches, 0, 'every body equal to what was sent under its id');

  // mq-node's own SDK reads the same messages from both brokers.
  const sdk_received: ReceivedMessage[] = [];
  const sdk = new Consumer({ namesrv: cluster.namesrv, group: 'grpc-cluster-sdk', instanceName: 'grpc-cluster-sdk', subscriptions: [{ topic: cluster_test.topic }], fromWhere: 'first', rebalanceIntervalMs: 200, logger: { warn: () => undefined } });
  sdk.onMessage(async (message) => {
    sdk_received.push(message);
  });
  t.teardown(() => sdk.shutdown());
  await sdk.start();
  await until('the SDK read every message', () => (sdk_received.length >= cluster_test.messages ? true : undefined), 30_000);
  const sdk_by_broker = new Map<string, number>();
  for (const message of sdk_received) sdk_by_broker.set(message.brokerName, (sdk_by_broker.get(message.brokerName) ?? 0) + 1);
  t.same(Object.fromEntries(sdk_by_broker), Object.fromEntries(per_broker), 'each broker holds what the producer was told it sent there');
  t.same(sdk_received.map((message) => message.body.readUInt32BE(0)).sort((a, b) => a - b), bodies.map((_, index) => index), 'the SDK read each message once');
  await sdk.shutdown();

  // broker-b stops: it unregisters, routes list broker-a alone, and a producer sends there.
  // The clients that hold broker-b's endpoint shut down first: rocketmq-client-nodejs 1.0.8's
  // shutdown() stops at the first endpoint that does not answer NotifyClientTermination and
  // leaves its connections open.
  await Promise.all([producer.shutdown(), consumer.shutdown()]);
  await cluster.brokers.get('broker-b')?.signal('SIGTERM');
  const raw_a = new RawClient(t, grpc_of('broker-a'));
  const alone = await until('broker-a routes to itself alone', async () => {
    const response = await raw_a.call<QueryRouteResponse>('QueryRoute', { topic: { name: cluster_test.topic, resource_namespace: '' } });
    return response.message_queues.length === 1 ? response : undefined;
  });
  t.same(routeOf(alone), [expected_route[0]], 'only broker-a is listed');
  const after = await officialProducer(t, { endpoints: grpc_of('broker-a'), topic: cluster_test.topic, requestTimeout: 5_000 });
  const later = await inParallel(Array.from({ length: cluster_test.after_stop }, (_, index) => Buffer.from(`after-stop-${index}`)), 4, (body) => after.send({ topic: cluster_test.topic, body }));
  t.equal(later.filter((receipt) => receipt.messageQueue.broker.name === 'broker-a').length, cluster_test.after_stop, 'every send after the stop is acked by broker-a');
});
