/**
 * Floods at a live standalone node (a child process) started with a small
 * --connections-per-address-max: more connections from 127.0.0.1 than the limit on the
 * broker and the nameserver ports, many requests at once on one connection (the in-flight
 * bound), and a frame over the size bound. A normal Producer, connected first, keeps working
 * throughout; the log gets one line per address about the refusals, not one per connection.
 */
import net from 'node:net';
import t, { type Test } from 'tap';
import * as p from '../../src/protocol/index.js';
import { Producer } from '../../src/client/producer.js';
import { server_connection_limits } from '../../src/server/remoting/remoting_limits.js';
import { startNode } from '../cli/node_process.js';
import { tempDir } from '../storage/commit_log_helpers.js';

const flood_limits = {
  /** --connections-per-address-max of the node under test. */
  per_address_max: 20,
  /** Connections opened at once by the flood: well over the limit. */
  flood_connections: 80,
  /** A connection not answered or closed within this is a failure. */
  settle_timeout_ms: 10_000,
  /** Requests written in one go on one connection: more than its in-flight bound. */
  request_flood: 10_000,
} as const;

const refusal_log = 'too many connections from one address';

interface RawConnection {
  socket: net.Socket;
  /** 'accepted': HELLO was answered; 'refused': closed with nothing said. */
  outcome: Promise<'accepted' | 'refused'>;
}

/** Opens a connection and says HELLO; destroyed at teardown. */
function rawHello(t: Test, address: string): RawConnection {
  const [host, port] = address.split(':') as [string, string];
  const socket = net.connect({ host, port: Number(port) });
  t.teardown(() => socket.destroy());
  socket.on('error', () => undefined);
  const decoder = new p.FrameDecoder();
  const outcome = new Promise<'accepted' | 'refused'>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no HELLO answer nor close from ${address} within ${flood_limits.settle_timeout_ms} ms`)), flood_limits.settle_timeout_ms);
    socket.on('data', (chunk: Buffer) => {
      if (decoder.push(chunk).some((result) => result.ok && !p.isError(result.envelope))) {
        clearTimeout(timer);
        resolve('accepted');
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve('refused');
    });
  });
  socket.on('connect', () => socket.write(p.encodeFrame(p.requestEnvelope(p.request_codes.HELLO, 1, p.encodeHello(p.helloFor('flood', 'CLIENT'))))));
  return { socket, outcome };
}

async function flood(t: Test, address: string, count: number): Promise<{ accepted: RawConnection[]; refused: number }> {
  const connections = Array.from({ length: count }, () => rawHello(t, address));
  const outcomes = await Promise.all(connections.map((connection) => connection.outcome));
  return { accepted: connections.filter((_, i) => outcomes[i] === 'accepted'), refused: outcomes.filter((outcome) => outcome === 'refused').length };
}

async function closeAll(connections: RawConnection[]): Promise<void> {
  await Promise.all(connections.map(({ socket }) => new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    socket.destroy();
  })));
}

const refusalLines = (stderr: string, component: string): number =>
  stderr.split('\n').filter((line) => line.includes(refusal_log) && line.includes(`"component":"${component}"`)).length;

t.test('connection and request floods from one address at a live node', async (t) => {
  const node = await startNode(t, [
    '--role', 'standalone', '--port', '0', '--namesrv-port', '0', '--admin-port', '0', '--ha-port', '0', '--grpc-port', '0', '--host', '127.0.0.1',
    '--data', tempDir(t), '--threads', '2', '--log-level', 'warn', '--connections-per-address-max', String(flood_limits.per_address_max),
  ]);
  const broker = node.ready['broker'] as string;
  const namesrv = node.ready['namesrv'] as string;
  // The normal client connects first: one connection to each port.
  const producer = new Producer({ namesrv, instanceName: 'flood-normal' });
  t.teardown(() => producer.shutdown());
  await producer.start();
  let normal_sent = 0;
  const sendNormal = async (): Promise<void> => {
    await producer.send({ topic: 'FloodNormal', body: `normal ${normal_sent}` });
    normal_sent++;
  };
  await sendNormal();

  // Broker port: the producer holds one of the 20.
  const first = await flood(t, broker, flood_limits.flood_connections);
  t.equal(first.accepted.length, flood_limits.per_address_max - 1, `${first.accepted.length} flood connections admitted: the limit less the producer's`);
  t.equal(first.refused, flood_limits.flood_connections - first.accepted.length, `the other ${first.refused} were closed before HELLO`);
  await sendNormal();
  t.pass('the normal producer, connected first, still sends');
  const second = await flood(t, broker, flood_limits.flood_connections);
  t.equal(second.accepted.length, 0, 'a second flood while the first holds the limit gets nothing');
  t.equal(refusalLines(node.stderr(), 'broker'), 1, `${first.refused + second.refused} refused connections, one log line`);

  // The admitted connections still work.
  const probe = first.accepted[0] as RawConnection;
  const replies = new p.FrameDecoder();
  const answered = new Promise<p.Envelope | undefined>((resolve) => {
    probe.socket.on('data', (chunk: Buffer) => {
      for (const result of replies.push(chunk)) if (result.ok && result.envelope.correlationId === 2) resolve(result.envelope);
    });
    probe.socket.once('close', () => resolve(undefined));
  });
  probe.socket.write(p.encodeFrame(p.requestEnvelope(p.request_codes.GET_MAX_OFFSET, 2, p.encodeGetOffsetRequest({ topic: 'FloodNormal', queueId: 0 }))));
  const reply = await answered;
  t.ok(reply !== undefined && !p.isError(reply), 'an admitted flood connection is served');

  // Closing the flood frees the limit.
  await closeAll(first.accepted);
  let third = { accepted: [] as RawConnection[], refused: 0 };
  for (let attempt = 0; attempt < 50; attempt++) {
    third = await flood(t, broker, flood_limits.per_address_max - 1);
    if (third.accepted.length === flood_limits.per_address_max - 1) break;
    await closeAll(third.accepted); // the node had not seen every close yet: try again
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  t.equal(third.accepted.length, flood_limits.per_address_max - 1, 'after the flood closed, as many connections are admitted again');
  await closeAll(third.accepted);

  // Nameserver port: the producer and the node's own broker hold one each.
  const names = await flood(t, namesrv, flood_limits.flood_connections);
  t.equal(names.accepted.length, flood_limits.per_address_max - 2, `nameserver: ${names.accepted.length} admitted (the limit less the producer's and the broker's registration)`);
  t.equal(refusalLines(node.stderr(), 'namesrv'), 1, `nameserver: ${names.refused} refused, one log line`);
  await sendNormal();
  t.pass('the normal producer still sends (its route comes from the flooded nameserver)');
  await closeAll(names.accepted);

  // Many requests at once on one connection: past the in-flight bound they are answered BUSY.
  const busy = rawHello(t, broker);
  t.equal(await busy.outcome, 'accepted', 'a new connection is admitted for the request flood');
  const decoder = new p.FrameDecoder();
  const codes = new Map<string, number>();
  let seen = 0;
  const all_answered = new Promise<void>((resolve) => busy.socket.on('data', (chunk: Buffer) => {
    for (const result of decoder.push(chunk)) {
      if (!result.ok) continue;
      seen++;
      const error = p.isError(result.envelope) ? p.decodeErrorResponse(result.envelope.body) : undefined;
      const code = error === undefined ? 'OK' : error.ok ? error.value.code : 'unreadable';
      codes.set(code, (codes.get(code) ?? 0) + 1);
      if (seen === flood_limits.request_flood) resolve();
    }
  }));
  const request = p.encodeGetOffsetRequest({ topic: 'FloodNormal', queueId: 0 });
  busy.socket.write(Buffer.concat(Array.from({ length: flood_limits.request_flood }, (_, i) => p.encodeFrame(p.requestEnvelope(p.request_codes.GET_MAX_OFFSET, 10 + i, request)))));
  await all_answered;
  t.ok((codes.get('BUSY') ?? 0) > 0 && (codes.get('OK') ?? 0) >= server_connection_limits.in_flight_requests_max, `${flood_limits.request_flood} requests written at once: ${codes.get('OK')} answered, ${codes.get('BUSY')} BUSY (in-flight bound ${server_connection_limits.in_flight_requests_max})`);
  t.equal(codes.get('OK')! + codes.get('BUSY')!, flood_limits.request_flood, 'nothing else, and every request answered');

  // A frame over the size bound closes only its own connection.
  const oversize = rawHello(t, broker);
  t.equal(await oversize.outcome, 'accepted', 'and one for the oversize frame');
  const closed = new Promise((resolve) => oversize.socket.once('close', resolve));
  const prefix = Buffer.alloc(p.frame_length_prefix_bytes);
  prefix.writeUInt32BE(p.frame_bytes_max + 1, 0);
  oversize.socket.write(prefix);
  await closed;
  t.pass('a frame over frame_bytes_max closed that connection');
  await sendNormal();
  t.equal(normal_sent, 4, 'and the normal producer sent every message');
  t.equal((await node.signal('SIGTERM')).code, 0, 'the node stops cleanly');
});
