import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { pino } from 'pino';
import * as p from '../../src/protocol/index.js';
import { ClientConnection } from '../../src/client/remoting/client_connection.js';
import type { Credentials } from '../../src/client/remoting/request_signer.js';
import { MqError } from '../../src/runtime/errors.js';
import { Acl } from '../../src/server/auth/acl.js';
import { AclFile } from '../../src/server/auth/acl_file.js';
import { RequestAuth } from '../../src/server/auth/request_auth.js';
import { accountClient, client_limit_defaults, ClientUsage, type ClientLimits } from '../../src/server/remoting/client_limits.js';
import { FrameServer } from '../../src/server/remoting/frame_server.js';
import { RequestRouter } from '../../src/server/remoting/request_router.js';

/**
 * Limits per client at a real listener: requests in flight per source address (ACL off) and
 * per account (ACL on), over several connections; connections per account; the largest
 * request body of an account; one account per connection. A handler that waits until the
 * test lets it go keeps requests in flight for as long as the test needs, so every count is
 * exact, not timed.
 */

const quiet = pino({ level: 'silent' });
/** Waits until released (keeps a request in flight); answers its body. */
const parked_code = p.request_codes.GET_ROUTE;
/** Answers at once: what a client may still do. */
const echo_code = p.request_codes.SEND;

interface LimitServer {
  address: string;
  server: FrameServer;
  /** Requests parked now, oldest first: release(n) answers the first n. */
  parked: Array<() => void>;
}

async function startServer(t: Test, options: { limits: ClientLimits; auth?: RequestAuth }): Promise<LimitServer> {
  const parked: Array<() => void> = [];
  const router = new RequestRouter()
    .on(parked_code, (body) => new Promise<Uint8Array>((resolve) => parked.push(() => resolve(body))))
    .on(echo_code, (body) => body);
  const server = new FrameServer({ server_id: 'limits-test', router, log: quiet, client_limits: options.limits, ...(options.auth === undefined ? {} : { auth: options.auth }) });
  const bound = await server.listen('127.0.0.1', 0);
  t.teardown(async () => {
    for (const release of parked.splice(0)) release();
    await server.close();
  });
  return { address: `127.0.0.1:${bound.port}`, server, parked };
}

async function connect(t: Test, address: string, credentials?: Credentials): Promise<ClientConnection> {
  const connection = await ClientConnection.connect(address, { client_id: 'limits-client', kind: 'CLIENT', credentials });
  t.teardown(() => connection.close());
  return connection;
}

async function outcome(promise: Promise<Uint8Array>): Promise<string> {
  try {
    return `ok ${Buffer.from(await promise).toString()}`;
  } catch (error) {
    if (!(error instanceof MqError)) throw error;
    return `${error.code}: ${error.message}`;
  }
}

async function until(what: string, check: () => boolean, timeout_ms = 5_000): Promise<void> {
  const deadline = Date.now() + timeout_ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeout_ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

t.test('ClientUsage counts per client and forgets idle ones', async (t) => {
  const usage = new ClientUsage();
  const client = accountClient('team-a', { ...client_limit_defaults, connections_max: 2, requests_in_flight_max: 3 }, undefined);
  t.ok(usage.connect(client));
  t.ok(usage.connect(client));
  t.notOk(usage.connect(client), 'the third connection is over the account\'s 2');
  t.same(usage.openFor(client.key), { connections: 2, requests: 0 });
  for (let index = 0; index < 3; index++) t.ok(usage.startRequest(client));
  t.notOk(usage.startRequest(client), 'the fourth request is over its 3');
  usage.endRequest(client);
  t.ok(usage.startRequest(client), 'room again once one ended');
  for (let index = 0; index < 3; index++) usage.endRequest(client);
  usage.disconnect(client);
  usage.disconnect(client);
  t.equal(usage.clients, 0, 'nothing kept for a client with nothing open');
  t.throws(() => usage.endRequest(client), /gave back more requests than it took/, 'ending more than started is a bug');
});

t.test('an account\'s own limits replace the node\'s, one by one', async (t) => {
  const defaults = client_limit_defaults;
  t.same(accountClient('a', defaults, undefined), { key: 'account a', limits: defaults });
  t.same(accountClient('a', defaults, { heldPulls: 7, requestBytes: 100 }).limits, { ...defaults, held_pulls_max: 7, request_bytes_max: 100 });
  const acl = Acl.parse({ accounts: [{ accessKey: 'abc', secretKey: 'abc-secret', limits: { connections: 3, requestsInFlight: 9 } }] });
  t.same(acl.account('abc')?.limits, { connections: 3, requestsInFlight: 9 });
  t.same(acl.toJson().accounts[0]?.limits, { connections: 3, requestsInFlight: 9 }, 'written back to the file as given');
  t.throws(() => Acl.parse({ accounts: [{ accessKey: 'abc', secretKey: 'abc-secret', limits: { connections: 0 } }] }), /accounts\[0\]\.limits\.connections is 0; use a whole number from 1 to 10000/);
  t.throws(() => Acl.parse({ accounts: [{ accessKey: 'abc', secretKey: 'abc-secret', limits: { heldPulls: 1.5 } }] }), /limits\.heldPulls is 1\.5/);
  t.throws(() => Acl.parse({ accounts: [{ accessKey: 'abc', secretKey: 'abc-secret', limits: { pulls: 3 } }] }), /limits has an unknown field "pulls"/);
  t.throws(() => Acl.parse({ accounts: [{ accessKey: 'abc', secretKey: 'abc-secret', limits: [] }] }), /limits is not an object/);
});

t.test('ACL off: requests in flight are counted per source address, over its connections', async (t) => {
  const server = await startServer(t, { limits: { ...client_limit_defaults, requests_in_flight_max: 3 } });
  const first = await connect(t, server.address);
  const second = await connect(t, server.address);
  const parked = [first.request(parked_code, Buffer.from('a')), second.request(parked_code, Buffer.from('b')), second.request(parked_code, Buffer.from('c'))];
  await until('three requests parked', () => server.parked.length === 3);
  t.match(await outcome(first.request(echo_code, Buffer.from('d'))), /^BUSY: address 127\.0\.0\.1 has 3 requests in flight on this port, its limit/, 'a fourth, on either connection, is BUSY');
  t.match(await outcome(second.request(echo_code, Buffer.from('e'))), /^BUSY: /);
  server.parked.shift()?.();
  t.equal(await outcome(parked[0] as Promise<Uint8Array>), 'ok a', 'the released request is answered');
  t.equal(await outcome(second.request(echo_code, Buffer.from('f'))), 'ok f', 'and one more fits again');
  for (const release of server.parked.splice(0)) release();
  t.same(await Promise.all(parked.slice(1).map(outcome)), ['ok b', 'ok c']);
  await until('nothing counted once all is answered', () => server.server.client_usage.clients === 0);
});

interface AclServer extends LimitServer {
  acl_path: string;
}

const secretOf = (access_key: string): string => `${access_key}-secret-0123`;
const keys = (access_key: string): Credentials => ({ accessKey: access_key, secretKey: secretOf(access_key) });

async function startAclServer(t: Test, accounts: Array<Record<string, unknown>>): Promise<AclServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'mq-client-limits-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const acl_path = path.join(dir, 'acl.json');
  writeFileSync(acl_path, JSON.stringify({ accounts: accounts.map((account) => ({ secretKey: secretOf(String(account['accessKey'])), defaultTopicPerm: 'PUB|SUB', ...account })) }));
  const acl_file = AclFile.open(acl_path, quiet);
  const auth = new RequestAuth({ acl: () => acl_file.current(), window_ms: 30_000, log: quiet });
  return { ...(await startServer(t, { limits: client_limit_defaults, auth })), acl_path };
}

t.test('ACL on: limits per account, from the ACL file', async (t) => {
  const server = await startAclServer(t, [
    { accessKey: 'two-conns', limits: { connections: 2 } },
    { accessKey: 'busy-team', limits: { requestsInFlight: 2 } },
    { accessKey: 'small-bodies', limits: { requestBytes: 1_024 } },
    { accessKey: 'other-team' },
  ]);

  await t.test('connections per account: one over is answered and closed; room again once one closes', async (t) => {
    const first = await connect(t, server.address, keys('two-conns'));
    const second = await connect(t, server.address, keys('two-conns'));
    t.equal(await outcome(first.request(echo_code, Buffer.from('1'))), 'ok 1');
    t.equal(await outcome(second.request(echo_code, Buffer.from('2'))), 'ok 2');
    const third = await connect(t, server.address, keys('two-conns'));
    t.match(await outcome(third.request(echo_code, Buffer.from('3'))), /^BUSY: account "two-conns" has 2 connections open on this port, its limit/);
    t.match(await outcome(third.request(echo_code, Buffer.from('4'))), /^BROKER_UNAVAILABLE/, 'the refused connection was closed');
    t.equal(await outcome((await connect(t, server.address, keys('other-team'))).request(echo_code, Buffer.from('x'))), 'ok x', 'another account is not affected');
    first.close();
    await until('the closed connection uncounted', () => server.server.client_usage.openFor('account two-conns').connections === 1);
    const fourth = await connect(t, server.address, keys('two-conns'));
    t.equal(await outcome(fourth.request(echo_code, Buffer.from('5'))), 'ok 5');
  });

  await t.test('requests in flight per account, over its connections', async (t) => {
    const first = await connect(t, server.address, keys('busy-team'));
    const second = await connect(t, server.address, keys('busy-team'));
    const parked = [first.request(parked_code, Buffer.from('a')), second.request(parked_code, Buffer.from('b'))];
    await until('two requests parked', () => server.parked.length === 2);
    t.match(await outcome(first.request(echo_code, Buffer.from('c'))), /^BUSY: account busy-team has 2 requests in flight on this port, its limit/);
    const other = await connect(t, server.address, keys('other-team'));
    t.equal(await outcome(other.request(echo_code, Buffer.from('d'))), 'ok d', 'another account still gets through');
    for (const release of server.parked.splice(0)) release();
    t.same(await Promise.all(parked.map(outcome)), ['ok a', 'ok b']);
    t.equal(await outcome(second.request(echo_code, Buffer.from('e'))), 'ok e');
  });

  await t.test('the largest request body of an account', async (t) => {
    const connection = await connect(t, server.address, keys('small-bodies'));
    t.equal(await outcome(connection.request(echo_code, Buffer.alloc(1_024, 'y'))), `ok ${'y'.repeat(1_024)}`);
    t.match(await outcome(connection.request(echo_code, Buffer.alloc(1_025, 'y'))), /^MESSAGE_TOO_LARGE: a request body of 1025 bytes is more than account small-bodies may send \(1024\)/);
    t.equal(await outcome(connection.request(echo_code, Buffer.from('small'))), 'ok small', 'the connection goes on');
  });

  await t.test('a connection speaks for one account', async (t) => {
    const connection = await connect(t, server.address, keys('other-team'));
    t.equal(await outcome(connection.request(echo_code, Buffer.from('mine'))), 'ok mine');
    connection.signWith(keys('busy-team'));
    t.match(await outcome(connection.request(echo_code, Buffer.from('theirs'))), /^ACCESS_DENIED: this connection speaks for account other-team; a request of account "busy-team" needs a connection of its own/);
  });

  await t.test('an ACL edit changes an account\'s limits for the next request', async (t) => {
    const accounts = ['two-conns', 'busy-team', 'other-team', 'small-bodies'].map((accessKey) => ({ accessKey, secretKey: secretOf(accessKey), defaultTopicPerm: 'PUB|SUB' }));
    writeFileSync(server.acl_path, JSON.stringify({ accounts: accounts.map((account) => (account.accessKey === 'small-bodies' ? { ...account, limits: { requestBytes: 4_096 } } : account)) }));
    const connection = await connect(t, server.address, keys('small-bodies'));
    t.equal(await outcome(connection.request(echo_code, Buffer.alloc(2_000, 'z'))), `ok ${'z'.repeat(2_000)}`, '2,000 bytes fit the new 4,096');
  });
});
