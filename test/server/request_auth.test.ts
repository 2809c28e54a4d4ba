import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { pino } from 'pino';
import * as p from '../../src/protocol/index.js';
import { ClientConnection } from '../../src/client/remoting/client_connection.js';
import { RequestSigner } from '../../src/client/remoting/request_signer.js';
import { MqError } from '../../src/runtime/errors.js';
import { AclFile } from '../../src/server/auth/acl_file.js';
import { RequestAuth } from '../../src/server/auth/request_auth.js';
import { FrameServer } from '../../src/server/remoting/frame_server.js';
import { RequestRouter } from '../../src/server/remoting/request_router.js';

/**
 * Access control at a real listener (TCP, the framed protocol), with the SDK's signing
 * connection: an allowed request is served; unsigned, unknown-account, wrong-secret,
 * expired, replayed (same connection and another), wrong-address, non-admin admin and
 * denied-resource requests all get ACCESS_DENIED and do nothing; a changed ACL file applies
 * to the next request without a restart.
 */

const quiet = pino({ level: 'silent' });
const window_ms = 5_000;
/** A `resource` request (the handler authorizes PUB on the topic the body names). */
const send_code = p.request_codes.SEND;
/** An `admin` request. */
const admin_code = p.request_codes.CREATE_TOPIC;
/** A `signed` request. */
const route_code = p.request_codes.GET_ROUTE;

function accountJson(accessKey: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { accessKey, secretKey: `${accessKey}-secret`, ...fields };
}

interface AuthServer {
  address: string;
  server_id: string;
  acl_path: string;
  acl_file: AclFile;
  /** Bodies the send handler ran for (what got through). */
  served: string[];
}

async function startAuthServer(t: Test, server_id = 'auth-test'): Promise<AuthServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'mq-auth-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const acl_path = path.join(dir, 'acl.json');
  writeFileSync(acl_path, JSON.stringify({
    accounts: [
      accountJson('producer', { topicPerms: { Orders: 'PUB' } }),
      accountJson('operator', { admin: true }),
      accountJson('elsewhere', { admin: true, allowAddresses: ['10.9.9.9'] }),
    ],
  }));
  const acl_file = AclFile.open(acl_path, quiet);
  t.teardown(() => acl_file.close());
  const served: string[] = [];
  const router = new RequestRouter()
    .on(send_code, (body, context) => {
      const topic = Buffer.from(body).toString();
      context.authorize({ kind: 'topic', topic, perm: 'PUB' });
      served.push(topic);
      return Buffer.from(`stored ${topic}`);
    })
    .on(admin_code, () => Buffer.from('admin done'))
    .on(route_code, () => Buffer.from('route'));
  const auth = new RequestAuth({ acl: () => acl_file.acl, window_ms, log: quiet });
  const server = new FrameServer({ server_id, router, log: quiet, auth });
  const bound = await server.listen('127.0.0.1', 0);
  t.teardown(() => server.close());
  return { address: `127.0.0.1:${bound.port}`, server_id, acl_path, acl_file, served };
}

async function connectAs(t: Test, address: string, accessKey?: string, secretKey = `${accessKey ?? ''}-secret`): Promise<ClientConnection> {
  const connection = await ClientConnection.connect(address, { client_id: `auth-${accessKey ?? 'anonymous'}`, kind: 'CLIENT' });
  t.teardown(() => connection.close());
  if (accessKey !== undefined) connection.signWith({ accessKey, secretKey });
  return connection;
}

async function denial(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'served';
  } catch (error) {
    if (!(error instanceof MqError)) throw error;
    return `${error.code}: ${error.message}`;
  }
}

/** A raw connection that has done HELLO: for sending captured frames again. */
async function rawHello(t: Test, address: string): Promise<{ send(frame: Buffer): Promise<p.Envelope> }> {
  const [host, port] = address.split(':') as [string, string];
  const socket = net.connect({ host, port: Number(port) });
  t.teardown(() => socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  const decoder = new p.FrameDecoder();
  const waiting: Array<(envelope: p.Envelope) => void> = [];
  socket.on('data', (chunk: Buffer) => {
    for (const result of decoder.push(chunk)) if (result.ok) waiting.shift()?.(result.envelope);
  });
  const send = (frame: Buffer): Promise<p.Envelope> => new Promise((resolve) => {
    waiting.push(resolve);
    socket.write(frame);
  });
  await send(p.encodeFrame(p.requestEnvelope(p.request_codes.HELLO, 1, p.encodeHello(p.helloFor('raw', 'CLIENT')))));
  return { send };
}

function errorOf(envelope: p.Envelope): string {
  if (!p.isError(envelope)) return `served: ${Buffer.from(envelope.body).toString()}`;
  const error = p.decodeErrorResponse(envelope.body);
  return error.ok ? `${error.value.code}: ${error.value.message}` : 'unreadable';
}

t.test('signed requests of an allowed account are served; every way of getting it wrong is refused', async (t) => {
  const server = await startAuthServer(t);
  const producer = await connectAs(t, server.address, 'producer');
  t.equal(Buffer.from(await producer.request(send_code, Buffer.from('Orders'))).toString(), 'stored Orders', 'PUB on a permitted topic');
  t.equal(Buffer.from(await producer.request(route_code, Buffer.alloc(0))).toString(), 'route', 'a signed-only request');
  t.match(await denial(producer.request(send_code, Buffer.from('Payments'))), /^ACCESS_DENIED: account "producer" may not use PUB on topic Payments/, 'PUB on a topic not permitted');
  t.match(await denial(producer.request(admin_code, Buffer.alloc(0))), /^ACCESS_DENIED: account "producer" may not send admin request CREATE_TOPIC/, 'an admin request from a non-admin');
  const operator = await connectAs(t, server.address, 'operator');
  t.equal(Buffer.from(await operator.request(admin_code, Buffer.alloc(0))).toString(), 'admin done', 'an admin request from an admin');

  t.match(await denial((await connectAs(t, server.address)).request(send_code, Buffer.from('Orders'))), /^ACCESS_DENIED: the request is not signed/, 'unsigned');
  t.match(await denial((await connectAs(t, server.address, 'stranger')).request(send_code, Buffer.from('Orders'))), /^ACCESS_DENIED: access key "stranger" is unknown here, or the signature does not match/, 'an unknown account');
  t.match(await denial((await connectAs(t, server.address, 'producer', 'wrong-secret')).request(send_code, Buffer.from('Orders'))), /^ACCESS_DENIED: access key "[^"]+" is unknown here, or the signature does not match/, 'a wrong secret');
  t.match(await denial((await connectAs(t, server.address, 'elsewhere')).request(route_code, Buffer.alloc(0))), /^ACCESS_DENIED: account "elsewhere" may not connect from 127\.0\.0\.1/, 'an address the account does not allow');
  t.same(server.served, ['Orders'], 'only the allowed request reached its handler');
});

t.test('an expired timestamp and a replayed request are refused', async (t) => {
  const server = await startAuthServer(t);
  const credentials = { accessKey: 'producer', secretKey: 'producer-secret' };
  const body = Buffer.from('Orders');
  const frameSignedAt = (signer: RequestSigner, correlation_id: number): Buffer =>
    p.encodeFrame(p.requestEnvelope(send_code, correlation_id, body, { headers: signer.headers(send_code, false, body) }));

  const old = new RequestSigner(credentials, server.server_id, () => Date.now() - window_ms - 1_000);
  const raw = await rawHello(t, server.address);
  t.match(errorOf(await raw.send(frameSignedAt(old, 2))), /^ACCESS_DENIED: the request was signed at .* more than 5000 ms from this node's clock/, 'signed before the window');
  const future = new RequestSigner(credentials, server.server_id, () => Date.now() + window_ms + 1_000);
  t.match(errorOf(await raw.send(frameSignedAt(future, 3))), /^ACCESS_DENIED: .* more than 5000 ms/, 'signed after the window');

  const signer = new RequestSigner(credentials, server.server_id);
  const captured = frameSignedAt(signer, 4);
  t.equal(errorOf(await raw.send(captured)), 'served: stored Orders', 'the original request is served');
  t.match(errorOf(await raw.send(captured)), /^ACCESS_DENIED: request 1 of session [0-9a-f]{32} was seen before \(a replay\)/, 'sent again on the same connection: a replay');
  const other = await rawHello(t, server.address);
  t.match(errorOf(await other.send(captured)), /a replay/, 'sent again on another connection: a replay');
  const tampered = Buffer.from(frameSignedAt(signer, 5));
  tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 0x01; // the body's last byte
  t.match(errorOf(await other.send(tampered)), /^ACCESS_DENIED: access key "[^"]+" is unknown here, or the signature does not match/, 'a changed body breaks the signature');
  t.same(server.served, ['Orders'], 'the handler ran once');

  // Another listener (or node) with the same ACL: the captured request names its server.
  const elsewhere = await startAuthServer(t, 'auth-test-2');
  const raw_elsewhere = await rawHello(t, elsewhere.address);
  t.match(errorOf(await raw_elsewhere.send(captured)), /^ACCESS_DENIED: access key "[^"]+" is unknown here, or the signature does not match .*signed for another server/, 'replayed to another server: refused');
  t.same(elsewhere.served, [], 'and nothing ran there');
});

t.test('a changed ACL file applies to the next request, without a restart', async (t) => {
  const server = await startAuthServer(t);
  const newcomer = await connectAs(t, server.address, 'newcomer');
  t.match(await denial(newcomer.request(send_code, Buffer.from('Orders'))), /access key "newcomer" is unknown here, or the signature does not match/, 'not in the ACL yet');
  const producer = await connectAs(t, server.address, 'producer');
  t.equal(Buffer.from(await producer.request(send_code, Buffer.from('Orders'))).toString(), 'stored Orders');
  writeFileSync(server.acl_path, JSON.stringify({ accounts: [accountJson('producer', { topicPerms: { Orders: 'DENY' } }), accountJson('newcomer', { defaultTopicPerm: 'PUB' })] }));
  server.acl_file.watch();
  const applied = await new Promise<boolean>((resolve) => {
    const started = Date.now();
    const poll = (): void => {
      if (server.acl_file.acl.account('newcomer') !== undefined) resolve(true);
      else if (Date.now() - started > 10_000) resolve(false);
      else setTimeout(poll, 50);
    };
    poll();
  });
  t.ok(applied, 'the watcher reloaded the file');
  t.equal(Buffer.from(await newcomer.request(send_code, Buffer.from('Anything'))).toString(), 'stored Anything', 'the new account is served');
  t.match(await denial(producer.request(send_code, Buffer.from('Orders'))), /may not use PUB on topic Orders/, 'the narrowed account is refused, on its open connection');
});
