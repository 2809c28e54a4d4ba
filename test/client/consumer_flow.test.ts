import t from 'tap';
import { Consumer } from '../../src/client/consumer/consumer.js';
import type { ReceivedMessage } from '../../src/client/message.js';
import { tagHash } from '../../src/storage/tag_hash.js';
import { committedOffset, createTopicEverywhere, RawSender, startStandalone, testBody, until } from './fixtures/consumer_cluster.js';
import { collectingLogger } from './fixtures/consumer_members.js';

/** Tag filtering end to end (with a hash collision the broker cannot tell apart) and backpressure. */

// Two tags with one FNV-1a hash: the broker's hash filter lets both through.
const subscribed_tag = 'tag36vu';
const colliding_tag = 'tagayea';

t.test('tags: only exact matches reach the listener, and the offset passes the rest', async (t) => {
  t.equal(tagHash(subscribed_tag), tagHash(colliding_tag), 'the two tags collide');
  const cluster = await startStandalone(t);
  const [broker_name, broker] = [...cluster.brokers][0] as [string, string];
  await createTopicEverywhere(cluster, 'Tagged', 1);
  const sender = new RawSender(cluster);
  t.teardown(() => sender.close());
  const tags = [subscribed_tag, colliding_tag, 'other', null, 'b'];
  for (let round = 0; round < 10; round++) {
    for (const tag of tags) await sender.sendBatch('Tagged', broker_name, 0, [testBody(String(tag), round)], tag);
  }
  const received: ReceivedMessage[] = [];
  const consumer = new Consumer({ namesrv: cluster.namesrv, group: 'tagged', subscriptions: [{ topic: 'Tagged', tags: `${subscribed_tag}||b` }], fromWhere: 'first', instanceName: 'tags-1', rebalanceIntervalMs: 200, commitIntervalMs: 50, logger: collectingLogger() });
  consumer.onMessage((message) => {
    received.push(message);
  });
  t.teardown(() => consumer.shutdown());
  await consumer.start();
  await until(async () => (await committedOffset(broker, 'tagged', 'Tagged', 0)) === 50, 20_000, () => 'the committed offset to pass all 50 messages');
  t.same([...new Set(received.map((message) => message.tag))].sort(), ['b', subscribed_tag], 'only the subscribed tags, not the colliding one');
  t.equal(received.length, 20, 'each once');
});

t.test('backpressure: a stuck listener pauses pulling at the buffer bound; pulling resumes when it moves', async (t) => {
  const cluster = await startStandalone(t);
  const broker_name = [...cluster.brokers.keys()][0] as string;
  await createTopicEverywhere(cluster, 'Slow', 1);
  const sender = new RawSender(cluster);
  t.teardown(() => sender.close());
  await sender.sendBatch('Slow', broker_name, 0, Array.from({ length: 300 }, (_, index) => testBody('slow', index)));
  let release_gate!: () => void;
  const gate = new Promise<void>((resolve) => (release_gate = resolve));
  let calls = 0;
  const consumer = new Consumer({ namesrv: cluster.namesrv, group: 'slow', subscriptions: [{ topic: 'Slow' }], fromWhere: 'first', instanceName: 'slow-1', queueBufferMessages: 20, pullBatchSize: 8, concurrency: 3, rebalanceIntervalMs: 200, logger: collectingLogger() });
  consumer.onMessage(async () => {
    calls++;
    await gate;
  });
  t.teardown(() => consumer.shutdown());
  await consumer.start();
  await until(() => consumer.stats().queues[0]?.paused === true, 10_000, () => `the queue to pause: ${JSON.stringify(consumer.stats())}`);
  const stats = consumer.stats();
  const queue = stats.queues[0];
  t.equal(stats.listenerRunning, 3, 'the listener runs at its concurrency');
  t.equal(calls, 3);
  t.ok(queue !== undefined && queue.held <= 20 && queue.held >= 17, `held ${queue?.held}: at the bound of 20 (pulls of up to 8 fill it)`);
  t.ok(queue !== undefined && queue.nextOffset !== undefined && queue.nextOffset <= 20, `pulled no further than the bound (next offset ${queue?.nextOffset})`);
  release_gate();
  await until(() => calls === 300, 20_000, () => `all 300 after the gate opens (${calls})`);
  t.pass('pulling resumed and finished');
});
