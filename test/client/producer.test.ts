import t from 'tap';
import { Admin, delivery_delay_ms_max, Producer, type Message, type MessageQueue, type SendResult } from '../../src/client/index.js';
import { inParallel, pullAll, startStandalone, until } from './client_helpers.js';

/**
 * The Producer against a real standalone node (nameserver and broker in one child process,
 * auto-create on): many sends with keys, tags and properties, found again by id; batches;
 * one-way sends; ordered sends by key.
 */

const messages_total = 10_000;
const sends_in_flight = 64;

function messageOf(index: number): Message {
  return {
    topic: 'ProducerMany',
    body: index % 3 === 0 ? `text body ${index}` : Buffer.from(`bytes body ${index} `.repeat(1 + (index % 5))),
    tag: `tag-${index % 7}`,
    keys: [`order-${index}`, `customer-${index % 100}`],
    properties: { index: String(index), parity: index % 2 === 0 ? 'even' : 'odd' },
  };
}

t.test('standalone node', async (t) => {
  const node = await startStandalone(t);
  const producer = new Producer({ namesrv: node.namesrv, group: 'producer-test' });
  await producer.start();
  const admin = new Admin({ namesrv: node.namesrv });
  t.teardown(async () => {
    await producer.shutdown();
    await admin.close();
  });

  await t.test(`${messages_total} sends with keys, tags and properties: SEND_OK, unique ids, each found by Admin.getMessage`, async (t) => {
    const started_ms = performance.now();
    const results = await inParallel(Array.from({ length: messages_total }, (_, index) => index), sends_in_flight, (index) => producer.send(messageOf(index)));
    const elapsed_ms = performance.now() - started_ms;
    t.comment(`${messages_total} sends, ${sends_in_flight} in flight: ${Math.round(elapsed_ms)} ms (${Math.round(messages_total / (elapsed_ms / 1000))} msgs/s)`);
    t.equal(results.filter((result) => result.status === 'SEND_OK').length, messages_total, 'every send answered SEND_OK');
    t.equal(new Set(results.map((result) => result.msgId)).size, messages_total, 'message ids are unique');
    t.ok(results.every((result) => /^[0-9A-F]{40}$/.test(result.msgId)), 'ids are 40 hex characters');
    const queues = new Set(results.map((result) => result.queueId));
    t.equal(queues.size, 4, 'round-robin reached every queue of the auto-created topic');
    const per_queue = new Map<number, number[]>();
    for (const result of results) per_queue.set(result.queueId, [...(per_queue.get(result.queueId) ?? []), result.queueOffset]);
    for (const [queue, offsets] of per_queue) {
      offsets.sort((a, b) => a - b);
      t.ok(offsets.every((offset, index) => offset === index), `queue ${queue}: offsets 0..${offsets.length - 1} without gaps or repeats`);
    }

    let mismatches = 0;
    await inParallel(results, 32, async (result: SendResult, index) => {
      const expected = messageOf(index);
      const found = await admin.getMessage(result.msgId);
      const body = typeof expected.body === 'string' ? Buffer.from(expected.body) : Buffer.from(expected.body as Uint8Array);
      const equal = found.msgId === result.msgId && found.topic === expected.topic && found.tag === expected.tag
        && JSON.stringify(found.keys) === JSON.stringify(expected.keys) && JSON.stringify(found.properties) === JSON.stringify(expected.properties)
        && found.body.equals(body) && found.queueId === result.queueId && found.queueOffset === result.queueOffset && found.brokerName === result.brokerName;
      if (!equal) mismatches += 1;
    });
    t.equal(mismatches, 0, `Admin.getMessage returned all ${messages_total} messages equal to what was sent`);
  });

  await t.test('sendBatch: one result per message, in order, in one queue with consecutive offsets', async (t) => {
    const batch = Array.from({ length: 100 }, (_, index): Message => ({ topic: 'ProducerBatch', body: `batch ${index}`, keys: `b-${index}` }));
    const results = await producer.sendBatch(batch);
    t.equal(results.length, batch.length, 'as many results as messages');
    t.ok(results.every((result) => result.status === 'SEND_OK'), 'all SEND_OK');
    t.equal(new Set(results.map((result) => result.queueId)).size, 1, 'the batch went to one queue');
    const first = results[0] as SendResult;
    t.ok(results.every((result, index) => result.queueOffset === first.queueOffset + index), 'offsets are consecutive in the order given');
    // The ConsumeQueue is fed asynchronously after the append: wait (bounded) until it is.
    const stored = await until('the batch is readable', async () => {
      const messages = await pullAll(node.broker, 'ProducerBatch', first.queueId, first.queueOffset);
      return messages.length === batch.length ? messages : undefined;
    });
    t.same(stored.map((message) => message.body.toString()), batch.map((message) => message.body), 'a consumer reads the bodies in batch order');
  });

  await t.test('sendOneway: the messages arrive', async (t) => {
    const count = 200;
    // The first send creates the topic, so the one-way sends below have its real route.
    await producer.send({ topic: 'ProducerOneway', body: 'first' });
    for (let index = 0; index < count; index++) await producer.sendOneway({ topic: 'ProducerOneway', body: `oneway ${index}` });
    const bodies = await until('all one-way messages stored', async () => {
      const all = (await Promise.all([0, 1, 2, 3].map((queue) => pullAll(node.broker, 'ProducerOneway', queue)))).flat();
      return all.length === count + 1 ? all.map((message) => message.body.toString()) : undefined;
    });
    t.same(new Set(bodies), new Set(['first', ...Array.from({ length: count }, (_, index) => `oneway ${index}`)]), 'every one-way body is stored once');
  });

  await t.test('orderKey: the same key always gets the same queue; keys spread over queues', async (t) => {
    await t.rejects(producer.send({ topic: 'ProducerOrdered', body: 'too early' }, { orderKey: 'k' }), { name: 'MqError', code: 'TOPIC_NOT_FOUND' },
      'an ordered send needs the topic\'s queues: refused while the topic does not exist');
    await admin.createTopic({ topic: 'ProducerOrdered', queues: 4 });
    const keys = Array.from({ length: 40 }, (_, index) => `account-${index}`);
    const queue_of = new Map<string, Set<number>>();
    for (let round = 0; round < 5; round++) {
      for (const key of keys) {
        const result = await producer.send({ topic: 'ProducerOrdered', body: `${key} step ${round}`, keys: key }, { orderKey: key });
        if (!queue_of.has(key)) queue_of.set(key, new Set());
        queue_of.get(key)?.add(result.queueId);
      }
    }
    t.ok([...queue_of.values()].every((queues) => queues.size === 1), 'each key stayed on one queue over 5 rounds');
    t.ok(new Set([...queue_of.values()].map((queues) => [...queues][0])).size > 1, 'different keys use different queues');
    const key = 'account-7';
    const queue = [...(queue_of.get(key) as Set<number>)][0] as number;
    const stored = await until('the key\'s messages are readable', async () => {
      const messages = (await pullAll(node.broker, 'ProducerOrdered', queue)).filter((message) => message.keys.includes(key));
      return messages.length === 5 ? messages : undefined;
    });
    t.same(stored.map((message) => message.body.toString()), [0, 1, 2, 3, 4].map((round) => `${key} step ${round}`), 'a consumer of that queue reads the key\'s messages in send order');

    const chosen = await producer.send({ topic: 'ProducerOrdered', body: 'picked' }, { selector: (queues) => queues[queues.length - 1] as MessageQueue });
    t.equal(chosen.queueId, 3, 'a selector function picks the queue');
    await t.rejects(producer.send({ topic: 'ProducerOrdered', body: 'x' }, { selector: () => ({ topic: 'ProducerOrdered', brokerName: 'nope', queueId: 0 }) }),
      { name: 'MqError', code: 'BAD_REQUEST' }, 'a selector answering a foreign queue is a BAD_REQUEST');
  });

  await t.test('delayMs is passed through to the broker, which stores the message for later; a delay over the maximum is refused before the send', async (t) => {
    t.equal((await producer.send({ topic: 'ProducerMany', body: 'later', delayMs: 1_000 })).status, 'SEND_OK', 'the broker took the delayed message');
    await t.rejects(producer.send({ topic: 'ProducerMany', body: 'too late', delayMs: delivery_delay_ms_max + 1 }), { name: 'MqError', code: 'BAD_REQUEST', message: /delayMs/ },
      'over 40 days: refused by the client');
  });
});
