import t from 'tap';
import { Consumer } from '../../src/client/consumer/consumer.js';
import { prng } from '../helpers/prng.js';
import { tempDir } from '../storage/commit_log_helpers.js';
import { createTopicEverywhere, RawSender, startStandalone, testBody, until } from './fixtures/consumer_cluster.js';
import { collectingLogger } from './fixtures/consumer_members.js';

/**
 * Orderly consumption under a listener that fails (throws or answers 'RETRY') at random:
 * each queue runs one message at a time, a failed message is retried before the next one,
 * and every queue's messages complete in offset order, each exactly once.
 */

const queues = 4;
const per_queue = 400;

t.test('orderly: one at a time per queue, in offset order, failures retried in place', async (t) => {
  const cluster = await startStandalone(t);
  const broker_name = [...cluster.brokers.keys()][0] as string;
  await createTopicEverywhere(cluster, 'Steps', queues);
  const sender = new RawSender(cluster);
  t.teardown(() => sender.close());
  for (let queue = 0; queue < queues; queue++) await sender.sendBatch('Steps', broker_name, queue, Array.from({ length: per_queue }, (_, index) => testBody(`s${queue}`, index)));

  const seed = Date.now() >>> 0;
  const random = prng(seed);
  const attempts = new Map<number, number[]>();
  const completed = new Map<number, number[]>();
  const running = new Map<number, number>();
  const failures = new Map<string, number>();
  let overlap = 0;
  let wrong_reconsume = 0;
  let failed = 0;
  const consumer = new Consumer({
    namesrv: cluster.namesrv, group: 'steps', subscriptions: [{ topic: 'Steps' }], fromWhere: 'first', orderly: true, concurrency: 4,
    retryDelayMs: 2, retryDelayMaxMs: 10, maxReconsumeTimes: 1_000, instanceName: 'orderly-1', rebalanceIntervalMs: 200, logger: collectingLogger(),
  });
  consumer.onMessage(async (message) => {
    const queue = message.queueId;
    const key = `${queue}/${message.queueOffset}`;
    if (message.reconsumeTimes !== (failures.get(key) ?? 0)) wrong_reconsume++;
    (attempts.get(queue) ?? attempts.set(queue, []).get(queue) as number[]).push(message.queueOffset);
    running.set(queue, (running.get(queue) ?? 0) + 1);
    if ((running.get(queue) ?? 0) > 1) overlap++;
    try {
      await new Promise((resolve) => setImmediate(resolve)); // yield: let other calls start if they could
      const roll = random();
      if (roll < 0.15 || roll > 0.95) {
        failures.set(key, (failures.get(key) ?? 0) + 1);
        failed++;
        if (roll < 0.15) throw new Error('listener failure');
        return 'RETRY';
      }
      (completed.get(queue) ?? completed.set(queue, []).get(queue) as number[]).push(message.queueOffset);
      return undefined;
    } finally {
      running.set(queue, (running.get(queue) ?? 1) - 1);
    }
  });
  t.teardown(() => consumer.shutdown());
  await consumer.start();
  const done = (): number => [...completed.values()].reduce((sum, list) => sum + list.length, 0);
  await until(() => done() >= queues * per_queue, 60_000, () => `all ${queues * per_queue} completed (${done()})`);

  t.comment(`seed ${seed}: ${failed} failed attempts retried`);
  t.ok(failed > 50, 'the listener failed often');
  t.equal(overlap, 0, 'never two calls of one queue at once');
  t.equal(wrong_reconsume, 0, 'reconsumeTimes counts the failed attempts of each message');
  for (let queue = 0; queue < queues; queue++) {
    t.same(completed.get(queue), Array.from({ length: per_queue }, (_, index) => index), `queue ${queue}: each message completed once, in offset order`);
    const tried = attempts.get(queue) ?? [];
    t.ok(tried.every((offset, index) => index === 0 || offset === tried[index - 1] || offset === (tried[index - 1] as number) + 1), `queue ${queue}: a failed message was retried before the next one started`);
  }
});

// Clustering consumers send failed messages back to the broker's retry topic instead
// (consumer_send_back.test.ts); broadcasting members keep the local retries and the give-up.
t.test('broadcasting, concurrent mode: a failure is redelivered after a backoff; after maxReconsumeTimes it is given up and the queue moves on', async (t) => {
  const cluster = await startStandalone(t);
  const broker_name = [...cluster.brokers.keys()][0] as string;
  await createTopicEverywhere(cluster, 'Flaky', 1);
  const sender = new RawSender(cluster);
  t.teardown(() => sender.close());
  await sender.sendBatch('Flaky', broker_name, 0, Array.from({ length: 20 }, (_, index) => testBody('f', index)));

  const seen = new Map<number, number[]>();
  const gave_up: number[] = [];
  const committed: number[] = [];
  const consumer = new Consumer({
    namesrv: cluster.namesrv, group: 'flaky', subscriptions: [{ topic: 'Flaky' }], mode: 'broadcasting', offsetDir: tempDir(t), fromWhere: 'first', maxReconsumeTimes: 2,
    retryDelayMs: 5, retryDelayMaxMs: 20, commitIntervalMs: 50, instanceName: 'flaky-1', rebalanceIntervalMs: 200, logger: collectingLogger(),
  });
  consumer.onMessage(async (message) => {
    (seen.get(message.queueOffset) ?? seen.set(message.queueOffset, []).get(message.queueOffset) as number[]).push(message.reconsumeTimes);
    if (message.queueOffset === 7) throw new Error('poison');
    if (message.queueOffset % 5 === 0 && message.reconsumeTimes === 0) return 'RETRY';
    return undefined;
  });
  consumer.onEvent((event) => {
    if (event.kind === 'gave-up') gave_up.push(event.message.queueOffset);
    if (event.kind === 'committed') committed.push(...event.offsets.map((entry) => entry.offset));
  });
  t.teardown(() => consumer.shutdown());
  await consumer.start();
  await until(() => committed.includes(20), 20_000, () => `the offset to pass every message (${committed.slice(-3).join(', ')})`);
  t.same(seen.get(7), [0, 1, 2], 'the poison message: tried 1 + maxReconsumeTimes times, reconsumeTimes counting');
  t.same(gave_up, [7], 'then given up, with an event');
  for (const offset of [0, 5, 10, 15]) t.same(seen.get(offset), [0, 1], `offset ${offset}: 'RETRY' once, then delivered again and acked`);
  t.same(seen.get(3), [0], 'the others once');
  t.ok(committed.every((offset, index) => index === 0 || offset >= (committed[index - 1] as number)), 'commits only move forward');
});
