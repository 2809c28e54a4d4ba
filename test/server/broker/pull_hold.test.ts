/**
 * What one connection can make the broker hold or build: long polls (pull_hold_limits
 * .held_per_connection_max) and reply bytes (server_connection_limits
 * .reply_bytes_reserved_max). A broker in this process, real sockets.
 */
import net from 'node:net';
import t from 'tap';
import * as p from '../../../src/protocol/index.js';
import { pull_hold_limits } from '../../../src/server/broker/pull_hold.js';
import { server_connection_limits } from '../../../src/server/remoting/remoting_limits.js';
import { tempDir } from '../../storage/commit_log_helpers.js';
import { createTopic, pull, pullRequest, send, sendRequest, startBroker } from './broker_helpers.js';

async function until(what: string, check: () => boolean, timeout_ms = 10_000): Promise<void> {
  const deadline_ms = performance.now() + timeout_ms;
  while (!check()) {
    if (performance.now() > deadline_ms) throw new Error(`${what}: not within ${timeout_ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

t.test('one connection holds at most held_per_connection_max long polls; more are answered empty at once', async (t) => {
  const broker = await startBroker(t, tempDir(t));
  const greedy = await broker.client('greedy');
  const other = await broker.client('other');
  await createTopic(greedy, 'Held', 1);
  const over = 40;
  const long_poll_ms = 20_000;
  const started_ms = performance.now();
  const pulls = Array.from({ length: pull_hold_limits.held_per_connection_max + over }, () =>
    pull(greedy, pullRequest('Held', 0, 0, { longPollTimeoutMs: long_poll_ms }), long_poll_ms + 10_000).then((reply) => ({ reply, at_ms: performance.now() - started_ms })),
  );
  await until('the hold fills', () => broker.heldPulls() >= pull_hold_limits.held_per_connection_max);
  t.equal(broker.heldPulls(), pull_hold_limits.held_per_connection_max, `the broker holds ${pull_hold_limits.held_per_connection_max} pulls of that connection, not ${pull_hold_limits.held_per_connection_max + over}`);

  // The same connection still has room for other requests, and another connection for its polls.
  t.equal((await send(greedy, sendRequest('Held', 0, Buffer.from('still served')))).status, 'SEND_OK', 'the greedy connection can still send (the hold is below its in-flight bound)');
  const woken = await Promise.all(pulls);
  const empty = woken.filter(({ reply }) => reply.status === 'NO_NEW_MSG');
  const found = woken.filter(({ reply }) => reply.status === 'FOUND');
  t.equal(empty.length, over, `${over} pulls over the bound were answered NO_NEW_MSG`);
  t.ok(empty.every(({ at_ms }) => at_ms < long_poll_ms / 2), 'at once, not after their poll time');
  t.equal(found.length, pull_hold_limits.held_per_connection_max, 'every held pull was answered by the send, with the message');
  t.ok(found.every(({ reply }) => reply.messages[0]?.body.toString() === 'still served'), 'each with that message');

  const held_other = pull(other, pullRequest('Held', 0, 1, { longPollTimeoutMs: long_poll_ms }), long_poll_ms + 10_000);
  await until('the other connection\'s pull is held', () => broker.heldPulls() === 1);
  await send(other, sendRequest('Held', 0, Buffer.from('second')));
  t.equal((await held_other).status, 'FOUND', 'another connection\'s long poll is held and answered as before');
});

t.test('a connection that closes gives its held pulls back at once', async (t) => {
  const broker = await startBroker(t, tempDir(t));
  const leaving = await broker.client('leaving');
  await createTopic(leaving, 'Gone', 1);
  for (let i = 0; i < 100; i++) void pull(leaving, pullRequest('Gone', 0, 0, { longPollTimeoutMs: 20_000 }), 30_000).catch(() => undefined);
  await until('100 pulls held', () => broker.heldPulls() === 100);
  leaving.close();
  await until('the hold is empty', () => broker.heldPulls() === 0, 2_000);
  t.equal(broker.heldPulls(), 0, 'released when the connection closed, not 20 s later');
});

/**
 * Sends HELLO and `requests` in one write, so that the server reads them in one chunk and
 * starts them all before it writes a reply; resolves with every reply after HELLO's.
 */
async function together(address: string, requests: Array<[number, Buffer]>): Promise<p.Envelope[]> {
  const [host, port] = address.split(':') as [string, string];
  const socket = net.connect({ host, port: Number(port) });
  await new Promise((resolve) => socket.once('connect', resolve));
  const decoder = new p.FrameDecoder();
  const replies: p.Envelope[] = [];
  socket.on('data', (chunk: Buffer) => {
    for (const result of decoder.push(chunk)) if (result.ok) replies.push(result.envelope);
  });
  const hello = p.encodeFrame(p.requestEnvelope(p.request_codes.HELLO, 1, p.encodeHello(p.helloFor('together', 'CLIENT'))));
  socket.write(Buffer.concat([hello, ...requests.map(([code, body], index) => p.encodeFrame(p.requestEnvelope(code, 2 + index, body)))]));
  await until('every reply', () => replies.length === 1 + requests.length, 20_000);
  socket.destroy();
  return replies.slice(1);
}

const errorCodeOf = (reply: p.Envelope): string => {
  const error = p.decodeErrorResponse(reply.body);
  return error.ok ? error.value.code : 'unreadable';
};

t.test('requests read together build at most reply_bytes_reserved_max of replies at once; pulls past it are answered empty, lookups BUSY', async (t) => {
  const broker = await startBroker(t, tempDir(t));
  const client = await broker.client('bulk');
  await createTopic(client, 'Bulk', 1);
  // Under the test store's 1 MiB segments; 30 of them nearly fill one 8 MiB pull.
  const body_bytes = 256 << 10;
  const messages = 30;
  for (let i = 0; i < messages; i++) await send(client, sendRequest('Bulk', 0, Buffer.alloc(body_bytes, i)));
  await until('all messages dispatched', () => (broker.store.reader.window('Bulk', 0)?.max_offset ?? 0) === messages);

  // 64 pulls of 7.5 MiB each would be 480 MiB of replies built before the first is written.
  const burst = 64;
  const pull_body = p.encodePullRequest(pullRequest('Bulk', 0, 0, { maxCount: 1_024, maxBytes: 8 << 20 }));
  const replies = (await together(broker.address, Array.from({ length: burst }, () => [p.request_codes.PULL, pull_body] as [number, Buffer])))
    .map((reply) => p.decodePullResponse(reply.body))
    .map((decoded) => (decoded.ok ? decoded.value : undefined));
  const found = replies.filter((reply) => reply?.status === 'FOUND');
  const empty = replies.filter((reply) => reply?.status === 'NO_NEW_MSG');
  const per_reply_bytes = messages * body_bytes;
  const fit = Math.floor(server_connection_limits.reply_bytes_reserved_max / per_reply_bytes);
  t.equal(found.length + empty.length, burst, 'every pull was answered, FOUND or empty');
  t.ok(found.length >= 1 && found.length <= fit, `${found.length} full replies of ${(per_reply_bytes / 2 ** 20).toFixed(1)} MiB were built together (at most ${fit} fit the ${server_connection_limits.reply_bytes_reserved_max >> 20} MiB budget)`);
  t.ok(found.every((reply) => reply?.messages.length === messages && reply.messages.every((message, i) => message.body.equals(Buffer.alloc(body_bytes, i)))), 'the full ones hold every message, bytes equal');
  t.ok(empty.every((reply) => reply?.nextOffset === 0 && reply.messages.length === 0), 'the empty ones leave the consumer where it was');
  const again = await pull(client, pullRequest('Bulk', 0, 0, { maxCount: 1_024, maxBytes: 8 << 20 }));
  t.equal(again.messages.length, messages, 'once written, the budget is free again');

  // A message looked up by id copies its body too.
  const lookup_body_bytes = 900 << 10;
  const sent = await send(client, sendRequest('Bulk', 0, Buffer.alloc(lookup_body_bytes, 7)));
  const lookup = p.encodeGetMessageRequest({ msgId: sent.msgId });
  const lookups = (await together(broker.address, Array.from({ length: 64 }, () => [p.request_codes.GET_MESSAGE, lookup] as [number, Buffer])))
    .map((reply) => (p.isError(reply) ? errorCodeOf(reply) : 'OK'));
  const answered = lookups.filter((code) => code === 'OK').length;
  t.ok(answered >= 1 && answered <= Math.floor(server_connection_limits.reply_bytes_reserved_max / lookup_body_bytes), `64 lookups of a 900 KiB message together: ${answered} answered`);
  t.ok(lookups.every((code) => code === 'OK' || code === 'BUSY') && lookups.includes('BUSY'), 'the others BUSY');
});
