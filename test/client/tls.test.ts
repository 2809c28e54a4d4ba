import { randomBytes } from 'node:crypto';
import { httpsGet as httpsGetWith } from '../helpers/https_get.js';
import t, { type Test } from 'tap';
import { Admin, Consumer, MqError, Producer, type ClientTlsOptions, type ReceivedMessage } from '../../src/client/index.js';
import { ClientConnection } from '../../src/client/remoting/client_connection.js';
import type { TlsDialOptions } from '../../src/tls/tls_dial.js';
import { runCli } from '../cli/node_process.js';
import { makeTestCertificates, tls_skip, type TestCertificates } from '../helpers/test_certificates.js';
import { startFakeServer, startStandalone, until, type Standalone } from './client_helpers.js';

/**
 * TLS end to end against real nodes (`mq-node --role standalone --tls-cert --tls-key
 * [--tls-ca]`): the SDK sends and receives over TLS, the admin command and the admin HTTP
 * (https) work, and every wrong pairing is refused cleanly — a plaintext client on a TLS
 * port, a client that does not trust the node's certificate, a TLS client on a plaintext
 * port, a client without a certificate where the node requires one — with
 * BROKER_UNAVAILABLE within the connect timeout, while the node goes on serving.
 * Certificates are made at run time (test_certificates.ts); without openssl the tests skip.
 */

const tls_test_limits = {
  /** Connect timeout of the refused attempts: each must fail well within it. */
  refused_connect_timeout_ms: 2_000,
  /** The round trip's messages, of sizes up to `body_bytes_max`. */
  messages: 200,
  body_bytes_max: 8_192,
} as const;

function nodeFlags(certs: TestCertificates, mutual: boolean): string[] {
  return ['--tls-cert', certs.server.cert_path, '--tls-key', certs.server.key_path, ...(mutual ? ['--tls-ca', certs.ca_path] : [])];
}

/** Connects one raw connection and says how it failed (or that it did not). */
async function refusal(address: string, tls: TlsDialOptions | undefined): Promise<{ error: MqError | undefined; elapsed_ms: number }> {
  const started_ms = performance.now();
  try {
    const connection = await ClientConnection.connect(address, { client_id: 'tls-test', kind: 'CLIENT', timeout_ms: tls_test_limits.refused_connect_timeout_ms, tls });
    connection.close();
    return { error: undefined, elapsed_ms: performance.now() - started_ms };
  } catch (error) {
    if (!(error instanceof MqError)) throw error;
    return { error, elapsed_ms: performance.now() - started_ms };
  }
}

function assertRefused(t: Test, outcome: { error: MqError | undefined; elapsed_ms: number }, reason: RegExp, what: string): void {
  t.equal(outcome.error?.code, 'BROKER_UNAVAILABLE', `${what}: refused with BROKER_UNAVAILABLE`);
  t.match(outcome.error?.message ?? '', reason, `${what}: says why (${outcome.error?.message ?? 'no error'})`);
  t.ok(outcome.elapsed_ms < tls_test_limits.refused_connect_timeout_ms + 500, `${what}: within the connect timeout (${Math.round(outcome.elapsed_ms)} ms)`);
}


/**
 * Sends `count` messages of random bytes through a Producer and takes them back through a
 * Consumer, both over TLS; every message must come back with the bytes sent.
 */
async function roundTrip(t: Test, node: Standalone, tls: ClientTlsOptions, topic: string, count: number): Promise<void> {
  const admin = new Admin({ namesrv: node.namesrv, tls, instanceName: `${topic}-admin` });
  t.teardown(() => admin.close());
  await until(`topic ${topic} created over TLS`, () => admin.createTopic({ topic, queues: 4 }));
  const producer = new Producer({ namesrv: node.namesrv, tls, instanceName: `${topic}-producer` });
  t.teardown(() => producer.shutdown());
  await producer.start();
  const sent = new Map<string, Buffer>();
  for (let index = 0; index < count; index++) {
    const body = randomBytes(1 + (index * 97) % tls_test_limits.body_bytes_max);
    const result = await producer.send({ topic, body, keys: [`k${index}`] });
    sent.set(result.msgId, body);
  }
  const received = new Map<string, ReceivedMessage>();
  const consumer = new Consumer({ namesrv: node.namesrv, group: `${topic}-group`, subscriptions: [{ topic }], fromWhere: 'first', tls, instanceName: `${topic}-consumer` });
  consumer.onMessage(async (message) => {
    received.set(message.msgId, message);
  });
  t.teardown(() => consumer.shutdown());
  await consumer.start();
  await until(`all ${count} messages back over TLS`, () => (received.size >= count ? true : undefined));
  let equal = 0;
  for (const [msg_id, body] of sent) if (received.get(msg_id)?.body.equals(body) === true) equal++;
  t.equal(equal, count, `every one of the ${count} messages came back with the bytes sent`);
  t.equal(received.size, count, 'and nothing else');
  const cluster = await admin.cluster();
  t.equal(cluster.groups[0]?.members[0]?.address, node.broker, 'the admin reads the cluster over TLS');
  await consumer.shutdown();
  await producer.shutdown();
  await admin.close();
}

/** GET over https with a client's TLS options (its CA, and its certificate for mutual TLS). */
function httpsGet(url: string, tls: ClientTlsOptions): Promise<{ status: number; body: string }> {
  return httpsGetWith(url, { ca: tls.ca as string, cert: tls.cert, key: tls.key });
}

t.test('a TLS standalone node: the SDK, the admin command and https work; plaintext and untrusted clients are refused cleanly', { skip: tls_skip }, async (t) => {
  const certs = makeTestCertificates(t);
  const node = await startStandalone(t, nodeFlags(certs, false), 'warn');
  t.equal(node.node.ready['tls'], true, 'the ready line says TLS');
  const tls: ClientTlsOptions = { ca: certs.ca };

  await roundTrip(t, node, tls, 'TlsRoundTrip', tls_test_limits.messages);

  const admin_cli = await runCli(t, ['admin', 'cluster', '--namesrv', node.namesrv, '--tls-ca', certs.ca_path, '--json']);
  t.equal(admin_cli.code, 0, `mq-node admin cluster --tls-ca works (${admin_cli.stderr})`);
  t.match(admin_cli.stdout, node.broker, 'and lists the broker');
  const plain_cli = await runCli(t, ['admin', 'cluster', '--namesrv', node.namesrv, '--timeout-ms', '2000']);
  t.equal(plain_cli.code, 1, 'mq-node admin without TLS fails');
  t.match(plain_cli.stderr, /BROKER_UNAVAILABLE: .*connect with the tls option/, 'saying the node may run TLS');

  const health = await httpsGet(`https://${String(node.node.ready['admin'])}/healthz`, tls);
  t.match(health, { status: 200, body: /^ok/ }, 'the admin HTTP answers over https');
  const cluster_view = await httpsGet(`https://${String(node.node.ready['admin'])}/api/cluster`, tls);
  t.equal(cluster_view.status, 200, `the inspector's cluster view reads the node's own nameserver over TLS (${cluster_view.body.slice(0, 200)})`);
  t.match(cluster_view.body, node.broker, 'and shows the broker');
  const inspect = await runCli(t, ['inspect', '--admin', String(node.node.ready['admin']), '--once', '--tls-ca', certs.ca_path]);
  t.equal(inspect.code, 0, `mq-node inspect --tls-ca reads the admin port (${inspect.stderr})`);
  t.match(inspect.stdout, /store\/commit_log/, 'and lists the actors');

  assertRefused(t, await refusal(node.broker, undefined), /protocol handshake .*failed: .*if the server runs TLS/, 'a plaintext client on the TLS broker port');
  assertRefused(t, await refusal(node.namesrv, undefined), /if the server runs TLS/, 'a plaintext client on the TLS nameserver port');
  assertRefused(t, await refusal(node.broker, {}), /certificate verify failed: .*UNABLE_TO_VERIFY_LEAF_SIGNATURE/, 'a client that trusts only the system CAs');
  assertRefused(t, await refusal(node.broker, { ca: certs.other_ca }), /certificate verify failed/, 'a client that trusts another CA');
  assertRefused(t, await refusal(node.broker, { ca: certs.ca, servername: 'elsewhere.example' }), /certificate verify failed: .*ERR_TLS_CERT_ALTNAME_INVALID/, 'a client that expects another name');
  const untrusted = new Admin({ namesrv: node.namesrv, tls: true, instanceName: 'untrusted', requestTimeoutMs: tls_test_limits.refused_connect_timeout_ms });
  t.teardown(() => untrusted.close());
  await t.rejects(untrusted.cluster(), { code: 'BROKER_UNAVAILABLE', message: /certificate verify failed/ }, 'the SDK refuses an untrusted node with a certificate error');

  const plain_server = await startFakeServer(t, new Map());
  assertRefused(t, await refusal(plain_server.address, { ca: certs.ca }), /TLS handshake failed: .*does the server run TLS/, 'a TLS client on a plaintext port');

  await until('the node logged the refused plaintext handshakes', () => (/TLS handshake failed; connection closed/.test(node.node.stderr()) ? true : undefined));
  const lines = node.node.stderr().split('\n').filter((line) => line.includes('TLS handshake failed'));
  t.ok(lines.every((line) => JSON.parse(line).level === 40), `each failed handshake is one warning line (${lines.length})`);
  await roundTrip(t, node, tls, 'TlsAfterRefusals', 10);
});

t.test('mutual TLS (--tls-ca): a client without a certificate is refused, one with a certificate the CA signed works', { skip: tls_skip }, async (t) => {
  const certs = makeTestCertificates(t);
  const node = await startStandalone(t, nodeFlags(certs, true), 'warn');
  const anonymous: ClientTlsOptions = { ca: certs.ca };
  const with_certificate: ClientTlsOptions = { ca: certs.ca, cert: certs.client.cert, key: certs.client.key };

  assertRefused(t, await refusal(node.broker, anonymous), /certificate required.*give tls\.cert and tls\.key/, 'a TLS client without a certificate');
  const anonymous_admin = new Admin({ namesrv: node.namesrv, tls: anonymous, instanceName: 'anonymous', requestTimeoutMs: tls_test_limits.refused_connect_timeout_ms });
  t.teardown(() => anonymous_admin.close());
  await t.rejects(anonymous_admin.cluster(), { code: 'BROKER_UNAVAILABLE', message: /certificate required/ }, 'the SDK without a client certificate is refused');
  await t.rejects(httpsGet(`https://${String(node.node.ready['admin'])}/healthz`, anonymous), 'the admin https refuses a client without a certificate');

  await roundTrip(t, node, with_certificate, 'MutualTls', 50);
  t.match(await httpsGet(`https://${String(node.node.ready['admin'])}/healthz`, with_certificate), { status: 200, body: /^ok/ }, 'the admin https answers a client with a certificate');
  const admin_cli = await runCli(t, ['admin', 'cluster', '--namesrv', node.namesrv, '--tls-ca', certs.ca_path, '--tls-cert', certs.client.cert_path, '--tls-key', certs.client.key_path]);
  t.equal(admin_cli.code, 0, `mq-node admin with a client certificate works (${admin_cli.stderr})`);
  t.match(admin_cli.stdout, node.broker);
  const anonymous_cli = await runCli(t, ['admin', 'cluster', '--namesrv', node.namesrv, '--tls-ca', certs.ca_path, '--timeout-ms', '2000']);
  t.equal(anonymous_cli.code, 1, 'mq-node admin without a client certificate fails');
  t.match(anonymous_cli.stderr, /BROKER_UNAVAILABLE: .*certificate required/);
});

t.test('SDK objects sharing an instance name must share their tls options', { skip: tls_skip }, async (t) => {
  const certs = makeTestCertificates(t);
  const first = new Admin({ namesrv: '127.0.0.1:1', tls: { ca: certs.ca }, instanceName: 'shared' });
  t.teardown(() => first.close());
  const same = new Admin({ namesrv: '127.0.0.1:1', tls: { ca: Buffer.from(certs.ca) }, instanceName: 'shared' });
  t.teardown(() => same.close());
  t.throws(() => new Admin({ namesrv: '127.0.0.1:1', instanceName: 'shared' }), { code: 'BAD_REQUEST', message: /instanceName "shared" is in use by SDK objects with other tls options/ });
  t.throws(() => new Producer({ namesrv: '127.0.0.1:1', tls: { ca: certs.ca, cert: certs.client.cert } }), { code: 'BAD_REQUEST', message: /tls\.cert and tls\.key go together/ });
  t.throws(() => new Producer({ namesrv: '127.0.0.1:1', tls: { ca: 42 as unknown as string } }), { code: 'BAD_REQUEST', message: /tls\.ca must be/ });
});
