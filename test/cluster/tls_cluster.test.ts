import net from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import t from 'tap';
import { Producer, type ClientTlsOptions } from '../../src/client/index.js';
import { until } from '../client/client_helpers.js';
import { makeTestCertificates, tls_skip } from '../helpers/test_certificates.js';
import { createHaTopic, ha_test_limits, sendBatchesCountingStatuses, startHaCluster, untilSlaveLogEqualsMaster } from './fixtures/ha_cluster.js';
import { Clients, convergedSnapshots, leaderOf, snapshotGroups, startNamesrvCluster, type NamesrvMember } from './fixtures/namesrv_cluster.js';

/**
 * Clusters whose every node runs TLS: the node-to-node links — broker to nameserver, slave
 * to master (HA port and client port), nameserver to nameserver — dial over TLS and verify
 * each other. A master and a slave under mutual TLS (--tls-ca) replicate the CommitLog byte
 * for byte, with sync replication so that every SEND_OK proves the slave held it; three
 * nameservers sharing one certificate (no --tls-ca: each trusts its own certificate) elect
 * a leader and replicate writes that followers forward to it.
 */

t.setTimeout(200_000);

const topic = 'TlsReplicated';
const queues = 4;
const message_count = 400;

t.test('master and slave under mutual TLS: sync replication acknowledges, the slave\'s CommitLog equals the master\'s', { skip: tls_skip, timeout: 120_000 }, async (t) => {
  const certs = makeTestCertificates(t);
  const tls_flags = ['--tls-cert', certs.server.cert_path, '--tls-key', certs.server.key_path, '--tls-ca', certs.ca_path];
  const cluster = await startHaCluster(t, [...tls_flags, '--replication', 'sync'], { namesrv_flags: tls_flags });
  t.equal(cluster.master.node.ready['tls'], true);
  const tls: ClientTlsOptions = { ca: certs.ca, cert: certs.client.cert, key: certs.client.key };
  await createHaTopic(t, cluster.namesrv, topic, queues, tls);
  const producer = new Producer({ namesrv: cluster.namesrv, tls, sendTimeoutMs: 10_000 });
  t.teardown(() => producer.shutdown());
  await producer.start();
  // The slave connects to the master's HA port once the nameserver names the master: until
  // then a sync send answers SLAVE_NOT_AVAILABLE, so wait for a first SEND_OK.
  await until('a first send acknowledged by the slave over the TLS HA link', async () => {
    const result = await producer.send({ topic, body: 'first' });
    return result.status === 'SEND_OK' ? true : undefined;
  }, ha_test_limits.catch_up_timeout_ms);
  t.same(await sendBatchesCountingStatuses(producer, topic, message_count, 'tls replicated'), { SEND_OK: message_count }, 'every message acknowledged SEND_OK: the slave held it');
  const master_log = await untilSlaveLogEqualsMaster(cluster);
  t.ok(master_log.length > message_count * 20, `the copied log holds the messages (${master_log.length} bytes)`);
  t.notMatch(cluster.slave.node.stderr(), /TLS handshake failed|certificate verify failed/, 'the slave logged no TLS failure');
  t.notMatch(cluster.master.node.stderr(), /TLS handshake failed/, 'the master logged no TLS failure');

  // The HA port itself: TLS with the client certificate required.
  const [ha_host, ha_port] = String(cluster.master.node.ready['ha']).split(':') as [string, string];
  const authorized = await new Promise<boolean>((resolve, reject) => {
    const socket = tlsConnect({ host: ha_host, port: Number(ha_port), ca: certs.ca, cert: certs.client.cert, key: certs.client.key }, () => {
      resolve(socket.authorized);
      socket.destroy();
    });
    socket.on('error', reject);
  });
  t.ok(authorized, 'the HA port presents the node\'s certificate over TLS');
  // Without a client certificate the master ends the handshake (TLS 1.3: with an alert right
  // after the client finished): the connection is refused, whatever the client then sends.
  const refusal = await new Promise<string>((resolve) => {
    const socket = tlsConnect({ host: ha_host, port: Number(ha_port), ca: certs.ca }, () => socket.write('hello without a certificate'));
    socket.on('error', (error) => resolve(error.message));
    socket.on('close', () => resolve('closed without an error'));
  });
  t.match(refusal, /certificate required|alert/i, `a TLS client without a certificate is refused by the HA port (${refusal})`);
  await new Promise<void>((resolve) => {
    const socket = net.connect({ host: ha_host, port: Number(ha_port) }, () => socket.write('plain bytes, no TLS'));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
  });
  await until('the master logs the plaintext connection to its HA port', () => (/"listener":"ha".*TLS handshake failed/.test(cluster.master.node.stderr()) ? true : undefined));
  t.pass('a plaintext connection to the HA port is closed and logged');
});

t.test('three nameservers over TLS with one shared certificate: a leader is elected, forwarded writes reach every registry', { skip: tls_skip, timeout: 120_000 }, async (t) => {
  const certs = makeTestCertificates(t);
  const cluster = await startNamesrvCluster(t, 'sync', ['--tls-cert', certs.server.cert_path, '--tls-key', certs.server.key_path]);
  const clients = new Clients(t, { ca: certs.ca });
  const leader = await leaderOf(clients, cluster);
  t.ok(cluster.members.includes(leader), `elected ${leader.address}`);
  const follower = cluster.members.find((member) => member !== leader) as NamesrvMember;
  for (let index = 0; index < 20; index++) await clients.register(follower.address, index);
  const snapshots = await convergedSnapshots(clients, cluster);
  t.equal(snapshots.length, 3);
  const [first] = snapshots;
  t.ok(snapshots.every((snapshot) => snapshot.state.equals(first?.state ?? Buffer.alloc(0))), 'the three registries are identical');
  t.same(snapshotGroups(first?.state ?? Buffer.alloc(0)).sort(), Array.from({ length: 20 }, (_, index) => `g${index}`).sort(), 'and hold the 20 writes made through a follower');
  for (const member of cluster.members) t.notMatch(member.node?.stderr() ?? '', /TLS handshake failed|certificate verify failed/, `${member.address} logged no TLS failure`);
});
