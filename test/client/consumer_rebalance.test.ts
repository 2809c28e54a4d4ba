import t from 'tap';
import { ConsumerChild } from './fixtures/consumer_child_process.js';
import { createTopicEverywhere, RawSender, startCluster, testBody, until } from './fixtures/consumer_cluster.js';
import { collectingLogger, partitions, queueNames, recordingConsumer, settled } from './fixtures/consumer_members.js';
import { Receipts } from './fixtures/consumer_receipts.js';

/**
 * Faults during consumption: a fourth consumer joins, and a consumer in a child process is
 * killed with SIGKILL (no shutdown, no final commit). The group rebalances, nothing is
 * lost, and every message delivered twice is one its first deliverer had not committed when
 * it let the queue go (released it, or died): duplicates are bounded by what was in flight.
 */

const queues_per_broker = 4;
const rounds = 96;
const batch = 32;
const rebalance_interval_ms = 300;

t.test('a consumer joins and another is killed -9 mid-stream: rebalanced, nothing lost, duplicates only what was in flight', async (t) => {
  const cluster = await startCluster(t, 2);
  await createTopicEverywhere(cluster, 'Payments', queues_per_broker);
  const all_queues = [...cluster.brokers.keys()].flatMap((broker) => Array.from({ length: queues_per_broker }, (_, id) => `${broker}/${id}`));
  const sender = new RawSender(cluster);
  t.teardown(() => sender.close());
  const receipts = new Receipts(sender.sent);
  const warnings = collectingLogger();
  const options = (label: string) => ({
    namesrv: cluster.namesrv, group: 'payments', subscriptions: [{ topic: 'Payments' }], fromWhere: 'first' as const,
    instanceName: `rebalance-${label}`, rebalanceIntervalMs: rebalance_interval_ms, commitIntervalMs: 500,
  });
  const c1 = recordingConsumer(t, 'c1', { ...options('c1'), logger: warnings }, receipts);
  const c2 = recordingConsumer(t, 'c2', { ...options('c2'), logger: warnings }, receipts);
  await c1.start();
  await c2.start();
  // The child is the slowest member (a 2 ms listener, 4 at a time), so that it has messages
  // buffered and in its listener when it is killed.
  const child = new ConsumerChild(t, 'c3', { ...options('c3'), concurrency: 4, listenerDelayMs: 2 }, receipts);
  await child.ready();
  await until(() => settled([c1, c2], all_queues.filter((name) => !child.assigned.includes(name))) && partitions([queueNames(c1), queueNames(c2), child.assigned], all_queues),
    20_000, () => `3 members to split the queues: ${JSON.stringify([queueNames(c1), queueNames(c2), child.assigned])}`);
  t.pass(`settled: c1 ${queueNames(c1).join(' ')}, c2 ${queueNames(c2).join(' ')}, child ${child.assigned.join(' ')}`);

  const c4 = recordingConsumer(t, 'c4', { ...options('c4'), logger: warnings }, receipts);
  let child_before_kill = 0;
  for (let round = 0; round < rounds; round++) {
    if (round === rounds / 4) await c4.start(); // joins while messages flow
    if (round === (rounds * 5) / 8) {
      await until(() => receipts.deliveredBy('c3') > 0, 10_000, () => 'the child to consume');
      child_before_kill = receipts.deliveredBy('c3');
      await child.kill();
      receipts.killed('c3');
    }
    await Promise.all(all_queues.map((name) => {
      const [broker, queue] = name.split('/') as [string, string];
      return sender.sendBatch('Payments', broker, Number(queue), Array.from({ length: batch }, (_, index) => testBody(name, round * batch + index, 100)));
    }));
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
  const total = all_queues.length * rounds * batch;
  await until(() => receipts.distinct >= total, 60_000, () => `all ${total} messages consumed (${receipts.distinct} so far); warnings: ${warnings.lines.slice(0, 5).join(' | ')}`);
  await until(() => settled([c1, c2, c4], all_queues), 20_000, () => `the survivors to split the queues: ${JSON.stringify([c1, c2, c4].map(queueNames))}`);
  t.pass(`after the kill: c1 ${queueNames(c1).join(' ')}, c2 ${queueNames(c2).join(' ')}, c4 ${queueNames(c4).join(' ')}`);

  const report = receipts.report();
  t.comment(`child consumed ${child_before_kill} before the kill; duplicates ${report.duplicates}, in flight at handovers and the kill ${report.in_flight_bound}`);
  t.same(report.missing, [], 'nothing lost');
  t.same(report.body_mismatches, [], 'bodies equal');
  t.same(report.order_violations, [], 'each owner consumed its queues in offset order');
  t.same(report.unexplained, [], 'every duplicate was in flight (above the commit) when its first owner let the queue go');
  t.ok(report.duplicates <= report.in_flight_bound, `duplicates ${report.duplicates} <= in flight ${report.in_flight_bound}`);
  t.ok(receipts.deliveredBy('c4') > 0, 'the joiner consumed');
  for (const consumer of [c1, c2, c4]) await consumer.shutdown();
});
