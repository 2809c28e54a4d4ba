import net from 'node:net';
import t, { type Test } from 'tap';
import { pino } from 'pino';
import { encodeFrame, encodeHello, frame_bytes_max, helloFor, request_codes, requestEnvelope, FrameDecoder, isError } from '../../src/protocol/index.js';
import { ClientConnection } from '../../src/client/remoting/client_connection.js';
import { MqError } from '../../src/runtime/errors.js';
import { FrameServer } from '../../src/server/remoting/frame_server.js';
import { RequestRouter } from '../../src/server/remoting/request_router.js';

const quiet = pino({ level: 'silent' });
const echo_code = request_codes.SEND;
const failing_code = request_codes.PULL;
const big_code = request_codes.GET_ROUTE;
const oversize_code = request_codes.GET_TOPIC_LIST;

async function startServer(t: Test): Promise<{ server: FrameServer; address: string }> {
  const router = new RequestRouter()
    .on(echo_code, (body) => body)
    .on(failing_code, () => {
      throw new MqError('TOPIC_NOT_FOUND', 'no topic like that');
    })
    .on(big_code, () => Buffer.alloc(1 << 20, 7))
    .on(oversize_code, () => Buffer.alloc(frame_bytes_max + 1, 1));
  const server = new FrameServer({ server_id: 'test', router, log: quiet });
  const bound = await server.listen('127.0.0.1', 0);
  t.teardown(() => server.close());
  return { server, address: `127.0.0.1:${bound.port}` };
}

async function connect(t: Test, address: string): Promise<ClientConnection> {
  const client = await ClientConnection.connect(address, { client_id: 'test-client', kind: 'CLIENT' });
  t.teardown(() => client.close());
  return client;
}

/** A raw socket that records what the server sends back and whether it closed. */
async function rawSocket(t: Test, address: string): Promise<{ socket: net.Socket; replies: ReturnType<FrameDecoder['push']>; closed: Promise<void> }> {
  const [host, port] = address.split(':') as [string, string];
  const socket = net.connect({ host, port: Number(port) });
  t.teardown(() => socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  const decoder = new FrameDecoder();
  const replies: ReturnType<FrameDecoder['push']> = [];
  socket.on('data', (chunk: Buffer) => replies.push(...decoder.push(chunk)));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, replies, closed };
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

t.test('1,000 concurrent requests on one connection: every reply matched to its request', async (t) => {
  const { address } = await startServer(t);
  const client = await connect(t, address);
  const bodies = Array.from({ length: 1_000 }, (_, i) => Buffer.from(`request ${i} `.repeat(1 + (i % 50))));
  const replies = await Promise.all(bodies.map((body) => client.request(echo_code, body)));
  t.ok(replies.every((reply, i) => Buffer.from(reply).equals(bodies[i] as Buffer)), 'bytes equal');
});

t.test('errors reach the client whole; the connection goes on', async (t) => {
  const { address } = await startServer(t);
  const client = await connect(t, address);
  const failure = await client.request(failing_code, Buffer.alloc(0)).catch((error: MqError) => error);
  t.ok(failure instanceof MqError);
  t.equal((failure as MqError).code, 'TOPIC_NOT_FOUND');
  t.equal((failure as MqError).message, 'no topic like that');
  const unknown = await client.request(9_999, Buffer.alloc(0)).catch((error: MqError) => error);
  t.equal((unknown as MqError).code, 'BAD_REQUEST');
  t.match((unknown as MqError).message, /unknown request code 9999/);
  t.equal(Buffer.from(await client.request(echo_code, Buffer.from('still here'))).toString(), 'still here');
});

t.test('a handler answer larger than a frame is an INTERNAL error to that request; the process and the connection go on', async (t) => {
  const { address } = await startServer(t);
  const client = await connect(t, address);
  await t.rejects(client.request(oversize_code, Buffer.alloc(0)), { code: 'INTERNAL', message: /could not be written.*frame/i });
  t.equal(Buffer.from(await client.request(echo_code, Buffer.from('after'))).toString(), 'after', 'the same connection still answers');
});

t.test('hostile peers lose their own connection and nothing else', async (t) => {
  const { server, address } = await startServer(t);
  const good = await connect(t, address);

  const no_hello = await rawSocket(t, address);
  no_hello.socket.write(encodeFrame(requestEnvelope(echo_code, 5, Buffer.from('x'))));
  await within(no_hello.closed, 5_000, 'close after a request before HELLO');
  t.ok(no_hello.replies.length === 1 && no_hello.replies[0]?.ok && isError(no_hello.replies[0].envelope), 'told why before being closed');

  const oversize = await rawSocket(t, address);
  oversize.socket.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]));
  await within(oversize.closed, 5_000, 'close after an oversize frame');

  const garbage = await rawSocket(t, address);
  garbage.socket.write(encodeFrame(requestEnvelope(request_codes.HELLO, 1, encodeHello(helloFor('raw', 'CLIENT')))));
  // A frame of the right length whose content is not an envelope but whose first fields
  // (code, correlation id) read: answered with an error, the connection stays.
  garbage.socket.write(Buffer.concat([Buffer.from([0, 0, 0, 4]), Buffer.from([20, 14, 0xff, 0xff])]));
  garbage.socket.write(encodeFrame(requestEnvelope(echo_code, 8, Buffer.from('after garbage'))));
  await within((async () => {
    while (garbage.replies.length < 3) await new Promise((resolve) => setTimeout(resolve, 5));
  })(), 5_000, 'three replies');
  const [hello_reply, garbage_reply, echo_reply] = garbage.replies;
  t.ok(hello_reply?.ok && !isError(hello_reply.envelope), 'HELLO accepted');
  t.ok(garbage_reply?.ok && isError(garbage_reply.envelope) && garbage_reply.envelope.correlationId === 7, 'the malformed frame got an error reply with its correlation id');
  t.ok(echo_reply?.ok && Buffer.from(echo_reply.envelope.body).toString() === 'after garbage', 'and the connection served the next request');

  t.equal(Buffer.from(await good.request(echo_code, Buffer.from('unharmed'))).toString(), 'unharmed', 'the well-behaved client never noticed');
  t.ok(server.connection_count >= 2, 'the well-behaved connections are still open');
});

t.test('a client that never reads its replies is disconnected, not buffered without bound', async (t) => {
  const { server, address } = await startServer(t);
  const slow = await rawSocket(t, address);
  slow.socket.pause(); // never reads (and so never notices the reset either: watch the server)
  slow.socket.write(encodeFrame(requestEnvelope(request_codes.HELLO, 1, encodeHello(helloFor('slow', 'CLIENT')))));
  for (let i = 0; i < 200; i++) slow.socket.write(encodeFrame(requestEnvelope(big_code, 10 + i, Buffer.alloc(0))));
  await within((async () => {
    while (server.connection_count === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    while (server.connection_count > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  })(), 20_000, 'disconnect of a peer that does not read 200 MiB of replies');
  t.equal(server.connection_count, 0, 'the server cut the connection at its write-buffer bound');
});

t.test('closing a client rejects what it waits for with SHUTTING_DOWN', async (t) => {
  const router = new RequestRouter().on(echo_code, () => new Promise<Uint8Array>(() => undefined));
  const server = new FrameServer({ server_id: 'test', router, log: quiet });
  const bound = await server.listen('127.0.0.1', 0);
  t.teardown(() => server.close());
  const client = await ClientConnection.connect(`127.0.0.1:${bound.port}`, { client_id: 'c', kind: 'CLIENT' });
  const waiting = client.request(echo_code, Buffer.from('never answered'), { timeout_ms: 30_000 }).catch((error: MqError) => error.code);
  client.close();
  t.equal(await waiting, 'SHUTTING_DOWN');
});
