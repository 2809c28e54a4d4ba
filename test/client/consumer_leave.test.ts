import t from 'tap';
import * as p from '../../src/protocol/index.js';
import { ClientConnection } from '../../src/client/remoting/client_connection.js';
import { Consumer } from '../../src/client/consumer/consumer.js';
import { Producer } from '../../src/client/producer.js';
import { createTopicEverywhere, startStandalone, until } from './fixtures/consumer_cluster.js';

const quiet = { warn: () => undefined };

async function members(broker: string, group: string): Promise<string[]> {
  const client = await ClientConnection.connect(broker, { client_id: 'leave-test', kind: 'ADMIN' });
  try {
    const reply = p.decodeGetConsumerListResponse(await client.request(p.request_codes.GET_CONSUMER_LIST, p.encodeGetConsumerListRequest({ group })));
    return reply.ok ? reply.value.clientIds : [];
  } finally {
    client.close();
  }
}

t.test('a consumer that shuts down leaves its group at once, even while its connection stays open', async (t) => {
  const cluster = await startStandalone(t);
  const broker = [...cluster.brokers.values()][0] as string;
  await createTopicEverywhere(cluster, 'Leave', 4);
  // The producer shares the consumer's instance, so their pooled connection outlives the consumer.
  const producer = new Producer({ namesrv: cluster.namesrv, instanceName: 'shared' });
  await producer.start();
  t.teardown(() => producer.shutdown());
  const leaving = new Consumer({ namesrv: cluster.namesrv, group: 'leavers', subscriptions: [{ topic: 'Leave' }], instanceName: 'shared', logger: quiet, rebalanceIntervalMs: 200 });
  const staying = new Consumer({ namesrv: cluster.namesrv, group: 'leavers', subscriptions: [{ topic: 'Leave' }], instanceName: 'other', logger: quiet, rebalanceIntervalMs: 200 });
  leaving.onMessage(async () => undefined);
  staying.onMessage(async () => undefined);
  t.teardown(() => staying.shutdown());
  await leaving.start();
  await staying.start();
  await until(async () => (await members(broker, 'leavers')).length === 2, 15_000, () => 'both members registered');
  await leaving.shutdown();
  t.same(await members(broker, 'leavers'), [staying.clientId], 'right after shutdown the broker lists only the other member (no 120 s expiry wait)');
  const own = (): number => staying.assignedQueues().filter((queue) => queue.topic === 'Leave').length; // not its retry-topic queues
  await until(() => own() === 4, 15_000, () => `the other member took all 4 queues (has ${own()})`);
  t.equal((await producer.send({ topic: 'Leave', body: 'still connected' })).status, 'SEND_OK', 'the shared connection still serves the producer');
});
