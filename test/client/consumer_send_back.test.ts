import t, { type Test } from 'tap';
import * as p from '../../src/protocol/index.js';
import { AssignedQueue } from '../../src/client/consumer/assigned_queue.js';
import { Consumer } from '../../src/client/consumer/consumer.js';
import { ConsumerEvents, type ConsumerEvent } from '../../src/client/consumer/consumer_events.js';
import { resolveConsumerOptions, type ConsumerOptions } from '../../src/client/consumer/consumer_options.js';
import { listenerViewOf } from '../../src/client/consumer/delivery.js';
import { GroupMembership } from '../../src/client/consumer/group_membership.js';
import { ListenerDispatcher } from '../../src/client/consumer/listener_dispatcher.js';
import { no_committed_offset, type OffsetStore } from '../../src/client/consumer/offset_store.js';
import { tagCheckOf } from '../../src/client/consumer/tag_check.js';
import type { ReceivedMessage } from '../../src/client/message.js';
import { MqError } from '../../src/runtime/errors.js';
import type { RequestHandler } from '../../src/server/remoting/request_router.js';
import { startFakeServer } from './client_helpers.js';
import { storedMessage } from './fixtures/stored_messages.js';

/**
 * What a consumer does with a failed message, without a broker: one AssignedQueue pulls from a
 * fake BrokerLink and runs a scripted listener through the real dispatcher. Clustering sends
 * the message back and acks it once the broker answers OK; while the send-back fails the
 * message stays un-acked and is retried locally; orderly retries locally, then dead-letters;
 * broadcasting retries, then gives up. Also: the retry-topic subscription, and retried
 * messages shown under their first topic. Waits are bounded waits for a condition.
 */

const retry_topic = p.retryTopicOf('G');

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

function retried(request: p.SendBackRequest, destination: p.SendBackDestination = 'RETRY'): p.SendBackResult {
  return {
    destination,
    topic: destination === 'RETRY' ? retry_topic : p.deadLetterTopicOf(request.group),
    reconsumeTimes: 1,
    deliverAtMs: 1_700_000_010_000,
    msgId: 'C0A80001000027110000000000000ABC',
  };
}

/** The listener's verdict for one call: resolve (ack), 'RETRY', or throw. */
type Verdict = 'ok' | 'RETRY' | 'throw';

interface HarnessOptions {
  consumer?: Partial<ConsumerOptions>;
  topic?: string;
  messages: p.StoredMessage[];
  /** The group's committed offset of the queue (default 0). */
  committed?: number;
  verdict(message: ReceivedMessage, call: number): Verdict;
  /** The broker's answer to the n-th send-back (0-based); reject for a failure. */
  sendBack?(request: p.SendBackRequest, index: number): Promise<p.SendBackResult>;
}

interface Harness {
  queue: AssignedQueue;
  calls: ReceivedMessage[];
  events: ConsumerEvent[];
  send_backs: p.SendBackRequest[];
  offset_requests: string[];
  warnings: string[];
  broker_failures: number;
  stop(): Promise<void>;
}

function harness(t: Test, setup: HarnessOptions): Harness {
  const warnings: string[] = [];
  const options = resolveConsumerOptions({
    namesrv: '127.0.0.1:1', group: 'G', subscriptions: [{ topic: 'T' }], retryDelayMs: 1, retryDelayMaxMs: 2,
    logger: { warn: (message) => warnings.push(message) }, ...setup.consumer,
  });
  const topic = setup.topic ?? 'T';
  const held_pulls: Array<() => void> = [];
  const harness: Harness = {
    queue: undefined as unknown as AssignedQueue,
    calls: [],
    events: [],
    send_backs: [],
    offset_requests: [],
    warnings,
    broker_failures: 0,
    stop: async () => undefined,
  };
  const end_offset = setup.messages.length === 0 ? 0 : Math.max(...setup.messages.map((message) => message.queueOffset)) + 1;
  const link = {
    request: async (broker_name: string, code: number, body: Uint8Array): Promise<Uint8Array> => {
      t.equal(broker_name, 'b', 'every request goes to the queue\'s broker');
      switch (code) {
        case p.request_codes.PULL: {
          const request = p.decodePullRequest(body);
          if (!request.ok) throw new Error(request.error.message);
          t.equal(request.value.commitOffset, null, 'pulls commit nothing');
          const found = setup.messages.filter((message) => message.queueOffset >= request.value.queueOffset);
          if (found.length > 0) return p.encodePullResponse({ status: 'FOUND', nextOffset: end_offset, minOffset: 0, maxOffset: end_offset, messages: found });
          // At the end: held like a long poll until the test stops.
          await new Promise<void>((resolve) => held_pulls.push(resolve));
          return p.encodePullResponse({ status: 'NO_NEW_MSG', nextOffset: request.value.queueOffset, minOffset: 0, maxOffset: end_offset, messages: [] });
        }
        case p.request_codes.GET_MIN_OFFSET:
        case p.request_codes.GET_MAX_OFFSET: {
          const min = code === p.request_codes.GET_MIN_OFFSET;
          harness.offset_requests.push(min ? 'min' : 'max');
          return p.encodeGetOffsetResponse({ offset: min ? 0 : end_offset });
        }
        case p.request_codes.CONSUMER_SEND_BACK: {
          const request = p.decodeSendBackRequest(body);
          if (!request.ok) throw new Error(request.error.message);
          const index = harness.send_backs.push(request.value) - 1;
          if (setup.sendBack === undefined) throw new MqError('INTERNAL', 'this test expects no send-back');
          return p.encodeSendBackResult(await setup.sendBack(request.value, index));
        }
        default:
          throw new MqError('INTERNAL', `the fake broker does not answer request code ${code}`);
      }
    },
  };
  const offsets: OffsetStore = {
    open: async () => undefined,
    read: async () => setup.committed ?? 0,
    update: () => undefined,
    persist: async () => [],
    forget: () => undefined,
    close: async () => undefined,
  };
  const events = new ConsumerEvents();
  events.on((event) => harness.events.push(event));
  const dispatcher = new ListenerDispatcher(options.concurrency, async (message) => {
    const call = harness.calls.push(message) - 1;
    const verdict = setup.verdict(message, call);
    if (verdict === 'throw') throw new Error(`listener failure at call ${call}`);
    return verdict === 'RETRY' ? 'RETRY' : undefined;
  });
  const queue = new AssignedQueue({ topic, brokerName: 'b', queueId: 0 }, tagCheckOf('*'), {
    options,
    link,
    offsets,
    events,
    ready: (ready) => dispatcher.notify(ready),
    brokerFailed: () => harness.broker_failures++,
  });
  harness.queue = queue;
  harness.stop = async () => {
    dispatcher.stop();
    const releasing = queue.release();
    for (const resolve of held_pulls.splice(0)) resolve();
    await releasing;
  };
  t.teardown(() => harness.stop());
  queue.start();
  return harness;
}

/** Waits for `condition`, failing after 10 s: the conditions here follow in microseconds. */
async function waitFor(what: string, condition: () => boolean): Promise<void> {
  const deadline_ms = performance.now() + 10_000;
  while (!condition()) {
    if (performance.now() > deadline_ms) throw new Error(`not within 10 s: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Lets every pending timer of 0 ms, immediate and microtask run (a dispatch round). */
async function settleRound(): Promise<void> {
  for (let round = 0; round < 20; round++) await new Promise((resolve) => setImmediate(resolve));
}

const kinds = (events: readonly ConsumerEvent[], kind: ConsumerEvent['kind']): ConsumerEvent[] => events.filter((event) => event.kind === kind);

t.test('clustering: a failed message is sent back, then acked, with a sent-back event', async (t) => {
  const messages = [
    storedMessage('T', 0, 0),
    storedMessage('T', 0, 1, { tag: 'x' }),
    storedMessage('T', 0, 2, { properties: { [p.system_properties.origin_message_id]: 'ORIGINAL-ID-2' } }),
  ];
  const h = harness(t, {
    messages,
    verdict: (message) => (message.queueOffset === 1 ? 'throw' : message.queueOffset === 2 ? 'RETRY' : 'ok'),
    sendBack: async (request) => retried(request),
  });
  await waitFor('all three done', () => h.queue.committable() === 3);
  t.same(h.calls.map((message) => message.queueOffset), [0, 1, 2], 'each message reached the listener once: no local redelivery');
  t.same(h.send_backs, [
    { group: 'G', commitLogOffset: messages[1]?.commitLogOffset, msgId: messages[1]?.msgId, maxReconsumeTimes: 16 },
    { group: 'G', commitLogOffset: messages[2]?.commitLogOffset, msgId: 'ORIGINAL-ID-2', maxReconsumeTimes: 16 },
  ], 'the failed messages were sent back by CommitLog offset, with the producer\'s id when the message has one, and the group\'s bound');
  const sent_back = kinds(h.events, 'sent-back');
  t.same(sent_back.map((event) => event.kind === 'sent-back' && [event.message.queueOffset, event.destination, event.topic, event.reconsumeTimes]), [
    [1, 'RETRY', retry_topic, 1],
    [2, 'RETRY', retry_topic, 1],
  ], 'a sent-back event per message, with where the broker put it');
  t.equal(h.queue.stats().held, 0, 'nothing held: the sent-back messages were acked');
  t.same(kinds(h.events, 'gave-up'), [], 'nothing given up');
  t.same(h.warnings, [], 'no warning');
});

t.test('clustering: a failing send-back leaves the message un-acked and retried locally until a send-back succeeds', async (t) => {
  let answered = 0;
  const h = harness(t, {
    consumer: { maxReconsumeTimes: 1 },
    messages: [storedMessage('T', 0, 0, { reconsumeTimes: 3 }), storedMessage('T', 0, 1)],
    verdict: (message) => (message.queueOffset === 0 ? 'throw' : 'ok'),
    sendBack: async (request, index) => {
      if (index < 3) throw new MqError('BROKER_UNAVAILABLE', `send-back ${index}: the broker is down`);
      answered++;
      return retried(request, 'DLQ');
    },
  });
  await waitFor('the first send-back failed and the message came back', () => h.calls.filter((message) => message.queueOffset === 0).length >= 2);
  t.equal(h.queue.committable(), 0, 'offset 0 is not acked while the broker has no copy');
  await waitFor('the fourth send-back was answered', () => answered === 1 && h.queue.committable() === 2);
  const attempts = h.calls.filter((message) => message.queueOffset === 0);
  t.same(attempts.map((message) => message.reconsumeTimes), [3, 4, 5, 6], 'the broker\'s count plus each local failure; more than maxReconsumeTimes, never given up');
  t.equal(h.send_backs.length, 4, 'sent back again at each failure');
  t.ok(h.send_backs.every((request) => request.maxReconsumeTimes === 1 && request.commitLogOffset === 10_000), 'same message, the group\'s bound: the broker picks retry or dead letter');
  t.same(kinds(h.events, 'gave-up'), [], 'never given up without a copy');
  t.same(kinds(h.events, 'sent-back').map((event) => event.kind === 'sent-back' && event.destination), ['DLQ'], 'one sent-back event, once it worked');
  t.equal(h.warnings.filter((line) => line.startsWith('send-back failed:')).length, 3, 'a warning per failed send-back');
  t.match(h.warnings[0], /BROKER_UNAVAILABLE|the broker is down/);
  t.equal(h.broker_failures, 3, 'each failed send-back asks for a fresh route');
});

t.test('clustering: a send-back under way holds the message; releasing the queue waits for it', async (t) => {
  const answer = deferred<p.SendBackResult>();
  const h = harness(t, {
    messages: [storedMessage('T', 0, 0)],
    verdict: () => 'throw',
    sendBack: () => answer.promise,
  });
  await waitFor('the send-back was asked', () => h.send_backs.length === 1);
  t.equal(h.queue.stats().sendingBack, 1);
  t.equal(h.queue.committable(), 0, 'not acked before the answer');
  const released = h.queue.release();
  answer.resolve(retried(h.send_backs[0] as p.SendBackRequest));
  t.equal(await released, 1, 'the release waited for the answer and committed past the message');
  t.equal(kinds(h.events, 'sent-back').length, 1);
});

t.test('orderly: retried locally maxReconsumeTimes times, then dead-lettered with a bound of 0; a failed dead-lettering retries again', async (t) => {
  const answer = deferred<p.SendBackResult>();
  const h = harness(t, {
    consumer: { orderly: true, maxReconsumeTimes: 2 },
    messages: [storedMessage('T', 0, 0), storedMessage('T', 0, 1)],
    verdict: (message) => (message.queueOffset === 0 ? 'throw' : 'ok'),
    sendBack: async (request, index) => {
      if (index === 0) throw new MqError('TIMEOUT', 'no answer');
      return answer.promise;
    },
  });
  await waitFor('the second dead-lettering was asked', () => h.send_backs.length === 2);
  await settleRound();
  t.same(h.calls.map((message) => `${message.queueOffset}/${message.reconsumeTimes}`), ['0/0', '0/1', '0/2', '0/3'],
    'three local attempts, the failed send-back, one more local attempt; offset 1 waits');
  t.equal(h.queue.committable(), 0, 'nothing acked while the send-back is under way');
  answer.resolve(retried(h.send_backs[1] as p.SendBackRequest, 'DLQ'));
  await waitFor('both done', () => h.queue.committable() === 2);
  t.same(h.calls.map((message) => message.queueOffset), [0, 0, 0, 0, 1], 'offset 1 only after offset 0 was dead-lettered');
  t.same(h.send_backs.map((request) => request.maxReconsumeTimes), [0, 0], 'sent back with a bound of 0: straight to the dead-letter topic');
  t.same(kinds(h.events, 'sent-back').map((event) => event.kind === 'sent-back' && [event.message.queueOffset, event.destination]), [[0, 'DLQ']]);
  t.same(kinds(h.events, 'gave-up'), []);
});

t.test('broadcasting: retried locally, then given up as before; nothing is sent back', async (t) => {
  const h = harness(t, {
    consumer: { mode: 'broadcasting', maxReconsumeTimes: 2, offsetDir: '/nonexistent-not-used' },
    messages: [storedMessage('T', 0, 0), storedMessage('T', 0, 1)],
    verdict: (message) => (message.queueOffset === 0 ? 'RETRY' : 'ok'),
  });
  await waitFor('both done', () => h.queue.committable() === 2);
  t.same(h.calls.filter((message) => message.queueOffset === 0).map((message) => message.reconsumeTimes), [0, 1, 2], '1 + maxReconsumeTimes attempts');
  t.same(kinds(h.events, 'gave-up').map((event) => event.kind === 'gave-up' && event.message.queueOffset), [0], 'then given up, with the event');
  t.same(h.send_backs, [], 'no send-back');
  t.same(kinds(h.events, 'sent-back'), []);
});

t.test('retry topic: read from its start whatever fromWhere says; its messages show their first topic, and are sent back by their retry copy', async (t) => {
  const original_id = 'AC1100020000271100000000000004D2';
  const retry_copy = storedMessage(retry_topic, 0, 0, {
    reconsumeTimes: 1,
    tag: 'x',
    properties: { [p.system_properties.origin_topic]: 'Orders', [p.system_properties.origin_message_id]: original_id },
  });
  const h = harness(t, {
    consumer: { fromWhere: 'last' },
    topic: retry_topic,
    committed: no_committed_offset,
    messages: [retry_copy],
    verdict: () => 'throw',
    sendBack: async (request) => ({ ...retried(request), reconsumeTimes: 2 }),
  });
  await waitFor('sent back', () => h.queue.committable() === 1);
  t.same(h.offset_requests, ['min'], 'a new retry queue starts at its oldest message, not at its end');
  const seen = h.calls[0] as ReceivedMessage;
  t.match(seen, { topic: 'Orders', brokerName: 'b', queueId: 0, queueOffset: 0, commitLogOffset: retry_copy.commitLogOffset, msgId: retry_copy.msgId, reconsumeTimes: 1, tag: 'x' },
    'the listener sees its own topic; where the copy is stored stays the retry copy\'s');
  t.equal(seen.properties[p.system_properties.origin_message_id], original_id);
  t.same(h.send_backs, [{ group: 'G', commitLogOffset: retry_copy.commitLogOffset, msgId: original_id, maxReconsumeTimes: 16 }], 'sent back from the retry copy, under the producer\'s id');
  t.match(kinds(h.events, 'sent-back')[0], { message: { topic: 'Orders' }, reconsumeTimes: 2 });
});

t.test('listenerViewOf: only retry-topic messages with an ORIGIN_TOPIC change', async (t) => {
  const base = { topic: 'T', properties: {} } as ReceivedMessage;
  t.equal(listenerViewOf(base), base, 'a user topic: the same object');
  const no_origin = { ...base, topic: retry_topic };
  t.equal(listenerViewOf(no_origin).topic, retry_topic, 'no ORIGIN_TOPIC: left as stored');
  const dead = { ...base, topic: p.deadLetterTopicOf('G'), properties: { [p.system_properties.origin_topic]: 'T' } };
  t.equal(listenerViewOf(dead).topic, p.deadLetterTopicOf('G'), 'other system topics: left as stored');
});

t.test('a clustering consumer subscribes to its retry topic, every tag; broadcasting does not', async (t) => {
  const clustering = resolveConsumerOptions({ namesrv: '127.0.0.1:1', group: 'G', subscriptions: [{ topic: 'T', tags: 'a||b' }] });
  t.same(clustering.subscriptions.map((subscription) => [subscription.topic, subscription.tags.expression, subscription.retry]), [['T', 'a||b', false], [retry_topic, '*', true]]);
  const broadcasting = resolveConsumerOptions({ namesrv: '127.0.0.1:1', group: 'G', subscriptions: [{ topic: 'T' }], mode: 'broadcasting' });
  t.same(broadcasting.subscriptions.map((subscription) => subscription.topic), ['T']);
  const named = resolveConsumerOptions({ namesrv: '127.0.0.1:1', group: 'G', subscriptions: [{ topic: 'T' }, { topic: retry_topic }] });
  t.same(named.subscriptions.map((subscription) => subscription.topic), ['T', retry_topic], 'named by the user: not twice');
  const membership = new GroupMembership('client-1', clustering, { request: () => Promise.reject(new Error('unused')) });
  t.same(membership.heartbeatRequest().consumerGroups[0]?.subscriptions, [{ topic: 'T', expression: 'a||b' }, { topic: retry_topic, expression: '*' }], 'the heartbeat tells the brokers about it');
});

t.test('a retry topic without a route yet is a debug line, not a warning', async (t) => {
  const namesrv = await startFakeServer(t, new Map<number, RequestHandler>([
    [p.request_codes.GET_ROUTE, () => {
      throw new MqError('TOPIC_NOT_FOUND', 'not known to this nameserver');
    }],
    [p.request_codes.SUBSCRIBE_ROUTE, (body) => {
      const request = p.decodeSubscribeRouteRequest(body);
      return p.encodeSubscribeRouteResponse({ subscribedTopics: request.ok ? request.value.topics.length : 0 });
    }],
  ]));
  const warnings: string[] = [];
  const debug: string[] = [];
  const consumer = new Consumer({
    namesrv: namesrv.address, group: 'G', subscriptions: [{ topic: 'T' }], instanceName: 'send-back-routes',
    logger: { warn: (line) => warnings.push(line), debug: (line) => debug.push(line) },
  });
  consumer.onMessage(async () => undefined);
  t.teardown(() => consumer.shutdown());
  await consumer.start(); // resolves after the first rebalance tick
  await consumer.shutdown();
  t.ok(warnings.some((line) => line.includes('topic T ')), 'the user\'s topic without a route is a warning');
  t.notOk(warnings.some((line) => line.includes(retry_topic)), 'the retry topic is not');
  t.ok(debug.some((line) => line.includes(retry_topic)), 'it is a debug line');
});
