import t from 'tap';
import { Producer } from '../../src/client/producer.js';
import { collectingLogger, queueNames, recordingConsumer, settled } from './fixtures/consumer_members.js';
import { createTopicEverywhere, startCluster, testBody, until } from './fixtures/consumer_cluster.js';
import { Receipts } from './fixtures/consumer_receipts.js';

/**
 * A clustering group of 3 consumers on a topic of 8 queues over 2 brokers consumes 40,000
 * messages that 4 producers send while it runs: every message once, bodies equal, each queue
 * in order, and no duplicates (no faults here; consumer_rebalance.test.ts has the faults).
 */

const queues_per_broker = 4;
const producers = 4;
const messages_per_producer = 10_000;
/** Sends each producer keeps in flight. */
const in_flight = 64;

t.test('3 consumers, 8 queues on 2 brokers, 40,000 messages from 4 producers: each exactly once and in order', async (t) => {
  const cluster = await startCluster(t, 2);
  await createTopicEverywhere(cluster, 'Orders', queues_per_broker);
  const all_queues = [...cluster.brokers.keys()].flatMap((broker) => Array.from({ length: queues_per_broker }, (_, id) => `${broker}/${id}`));
  const sent = new Map<string, Buffer>();
  const receipts = new Receipts(sent);
  const warnings = collectingLogger();
  const consumers = ['c1', 'c2', 'c3'].map((label) => recordingConsumer(t, label, {
    namesrv: cluster.namesrv, group: 'orders', subscriptions: [{ topic: 'Orders' }], fromWhere: 'first',
    instanceName: `group-${label}`, rebalanceIntervalMs: 300, logger: warnings,
  }, receipts));
  for (const consumer of consumers) await consumer.start();
  await until(() => settled(consumers, all_queues), 20_000, () => `the 3 members to split the 8 queues: ${JSON.stringify(consumers.map(queueNames))}`);
  t.same(consumers.map((consumer) => queueNames(consumer).length).sort(), [2, 3, 3], 'averagely: 3, 3 and 2 queues');

  const started_ms = performance.now();
  await Promise.all(Array.from({ length: producers }, async (_, index) => {
    const producer = new Producer({ namesrv: cluster.namesrv, instanceName: `group-producer-${index}` });
    await producer.start();
    t.teardown(() => producer.shutdown());
    let next = 0;
    await Promise.all(Array.from({ length: in_flight }, async () => {
      for (let sequence = next++; sequence < messages_per_producer; sequence = next++) {
        const body = testBody(`p${index}`, sequence, 100);
        const result = await producer.send({ topic: 'Orders', body, tag: 'tag-a' });
        sent.set(`${result.brokerName}/${result.queueId}/${result.queueOffset}`, body);
      }
    }));
  }));
  const sent_ms = performance.now() - started_ms;
  const total = producers * messages_per_producer;
  t.equal(sent.size, total, `${total} messages sent by ${producers} producers in ${Math.round(sent_ms)} ms`);
  t.same([...new Set([...sent.keys()].map((position) => position.slice(0, position.lastIndexOf('/'))))].sort(), all_queues, 'into all 8 queues');
  await until(() => receipts.distinct >= total, 60_000, () => `all ${total} messages consumed (${receipts.distinct} so far); warnings: ${warnings.lines.slice(0, 5).join(' | ')}`);
  const consumed_ms = performance.now() - started_ms;

  const report = receipts.report();
  t.comment(`consumed ${report.distinct} distinct messages in ${Math.round(consumed_ms)} ms (${Math.round(total / (consumed_ms / 1000))} msg/s), duplicates: ${report.duplicates}`);
  t.same(report.missing, [], 'every message consumed');
  t.same(report.body_mismatches, [], 'bodies equal');
  t.same(report.order_violations, [], 'each queue in offset order');
  t.equal(report.duplicates, 0, 'no duplicates without faults');
  t.same(['c1', 'c2', 'c3'].map((label) => receipts.deliveredBy(label) > 0), [true, true, true], 'every member consumed');
  for (const consumer of consumers) await consumer.shutdown();
});
