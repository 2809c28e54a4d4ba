import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t, { type Test } from 'tap';
import { Admin, Producer } from '../../src/client/index.js';
import { replicator_limits } from '../../src/actors/replicator/replicator_limits.js';
import * as p from '../../src/protocol/index.js';
import { until } from '../client/client_helpers.js';
import { tempDir } from '../storage/commit_log_helpers.js';
import { commitLogPrefix, ha_test_limits, sendBatchesCountingStatuses, startHaBroker, startHaCluster, untilSlaveLogEqualsMaster } from './fixtures/ha_cluster.js';

/**
 * The HA port under access control, between real processes. A master and a slave whose node
 * account is an admin of their ACL file replicate under sync replication: the slave's signed
 * HA_HELLO is taken, every SEND_OK was held by the slave, and its CommitLog equals the
 * master's byte for byte. A raw client on the master's HA port — unsigned, signed by a
 * non-admin account, with a wrong secret, or replaying a hello the master took before — is
 * answered ACCESS_DENIED and closed without a byte of the log, each refusal logged with the
 * account and the remote, and the socket is closed at once after the answer (not left
 * half-open until the handshake deadline); a slave whose account the master's ACL lacks logs
 * the refusal; the master serves on, its slave still in sync; and sockets that connect and
 * say nothing take at most two handshake places of their address, only until the deadline:
 * a third from there is closed at once, and the slave replicates on.
 */

t.setTimeout(200_000);

const cluster_name = 'DefaultCluster';
const group = 'ha-group';
const topic = 'HaGuarded';
const queues = 4;
const message_count = 300;
/** The brokers' default CommitLog segment (a hello must name the master's own). */
const segment_bytes = 1 << 30;
const exchange_timeout_ms = 10_000;
/** "Closed at once": well before the handshake deadline (handshake_timeout_ms, 5 s). */
const prompt_close_ms_max = 2_000;
/** A refused client pokes the master this often once the answer is in (refusedExchange). */
const poke_interval_ms = 50;
/** Silent sockets come from this loopback address, not the slave's 127.0.0.1: the handshake
 *  places are counted per address, and the test shows one address's silence costs only it. */
const silent_ip = '127.0.0.2';

interface Keys {
  accessKey: string;
  secretKey: string;
}

const keys = (name: string): Keys => ({ accessKey: name, secretKey: `${name}-secret-0123456789` });
const node = keys('node-admin');
const producer_keys = keys('guarded-producer');
const reader = keys('reader');
/** Admin at the nameserver (it registers), absent from the brokers' ACL: the master refuses its hello. */
const stranger = keys('stranger-replica');

/** What a raw client saw on the HA port. */
interface Exchange {
  frames: p.Envelope[];
  /** The master ended the connection (rather than this client giving up). */
  ended_by_master: boolean;
}

/** Decodes `chunk` into `frames`; on a malformed frame destroys the socket, rejects, and answers false. */
function collectFrames(decoder: p.FrameDecoder, chunk: Buffer, frames: p.Envelope[], socket: net.Socket, reject: (error: unknown) => void): boolean {
  for (const result of decoder.push(chunk)) {
    if (!result.ok) {
      socket.destroy();
      reject(result.error);
      return false;
    }
    frames.push(result.envelope);
  }
  return true;
}

/**
 * Sends `frame` to the HA port at `address` and collects what comes back until the master
 * closes, or until `enough(frames)` says so (then this side closes). Bounded in time.
 */
function haExchange(address: string, frame: Buffer, enough: (frames: readonly p.Envelope[]) => boolean = () => false): Promise<Exchange> {
  const separator = address.lastIndexOf(':');
  return new Promise<Exchange>((resolve, reject) => {
    const frames: p.Envelope[] = [];
    const decoder = new p.FrameDecoder({ frame_bytes_max: 32 << 20 });
    let ended_by_master = false;
    const socket = net.connect({ host: address.slice(0, separator), port: Number(address.slice(separator + 1)) }, () => socket.write(frame));
    const deadline = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the HA port neither answered enough nor closed within ${exchange_timeout_ms} ms (frames: ${frames.map((seen) => seen.code).join(',')})`));
    }, exchange_timeout_ms);
    socket.on('data', (chunk: Buffer) => {
      if (!collectFrames(decoder, chunk, frames, socket, reject)) return;
      if (enough(frames)) socket.destroy();
    });
    socket.on('end', () => {
      ended_by_master = true;
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(deadline);
      resolve({ frames, ended_by_master });
    });
  });
}

/** What a refused client saw, timed from the moment it sent its frame. */
interface TimedRefusal extends Exchange {
  ended_after_ms: number;
  /** When the connection was gone for good (undefined: still open at the bound). */
  closed_after_ms: number | undefined;
}

/**
 * Sends `frame` as haExchange does, but keeps this side open after the master's FIN
 * (allowHalfOpen) and then writes a byte every `poke_interval_ms`. A master that only ended
 * its side still reads them, and the connection stays until its handshake deadline; a master
 * that closed the socket answers the next byte with a reset. So 'close' here times the
 * master's close, not this client's (haExchange ends its side at the FIN, which would close
 * the connection whatever the master did). Bounded: gives up past the deadline plus margin.
 */
function refusedExchange(address: string, frame: Buffer): Promise<TimedRefusal> {
  const separator = address.lastIndexOf(':');
  return new Promise<TimedRefusal>((resolve, reject) => {
    const frames: p.Envelope[] = [];
    const decoder = new p.FrameDecoder({ frame_bytes_max: 32 << 20 });
    let sent_ms = 0;
    let ended_after_ms = -1;
    let poker: NodeJS.Timeout | undefined;
    const socket = net.connect({ host: address.slice(0, separator), port: Number(address.slice(separator + 1)), allowHalfOpen: true }, () => {
      sent_ms = performance.now();
      socket.write(frame);
    });
    const give_up = setTimeout(() => {
      clearInterval(poker);
      socket.destroy();
      resolve({ frames, ended_by_master: ended_after_ms >= 0, ended_after_ms, closed_after_ms: undefined });
    }, replicator_limits.handshake_timeout_ms + exchange_timeout_ms);
    socket.on('data', (chunk: Buffer) => collectFrames(decoder, chunk, frames, socket, reject));
    socket.on('end', () => {
      ended_after_ms = performance.now() - sent_ms;
      poker = setInterval(() => socket.write(Buffer.of(0)), poke_interval_ms);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(give_up);
      clearInterval(poker);
      resolve({ frames, ended_by_master: ended_after_ms >= 0, ended_after_ms, closed_after_ms: performance.now() - sent_ms });
    });
  });
}

/** A raw connection to the HA port that sends nothing, and what the master did with it. */
interface SilentSocket {
  socket: net.Socket;
  /** Bytes the master sent on it. */
  bytes: number;
  ended_by_master: boolean;
  /** Since 'connect', when it closed (undefined while open). */
  closed_after_ms: number | undefined;
  /** Resolves at 'close'. */
  closed: Promise<void>;
}

/** Connects from `local_ip` to the HA port at `address` and stays silent; resolves once connected. */
function openSilent(t: Test, address: string, local_ip: string): Promise<SilentSocket> {
  const separator = address.lastIndexOf(':');
  return new Promise<SilentSocket>((resolve, reject) => {
    const socket = net.connect({ host: address.slice(0, separator), port: Number(address.slice(separator + 1)), localAddress: local_ip });
    t.teardown(() => socket.destroy());
    let connected_ms = 0;
    let closed!: () => void;
    const silent: SilentSocket = { socket, bytes: 0, ended_by_master: false, closed_after_ms: undefined, closed: new Promise<void>((done) => (closed = done)) };
    socket.on('data', (chunk: Buffer) => void (silent.bytes += chunk.length));
    socket.on('end', () => void (silent.ended_by_master = true));
    socket.on('error', reject);
    socket.on('close', () => {
      silent.closed_after_ms = performance.now() - connected_ms;
      closed();
    });
    socket.once('connect', () => {
      connected_ms = performance.now();
      socket.off('error', reject);
      socket.on('error', () => undefined);
      resolve(silent);
    });
  });
}

/** Waits for `silent` to close, at most `timeout_ms`; true when it did. */
async function closedWithin(silent: SilentSocket, timeout_ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([silent.closed.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeout_ms)))]);
  clearTimeout(timer);
  return closed;
}

/** The master's JSON log lines with this message. */
function logLines(stderr: string, msg: string): Array<Record<string, unknown>> {
  return stderr.split('\n').flatMap((line) => {
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      return entry['msg'] === msg ? [entry] : [];
    } catch {
      return [];
    }
  });
}

function helloBody(broker_id: number): Uint8Array {
  return p.encodeHaHelloRequest({ version: p.ha_protocol_version, cluster: cluster_name, brokerName: group, brokerId: broker_id, epoch: 0, maxOffset: 0, segmentBytes: segment_bytes });
}

/** An HA_HELLO frame, signed as a slave signs it when `signer` is given. */
function helloFrame(broker_id: number, signer?: Keys): Buffer {
  const body = helloBody(broker_id);
  const headers = signer === undefined ? {} : p.signatureHeaders(signer.secretKey, {
    server_id: p.haServerId(cluster_name, group),
    code: p.ha_codes.HA_HELLO,
    oneway: false,
    access_key: signer.accessKey,
    timestamp_ms: Date.now(),
    session: Array.from({ length: 32 }, () => Math.floor(Math.random() * 16).toString(16)).join(''),
    seq: 1,
  }, body);
  return p.encodeFrame(p.requestEnvelope(p.ha_codes.HA_HELLO, 1, body, { headers }));
}

/** `CODE: message` of the refusal, after checking it is one error answer (to a frame of `code`) and nothing else. */
function refusalOf(exchange: Exchange, code: number = p.ha_codes.HA_HELLO): string {
  const pushes = exchange.frames.filter((frame) => frame.code === p.ha_codes.HA_PUSH).length;
  if (pushes > 0) return `${pushes} HA_PUSH frames received`;
  if (!exchange.ended_by_master) return 'the master did not close the connection';
  const [answer, ...more] = exchange.frames;
  if (answer === undefined || more.length > 0) return `${exchange.frames.length} frames received`;
  if (answer.code !== code || (answer.flags & p.flag_error) === 0) return `an answer with code ${answer.code}, flags ${answer.flags}`;
  const error = p.decodeErrorResponse(answer.body);
  return error.ok ? `${error.value.code}: ${error.value.message}` : 'an unreadable error';
}

/** The master's log lines `HA handshake refused` for ACCESS_DENIED, parsed. */
function refusalsLogged(stderr: string): Array<Record<string, unknown>> {
  return stderr.split('\n').flatMap((line) => {
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      return entry['msg'] === 'HA handshake refused' && entry['code'] === 'ACCESS_DENIED' ? [entry] : [];
    } catch {
      return [];
    }
  });
}

t.test('the HA port with access control: the signed slave replicates; unsigned, non-admin, wrong-secret and replayed hellos are refused', { timeout: 150_000 }, async (t) => {
  const dir = tempDir(t);
  const namesrv_acl = path.join(dir, 'namesrv-acl.json');
  const broker_acl = path.join(dir, 'broker-acl.json');
  writeFileSync(namesrv_acl, JSON.stringify({ accounts: [{ ...node, admin: true }, { ...producer_keys, topicPerms: { [topic]: 'PUB' } }, { ...stranger, admin: true }] }));
  writeFileSync(broker_acl, JSON.stringify({ accounts: [{ ...node, admin: true }, { ...producer_keys, topicPerms: { [topic]: 'PUB' } }, { ...reader, defaultTopicPerm: 'PUB|SUB', defaultGroupPerm: 'SUB' }] }));
  const acl_flags = (file: string): string[] => ['--acl-file', file, '--acl-window-ms', '30000'];
  const account_flags = (account: Keys): string[] => ['--access-key', account.accessKey, '--secret-key', account.secretKey];
  const cluster = await startHaCluster(t, ['--replication', 'sync', ...acl_flags(broker_acl), ...account_flags(node)], { namesrv_flags: acl_flags(namesrv_acl) });
  const ha_address = String(cluster.master.node.ready['ha']);

  const admin = new Admin({ namesrv: cluster.namesrv, instanceName: 'ha-acl-admin', ...node });
  t.teardown(() => admin.close());
  await until(`topic ${topic} created`, () => admin.createTopic({ topic, queues }));
  const producer = new Producer({ namesrv: cluster.namesrv, instanceName: 'ha-acl-producer', sendTimeoutMs: 10_000, ...producer_keys });
  t.teardown(() => producer.shutdown());
  await producer.start();

  await t.test('the slave\'s signed hello is taken: every SEND_OK is on the slave, its CommitLog equals the master\'s', async (t) => {
    // Until the slave follows, a sync send answers SLAVE_NOT_AVAILABLE: wait for a first SEND_OK.
    await until('a first send acknowledged by the slave', async () => ((await producer.send({ topic, body: 'first' })).status === 'SEND_OK' ? true : undefined), ha_test_limits.catch_up_timeout_ms);
    t.same(await sendBatchesCountingStatuses(producer, topic, message_count, 'guarded'), { SEND_OK: message_count }, 'every message SEND_OK under sync replication: the slave held it');
    const master_log = await untilSlaveLogEqualsMaster(cluster);
    t.ok(master_log.length > message_count * 20, `the copied log holds the messages (${master_log.length} bytes)`);
    t.notMatch(cluster.master.node.stderr(), /ACCESS_DENIED|access denied/, 'the master refused nobody');
    t.notMatch(cluster.slave.node.stderr(), /ACCESS_DENIED|access denied/, 'nobody refused the slave');
  });

  await t.test('a raw client on the HA port: each bad hello is answered ACCESS_DENIED and closed, without a byte of the log', async (t) => {
    t.match(refusalOf(await haExchange(ha_address, helloFrame(7))), /^ACCESS_DENIED: the request is not signed/, 'an unsigned hello');
    t.match(refusalOf(await haExchange(ha_address, helloFrame(7, reader))), /^ACCESS_DENIED: account "reader" is not an admin account/, 'a hello signed by a non-admin account');
    t.match(refusalOf(await haExchange(ha_address, helloFrame(7, { accessKey: node.accessKey, secretKey: 'not-the-secret-key' }))), /^ACCESS_DENIED: access key "[^"]+" is unknown here, or the signature does not match/, 'a hello with a wrong secret');
    t.match(refusalOf(await haExchange(ha_address, p.encodeFrame({ code: p.ha_codes.HA_ACK, correlationId: 1 << 20, flags: p.flag_oneway, headers: {}, body: new Uint8Array(0) })), p.ha_codes.HA_ACK), /^ACCESS_DENIED: the request is not signed/, 'an unsigned HA_ACK as the first frame');

    // A valid hello, as if captured on the wire: the master takes it once (and would stream)...
    const captured = helloFrame(7, node);
    const taken = await haExchange(ha_address, captured, (frames) => frames.length > 0);
    const [answer] = taken.frames;
    t.ok(answer !== undefined && answer.code === p.ha_codes.HA_HELLO && (answer.flags & p.flag_error) === 0, 'the valid hello is answered with the handshake');
    const response = p.decodeHaHelloResponse(answer?.body ?? new Uint8Array(0));
    t.ok(response.ok && response.value.masterOffset > 0, 'naming the master\'s log end');
    // ...and refuses the very same bytes sent again.
    t.match(refusalOf(await haExchange(ha_address, captured)), /^ACCESS_DENIED: .*seen before \(a replay\)/, 'the exact replay of a taken hello');

    // The master logs a refusal reason at most once a second (replicator_limits.log_interval_ms):
    // the unsigned HA_ACK, refused for the unsigned hello's reason a moment after it, may
    // have no line of its own. Every other refusal has its own reason, so its own line.
    const expected = [
      { account: '', reason: /^the request is not signed/ },
      { account: 'reader', reason: /^account "reader" is not an admin account/ },
      { account: 'node-admin', reason: /^access key "node-admin" is unknown here, or the signature does not match/ },
      { account: 'node-admin', reason: /seen before \(a replay\)/ },
    ];
    const refusals = await until('each refusal reason logged', () => {
      const logged = refusalsLogged(cluster.master.node.stderr());
      return expected.every((line) => logged.some((entry) => entry['account'] === line.account && line.reason.test(String(entry['reason'])))) ? logged : undefined;
    });
    t.pass('each refusal reason is logged with the account');
    t.ok(refusals.length === expected.length || refusals.length === expected.length + 1, `one line per reason, the repeated one at most twice (${refusals.length} lines)`);
    t.ok(refusals.every((entry) => String(entry['remote']).startsWith('127.0.0.1:')), 'and the remote');
  });

  await t.test('a slave whose account the master\'s ACL lacks is refused and says why', async (t) => {
    const outsider = await startHaBroker(t, cluster.namesrv, 2, tempDir(t), ['--replication', 'sync', ...acl_flags(broker_acl), ...account_flags(stranger)]);
    await until('the outsider logs the refusal', () => (/the master refused this slave's HA_HELLO \(ACCESS_DENIED\)/.test(outsider.node.stderr()) ? true : undefined), ha_test_limits.catch_up_timeout_ms);
    t.match(outsider.node.stderr(), /access key \\"stranger-replica\\" is unknown here, or the signature does not match/, 'with the master\'s reason');
    t.ok(refusalsLogged(cluster.master.node.stderr()).some((entry) => entry['account'] === stranger.accessKey), 'the master logged it with the account');
    t.equal(commitLogPrefix(outsider.data_dir).length, 0, 'the outsider holds nothing of the log');
    await outsider.node.signal('SIGKILL');
  });

  await t.test('the master serves on: its slave is still in sync', async (t) => {
    const result = await producer.send({ topic, body: 'after the refusals' });
    t.equal(result.status, 'SEND_OK', 'a sync send is acknowledged');
    const master_log = await untilSlaveLogEqualsMaster(cluster, () => true);
    t.ok(master_log.includes(Buffer.from('after the refusals')), 'the slave\'s CommitLog is still the master\'s, the new message included');
  });

  await t.test('a refused hello\'s socket is closed right after the answer, not left half-open until the handshake deadline', async (t) => {
    const refused = await refusedExchange(ha_address, helloFrame(7, reader));
    t.match(refusalOf(refused), /^ACCESS_DENIED: account "reader" is not an admin account/, 'one ACCESS_DENIED answer, then the master\'s FIN');
    t.ok(refused.closed_after_ms !== undefined && refused.closed_after_ms < prompt_close_ms_max, `closed by the master ${refused.closed_after_ms?.toFixed(0) ?? 'never'} ms after the hello (answered at ${refused.ended_after_ms.toFixed(0)} ms), well before the ${replicator_limits.handshake_timeout_ms} ms deadline`);
  });

  await t.test('silent sockets take at most two handshake places of their address, until the deadline; the slave replicates on', async (t) => {
    const cap = replicator_limits.handshakes_per_address_max;
    const silent: SilentSocket[] = [];
    // One after the other: the master accepts connections in the order they were made.
    for (let index = 0; index < cap; index++) silent.push(await openSilent(t, ha_address, silent_ip));
    const one_more = await openSilent(t, ha_address, silent_ip);
    t.ok(await closedWithin(one_more, prompt_close_ms_max), `connection ${cap + 1} from ${silent_ip} is closed within ${prompt_close_ms_max} ms (the deadline is ${replicator_limits.handshake_timeout_ms} ms)`);
    t.same([one_more.bytes, one_more.ended_by_master], [0, true], '...by the master, without a byte');
    t.ok(silent.every((socket) => socket.closed_after_ms === undefined), `the first ${cap} are still open: they hold the places`);
    const closed_at_once = await until('the master logs the connection closed at once', () => {
      const found = logLines(cluster.master.node.stderr(), 'HA connection closed at once: that address has handshakes open already').filter((entry) => entry['remote'] === silent_ip);
      return found.length > 0 ? found : undefined;
    });
    t.equal(closed_at_once[0]?.['handshaking'], cap, `logged with the address and its ${cap} handshakes open`);

    // Another address is not locked out: a signed hello from 127.0.0.1 is taken meanwhile.
    const taken = await haExchange(ha_address, helloFrame(7, node), (frames) => frames.length > 0);
    const [answer] = taken.frames;
    t.ok(answer !== undefined && answer.code === p.ha_codes.HA_HELLO && (answer.flags & p.flag_error) === 0, 'a signed hello from another address is answered with the handshake while they are held');
    const result = await producer.send({ topic, body: 'while silent sockets are held' });
    t.equal(result.status, 'SEND_OK', 'a sync send is acknowledged: the slave still replicates');
    await until('the slave\'s CommitLog equals the master\'s', () => {
      const master = commitLogPrefix(cluster.master.data_dir);
      return master.includes(Buffer.from('while silent sockets are held')) && commitLogPrefix(cluster.slave.data_dir).equals(master) ? true : undefined;
    }, ha_test_limits.catch_up_timeout_ms);
    t.pass('the slave\'s CommitLog equals the master\'s, the new message included');

    // The held places come back at the handshake deadline (checked on the master's 250 ms tick).
    const bound_ms = replicator_limits.handshake_timeout_ms + exchange_timeout_ms;
    const all_closed = await Promise.all(silent.map((socket) => closedWithin(socket, bound_ms)));
    t.same(all_closed, silent.map(() => true), `the silent sockets are closed within ${bound_ms} ms`);
    const after_ms = silent.map((socket) => Math.round(socket.closed_after_ms ?? -1));
    t.ok(after_ms.every((ms) => ms >= replicator_limits.handshake_timeout_ms - replicator_limits.tick_ms), `at the handshake deadline, not before (${after_ms.join(', ')} ms after connecting)`);
    t.ok(silent.every((socket) => socket.bytes === 0 && socket.ended_by_master), 'by the master, without a byte');
    const deadline_closes = await until('the master logs the silent sockets closed', () => {
      const found = logLines(cluster.master.node.stderr(), 'HA connection closed').filter((entry) => String(entry['remote']).startsWith(`${silent_ip}:`));
      return found.length > 0 ? found : undefined;
    });
    t.match(deadline_closes[0]?.['reason'], /^no HA_HELLO within the handshake time/, 'logged with the reason');
  });
});
