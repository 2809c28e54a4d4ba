import t, { type Test } from 'tap';
import * as p from '../../src/protocol/index.js';
import { MqError, Producer, type Message } from '../../src/client/index.js';
import type { RequestHandler } from '../../src/server/remoting/request_router.js';
import { routeData, startFakeServer, until, type FakeServer } from './client_helpers.js';

/**
 * The Producer against fake servers written by the test (a nameserver answering routes,
 * brokers answering SEND as told): what the client refuses without asking anyone, retries
 * and fault avoidance, timeouts, and shutdown with sends under way.
 */

const four_mib = 4 * 1024 * 1024;

function okResult(brokerName: string, queueId: number, offset: number): Uint8Array {
  return p.encodeSendResult({ status: 'SEND_OK', msgId: offset.toString(16).toUpperCase().padStart(40, '0'), brokerName, queueId, queueOffset: offset, commitLogOffset: offset });
}

/** A fake broker whose SEND does `answer`; counts its SENDs. */
async function fakeBroker(t: Test, answer: (request: p.SendRequest) => Promise<Uint8Array> | Uint8Array): Promise<FakeServer> {
  const send: RequestHandler = (body) => {
    const request = p.decodeSendRequest(body);
    if (!request.ok) throw new MqError('BAD_REQUEST', request.error.message);
    return answer(request.value);
  };
  return startFakeServer(t, new Map([[p.request_codes.SEND, send]]));
}

/** A fake nameserver routing `topic` to `brokers` (name -> address), 2 queues each. */
async function fakeNamesrv(t: Test, topic: string, brokers: ReadonlyMap<string, string>): Promise<FakeServer> {
  return startFakeServer(t, new Map<number, RequestHandler>([
    [p.request_codes.GET_ROUTE, (body) => {
      const request = p.decodeGetRouteRequest(body);
      if (!request.ok || request.value.topic !== topic) throw new MqError('TOPIC_NOT_FOUND', 'unknown topic');
      return p.encodeTopicRouteData(routeData(topic, brokers, 2));
    }],
    [p.request_codes.SUBSCRIBE_ROUTE, () => p.encodeSubscribeRouteResponse({ subscribedTopics: 1 })],
  ]));
}

t.test('bad input is refused before any network round trip', async (t) => {
  const namesrv = await fakeNamesrv(t, 'T', new Map());
  const producer = new Producer({ namesrv: namesrv.address, instanceName: 'checks-input' });
  await producer.start();
  t.teardown(() => producer.shutdown());
  const cases: Array<[string, Message, string]> = [
    ['invalid topic name', { topic: 'bad topic!', body: 'x' }, 'BAD_REQUEST'],
    ['empty topic name', { topic: '', body: 'x' }, 'BAD_REQUEST'],
    ['topic name of 128 characters', { topic: 'T'.repeat(128), body: 'x' }, 'BAD_REQUEST'],
    ['body over 4 MiB', { topic: 'T', body: Buffer.alloc(four_mib + 1) }, 'MESSAGE_TOO_LARGE'],
    ['string body over 4 MiB in UTF-8', { topic: 'T', body: 'é'.repeat(four_mib / 2 + 1) }, 'MESSAGE_TOO_LARGE'],
    ['properties over 32 KiB', { topic: 'T', body: 'x', properties: { big: 'v'.repeat(32 * 1024) } }, 'MESSAGE_TOO_LARGE'],
    ['reserved property name', { topic: 'T', body: 'x', properties: { TAGS: 'a' } }, 'BAD_REQUEST'],
    ['property value not a string', { topic: 'T', body: 'x', properties: { n: 1 as unknown as string } }, 'BAD_REQUEST'],
    ['key with a space', { topic: 'T', body: 'x', keys: ['a b'] }, 'BAD_REQUEST'],
    ['tag with a separator', { topic: 'T', body: 'x', tag: 'a||b' }, 'BAD_REQUEST'],
    ['body of the wrong type', { topic: 'T', body: 42 as unknown as string }, 'BAD_REQUEST'],
    ['negative delay', { topic: 'T', body: 'x', delayMs: -1 }, 'BAD_REQUEST'],
    ['delay and deliverAt together', { topic: 'T', body: 'x', delayMs: 1, deliverAt: Date.now() }, 'BAD_REQUEST'],
  ];
  for (const [what, message, code] of cases) {
    await t.rejects(producer.send(message), { name: 'MqError', code }, `send: ${what} -> ${code}`);
  }
  await t.rejects(producer.sendBatch([{ topic: 'A', body: 'x' }, { topic: 'B', body: 'y' }]), { code: 'BAD_REQUEST' }, 'batch mixing topics');
  await t.rejects(producer.sendBatch([]), { code: 'BAD_REQUEST' }, 'empty batch');
  await t.rejects(producer.sendBatch(Array.from({ length: 1025 }, () => ({ topic: 'T', body: 'x' }))), { code: 'BAD_REQUEST' }, 'batch of 1025');
  await t.rejects(producer.sendBatch(Array.from({ length: 5 }, () => ({ topic: 'T', body: Buffer.alloc(1024 * 1024) }))), { code: 'MESSAGE_TOO_LARGE' }, 'batch over 4 MiB');
  t.throws(() => producer.sendOneway({ topic: 'bad topic', body: 'x' }), { code: 'BAD_REQUEST' }, 'sendOneway throws at once on bad input');
  t.same(namesrv.codes, [], 'the nameserver was never asked');
  t.equal(namesrv.connections.size, 0, 'no connection was even opened');

  t.throws(() => new Producer({ namesrv: 'no-port' }), { code: 'BAD_REQUEST' }, 'a namesrv address without a port');
  t.throws(() => new Producer({ namesrv: '127.0.0.1:9876', retries: -1 }), { code: 'BAD_REQUEST' }, 'negative retries');
  t.throws(() => new Producer({ namesrv: '127.0.0.1:9876', group: 'bad group' }), { code: 'BAD_REQUEST' }, 'invalid group name');
  const idle = new Producer({ namesrv: namesrv.address });
  await t.rejects(idle.send({ topic: 'T', body: 'x' }), { code: 'BAD_REQUEST', message: /start/ }, 'send before start() says to start');
});

t.test('a failing broker group is retried elsewhere, then avoided', async (t) => {
  const failing = await fakeBroker(t, () => {
    throw new MqError('BROKER_UNAVAILABLE', 'the store cannot take messages right now');
  });
  let offset = 0;
  const healthy = await fakeBroker(t, (request) => okResult('broker-b', request.queueId, offset++));
  const namesrv = await fakeNamesrv(t, 'T', new Map([['broker-a', failing.address], ['broker-b', healthy.address]]));
  const producer = new Producer({ namesrv: namesrv.address, instanceName: 'checks-retry', retries: 2 });
  await producer.start();
  t.teardown(() => producer.shutdown());
  const results = [];
  for (let index = 0; index < 50; index++) results.push(await producer.send({ topic: 'T', body: `m${index}` }));
  t.ok(results.every((result) => result.brokerName === 'broker-b' && result.status === 'SEND_OK'), 'all 50 sends succeeded on broker-b');
  t.equal(failing.codes.length, 1, 'broker-a was tried once, then avoided');
  t.equal(healthy.codes.length, 50, 'broker-b took every message once');
});

t.test('an error the message causes is not retried', async (t) => {
  const denying = await fakeBroker(t, () => {
    throw new MqError('ACCESS_DENIED', "topic 'T' is not writable on broker broker-a");
  });
  const namesrv = await fakeNamesrv(t, 'T', new Map([['broker-a', denying.address]]));
  const producer = new Producer({ namesrv: namesrv.address, instanceName: 'checks-denied' });
  await producer.start();
  t.teardown(() => producer.shutdown());
  await t.rejects(producer.send({ topic: 'T', body: 'x' }), { code: 'ACCESS_DENIED', message: /not writable/ }, "the broker's error reaches the caller");
  t.equal(denying.codes.length, 1, 'one attempt only');
});

t.test('a broker that never answers: TIMEOUT within sendTimeoutMs', async (t) => {
  const silent = await fakeBroker(t, () => new Promise<Uint8Array>(() => undefined));
  const namesrv = await fakeNamesrv(t, 'T', new Map([['broker-a', silent.address]]));
  const producer = new Producer({ namesrv: namesrv.address, instanceName: 'checks-timeout', sendTimeoutMs: 300, retries: 2 });
  await producer.start();
  t.teardown(() => producer.shutdown());
  const started_ms = performance.now();
  await t.rejects(producer.send({ topic: 'T', body: 'x' }), { code: 'TIMEOUT' }, 'TIMEOUT');
  const elapsed_ms = performance.now() - started_ms;
  t.ok(elapsed_ms >= 290 && elapsed_ms < 2_000, `the budget covers all attempts (${Math.round(elapsed_ms)} ms)`);
});

t.test('shutdown rejects sends under way with SHUTTING_DOWN', async (t) => {
  const silent = await fakeBroker(t, () => new Promise<Uint8Array>(() => undefined));
  const namesrv = await fakeNamesrv(t, 'T', new Map([['broker-a', silent.address]]));
  const producer = new Producer({ namesrv: namesrv.address, instanceName: 'checks-shutdown', sendTimeoutMs: 60_000 });
  await producer.start();
  const pending = Array.from({ length: 3 }, (_, index) => producer.send({ topic: 'T', body: `m${index}` }));
  const outcomes = Promise.allSettled(pending);
  await until('the broker holds three sends', () => (silent.codes.length === 3 ? true : undefined));
  await producer.shutdown();
  const settled = await outcomes;
  // sendTimeoutMs is 60 s: SHUTTING_DOWN, not TIMEOUT, shows they settled at the shutdown.
  t.same(settled.map((outcome) => outcome.status === 'rejected' && outcome.reason instanceof MqError ? outcome.reason.code : outcome.status), ['SHUTTING_DOWN', 'SHUTTING_DOWN', 'SHUTTING_DOWN'], 'every pending send rejected with SHUTTING_DOWN at once, not at its timeout');
  await t.rejects(producer.send({ topic: 'T', body: 'late' }), { code: 'SHUTTING_DOWN' }, 'a send after shutdown');
  await t.rejects(producer.start(), { code: 'SHUTTING_DOWN' }, 'a shut-down producer does not start again');
  await until('its connections are closed', () => (silent.connections.size === 0 && namesrv.connections.size === 0 ? true : undefined));
  t.pass('the producer was the only user of its instance: its connections closed');
});
