/**
 * Connections per source address: the limiter's counting and its log (a manual clock), and
 * a FrameServer in this process refusing the connections over the limit before HELLO.
 * The process-level flood is in connection_flood.test.ts.
 */
import net from 'node:net';
import t from 'tap';
import { pino } from 'pino';
import * as p from '../../src/protocol/index.js';
import { ClientConnection } from '../../src/client/remoting/client_connection.js';
import { ManualClock } from '../../src/runtime/clock.js';
import type { Logger } from '../../src/runtime/log.js';
import { ConnectionLimiter } from '../../src/server/remoting/connection_limiter.js';
import { FrameServer } from '../../src/server/remoting/frame_server.js';
import { server_connection_limits } from '../../src/server/remoting/remoting_limits.js';
import { RequestRouter } from '../../src/server/remoting/request_router.js';
import { nodeServerOptions } from '../../src/tls/node_tls.js';
import { makeTestCertificates, tls_skip } from '../helpers/test_certificates.js';

/** A logger that keeps what is warned. */
function recordingLog(): { log: Logger; warnings: Array<Record<string, unknown>> } {
  const warnings: Array<Record<string, unknown>> = [];
  const log = { warn: (fields: Record<string, unknown>) => warnings.push(fields) } as unknown as Logger;
  return { log, warnings };
}

t.test('counts per address; refuses over the limit; frees on release', async (t) => {
  const { log } = recordingLog();
  const limiter = new ConnectionLimiter({ per_address_max: 3, log, clock: new ManualClock() });
  t.same([1, 2, 3].map(() => limiter.admit('10.0.0.1')), [true, true, true], 'three from one address');
  t.notOk(limiter.admit('10.0.0.1'), 'the fourth is refused');
  t.ok(limiter.admit('10.0.0.2'), 'another address has its own count');
  limiter.release('10.0.0.1');
  t.equal(limiter.openFrom('10.0.0.1'), 2, 'a release counts one down');
  t.ok(limiter.admit('10.0.0.1'), 'a release makes room again');
  for (let i = 0; i < 3; i++) limiter.release('10.0.0.1');
  limiter.release('10.0.0.2');
  t.equal(limiter.openFrom('10.0.0.1') + limiter.openFrom('10.0.0.2'), 0, 'an address with nothing open is forgotten');
  t.throws(() => limiter.release('10.0.0.1'), /never admitted/, 'a release without an admit is a bug');
  t.throws(() => new ConnectionLimiter({ per_address_max: 0, log }), /per_address_max/, 'a limit below 1 is a bug (the flag allows 1 and up)');
});

t.test('a refused address is logged once per interval, with the count refused meanwhile', async (t) => {
  const { log, warnings } = recordingLog();
  const clock = new ManualClock(1_000);
  const limiter = new ConnectionLimiter({ per_address_max: 1, log, clock });
  limiter.admit('10.0.0.1');
  for (let i = 0; i < 1_000; i++) limiter.admit('10.0.0.1');
  t.equal(warnings.length, 1, '1,000 refusals, one line');
  t.match(warnings[0], { remote_address: '10.0.0.1', open_connections: 1, connections_per_address_max: 1, refused_unlogged: 0 }, 'naming the address, its count and the limit');
  clock.advance(server_connection_limits.refusal_log_interval_ms - 1);
  limiter.admit('10.0.0.1');
  t.equal(warnings.length, 1, 'still one line within the interval');
  clock.advance(1);
  limiter.admit('10.0.0.1');
  t.equal(warnings.length, 2, 'the next line after the interval');
  t.match(warnings[1], { refused_unlogged: 1_000 }, 'saying how many were refused unlogged');
  t.equal(limiter.refused_total, 1_002, 'every refusal counted');

  // Many refused addresses: the log's memory stays bounded and each address still gets its line.
  const many = new ConnectionLimiter({ per_address_max: 1, log, clock });
  const addresses = server_connection_limits.refusal_log_addresses_max + 10;
  for (let i = 0; i < addresses; i++) {
    const address = `10.1.${i >> 8}.${i & 255}`;
    many.admit(address);
    many.admit(address);
  }
  t.equal(warnings.length, 2 + addresses, 'one line per address');
});

t.test('a FrameServer closes the connections over the limit before HELLO; the others are served', async (t) => {
  const router = new RequestRouter().on(p.request_codes.SEND, (body) => body);
  const server = new FrameServer({ server_id: 'test', router, log: pino({ level: 'silent' }), connections_per_address_max: 3 });
  const bound = await server.listen('127.0.0.1', 0);
  t.teardown(() => server.close());
  const address = `127.0.0.1:${bound.port}`;
  const clients: ClientConnection[] = [];
  t.teardown(() => clients.forEach((client) => client.close()));
  for (let i = 0; i < 3; i++) clients.push(await ClientConnection.connect(address, { client_id: `c${i}`, kind: 'CLIENT' }));
  await t.rejects(ClientConnection.connect(address, { client_id: 'over', kind: 'CLIENT', timeout_ms: 2_000 }), 'the fourth gets no HELLO answer');
  // What the refused peer sees on the wire: the connection closes, nothing was answered.
  const raw = net.connect({ host: '127.0.0.1', port: bound.port });
  raw.on('error', () => undefined);
  let bytes = 0;
  raw.on('data', (chunk: Buffer) => (bytes += chunk.length));
  raw.write(p.encodeFrame(p.requestEnvelope(p.request_codes.HELLO, 1, p.encodeHello(p.helloFor('raw', 'CLIENT')))));
  await new Promise((resolve) => raw.once('close', resolve));
  t.equal(bytes, 0, 'closed without a reply');
  t.equal(server.connection_count, 3, 'three connections open');
  t.equal(Buffer.from(await (clients[0] as ClientConnection).request(p.request_codes.SEND, Buffer.from('still served'))).toString(), 'still served', 'the admitted ones are served');
  (clients.pop() as ClientConnection).close();
  for (let attempt = 0; attempt < 200 && server.connection_count > 2; attempt++) await new Promise((resolve) => setTimeout(resolve, 5));
  clients.push(await ClientConnection.connect(address, { client_id: 'after', kind: 'CLIENT' }));
  t.pass('a closed connection makes room for a new one');
});

t.test('over TLS the limit is applied at TCP accept, before the handshake', { skip: tls_skip }, async (t) => {
  const certs = makeTestCertificates(t);
  const router = new RequestRouter().on(p.request_codes.SEND, (body) => body);
  const server = new FrameServer({
    server_id: 'test-tls', router, log: pino({ level: 'silent' }), connections_per_address_max: 2,
    tls: nodeServerOptions({ cert: certs.server.cert, key: certs.server.key, ca: null }),
  });
  const bound = await server.listen('127.0.0.1', 0);
  t.teardown(() => server.close());
  const address = `127.0.0.1:${bound.port}`;
  const dial = { ca: certs.ca };
  const clients = [
    await ClientConnection.connect(address, { client_id: 'a', kind: 'CLIENT', tls: dial }),
    await ClientConnection.connect(address, { client_id: 'b', kind: 'CLIENT', tls: dial }),
  ];
  t.teardown(() => clients.forEach((client) => client.close()));
  // A raw TCP connection counts too: it holds a place while it would handshake.
  const raw = net.connect({ host: '127.0.0.1', port: bound.port });
  raw.on('error', () => undefined);
  let handshake_bytes = 0;
  raw.on('data', (chunk: Buffer) => (handshake_bytes += chunk.length));
  raw.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05])); // the start of a ClientHello
  await new Promise((resolve) => raw.once('close', resolve));
  t.equal(handshake_bytes, 0, 'the third connection was closed before any TLS byte was answered');
  await t.rejects(ClientConnection.connect(address, { client_id: 'c', kind: 'CLIENT', tls: dial, timeout_ms: 2_000 }), { code: 'BROKER_UNAVAILABLE' }, 'a TLS client over the limit is refused');
  t.equal(Buffer.from(await (clients[1] as ClientConnection).request(p.request_codes.SEND, Buffer.from('over tls'))).toString(), 'over tls', 'the admitted ones are served');
  (clients.pop() as ClientConnection).close();
  for (let attempt = 0; attempt < 200 && server.connection_count > 1; attempt++) await new Promise((resolve) => setTimeout(resolve, 5));
  clients.push(await ClientConnection.connect(address, { client_id: 'd', kind: 'CLIENT', tls: dial }));
  t.pass('a closed TLS connection makes room for a new one');
});
