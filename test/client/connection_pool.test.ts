import t from 'tap';
import * as p from '../../src/protocol/index.js';
import { ConnectionPool } from '../../src/client/connection_pool.js';
import { MqError } from '../../src/runtime/errors.js';
import type { RequestHandler } from '../../src/server/remoting/request_router.js';
import { startFakeServer, until } from './client_helpers.js';
import { freePort } from '../../src/runtime/free_ports.js';

/**
 * The connection pool against fake servers: one connection per address shared by every
 * lease of an instance, a lease's close failing only its own requests, the last close
 * closing the connections, reconnects on demand and backoff after failed connects.
 */

const echo = p.request_codes.SEND;
const held = p.request_codes.PULL;
const timeout_ms = 2_000;

/** A server that echoes SEND bodies and holds PULLs until `release()` is called. */
async function echoServer(t: Parameters<typeof startFakeServer>[0], port = 0) {
  const waiting: Array<() => void> = [];
  const server = await startFakeServer(t, new Map<number, RequestHandler>([
    [echo, (body) => body],
    [held, (body) => new Promise<Uint8Array>((resolve) => waiting.push(() => resolve(body)))],
  ]), port);
  return { ...server, release: () => waiting.splice(0).forEach((resolve) => resolve()), waiting: () => waiting.length };
}


t.test('leases of one instance share one connection per address; instances do not', async (t) => {
  const server = await echoServer(t);
  const first = ConnectionPool.lease({ instance_name: 'pool-share', owner: 'producer' });
  const second = ConnectionPool.lease({ instance_name: 'pool-share', owner: 'consumer' });
  const other = ConnectionPool.lease({ instance_name: 'pool-other', owner: 'admin' });
  t.teardown(() => [first, second, other].forEach((lease) => lease.close()));
  const replies = await Promise.all([first, second, other, first, second].map((lease, index) => lease.request(server.address, echo, Buffer.from(`m${index}`), { timeout_ms })));
  t.same(replies.map((reply) => Buffer.from(reply).toString()), ['m0', 'm1', 'm2', 'm3', 'm4'], 'each reply reaches its own caller');
  t.equal(server.connections.size, 2, 'two connections: one for instance pool-share, one for pool-other');
  t.equal(first.client_id, second.client_id, 'leases of one instance share the client id');
  t.not(first.client_id, other.client_id, 'another instance has another client id');
  t.match(first.client_id, /@\d+@pool-share$/, 'the client id is host@pid@instance');
});

t.test("closing a lease rejects only its own pending requests; the last close closes the connections", async (t) => {
  const server = await echoServer(t);
  const closing = ConnectionPool.lease({ instance_name: 'pool-close', owner: 'producer' });
  const staying = ConnectionPool.lease({ instance_name: 'pool-close', owner: 'consumer' });
  const doomed = [closing.request(server.address, held, Buffer.from('a'), { timeout_ms }), closing.request(server.address, held, Buffer.from('b'), { timeout_ms })];
  const kept = staying.request(server.address, held, Buffer.from('kept'), { timeout_ms });
  const doomed_outcomes = Promise.allSettled(doomed);
  await until('the server holds three requests', () => (server.waiting() === 3 ? true : undefined));
  closing.close();
  const settled = await doomed_outcomes;
  t.same(settled.map((outcome) => (outcome.status === 'rejected' ? (outcome.reason as MqError).code : 'fulfilled')), ['SHUTTING_DOWN', 'SHUTTING_DOWN'], "the closed lease's requests reject with SHUTTING_DOWN");
  await t.rejects(closing.request(server.address, echo, Buffer.from('x'), { timeout_ms }), { code: 'SHUTTING_DOWN' }, 'a closed lease refuses new requests');
  server.release();
  t.equal(Buffer.from(await kept).toString(), 'kept', "the other lease's request on the same connection completes");
  t.equal(server.connections.size, 1, 'the shared connection stays open for the remaining lease');
  staying.close();
  await until('the last close closes the connection', () => (server.connections.size === 0 ? true : undefined));
  t.pass('no connection left');
});

t.test('a dropped connection fails its requests with BROKER_UNAVAILABLE and is reopened on demand', async (t) => {
  const server = await echoServer(t);
  const lease = ConnectionPool.lease({ instance_name: 'pool-drop', owner: 'consumer' });
  t.teardown(() => lease.close());
  const disconnects: string[] = [];
  const connects: string[] = [];
  lease.onDisconnect((address, error) => disconnects.push(`${address} ${error.code}`));
  lease.onConnect((address) => connects.push(address));
  const pending = lease.request(server.address, held, Buffer.from('x'), { timeout_ms });
  await until('the server holds the request', () => (server.waiting() === 1 ? true : undefined));
  for (const connection of server.connections) connection.close();
  await t.rejects(pending, { code: 'BROKER_UNAVAILABLE' }, 'the pending request fails with BROKER_UNAVAILABLE');
  t.same(disconnects, [`${server.address} BROKER_UNAVAILABLE`], 'onDisconnect heard it');
  t.equal(Buffer.from(await lease.request(server.address, echo, Buffer.from('again'), { timeout_ms })).toString(), 'again', 'the next request reconnects');
  t.same(connects, [server.address, server.address], 'onConnect heard both connects');
});

t.test('pushes from a server reach every lease of the instance', async (t) => {
  const server = await echoServer(t);
  const first = ConnectionPool.lease({ instance_name: 'pool-push', owner: 'producer' });
  const second = ConnectionPool.lease({ instance_name: 'pool-push', owner: 'consumer' });
  t.teardown(() => [first, second].forEach((lease) => lease.close()));
  const heard: string[] = [];
  first.onPush((address, push) => heard.push(`first ${push.code} ${address === server.address}`));
  second.onPush(() => {
    throw new Error('a listener that throws disturbs nobody');
  });
  second.onPush((_address, push) => heard.push(`second ${push.code}`));
  await first.request(server.address, echo, Buffer.from('open'), { timeout_ms });
  const notice = p.encodeRouteChangedNotification({ topic: 'T', routeVersion: 2, brokerNames: ['a'] });
  for (const connection of server.connections) connection.push(p.request_codes.ROUTE_CHANGED, notice);
  await until('both leases heard the push', () => (heard.length === 2 ? true : undefined));
  t.same(heard.sort(), [`first ${p.request_codes.ROUTE_CHANGED} true`, `second ${p.request_codes.ROUTE_CHANGED}`], 'each lease got it once');
});

t.test('after a failed connect, demands fail fast until the backoff passes, then connect', async (t) => {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const lease = ConnectionPool.lease({ instance_name: 'pool-backoff', owner: 'producer' });
  t.teardown(() => lease.close());
  await t.rejects(lease.request(address, echo, Buffer.from('x'), { timeout_ms }), { code: 'BROKER_UNAVAILABLE', message: /could not connect/ }, 'nothing listens: BROKER_UNAVAILABLE');
  await t.rejects(lease.request(address, echo, Buffer.from('x'), { timeout_ms }), { code: 'BROKER_UNAVAILABLE', message: /next attempt is in \d+ ms/ }, 'at once again: refused without a connect, saying when the next attempt is');
  const server = await echoServer(t, port);
  const reply = await until('a request succeeds once the backoff passed', async () => Buffer.from(await lease.request(address, echo, Buffer.from('back'), { timeout_ms })).toString());
  t.equal(reply, 'back', 'connected to the server that came up');
  t.equal(server.connections.size, 1, 'one connection');
});
