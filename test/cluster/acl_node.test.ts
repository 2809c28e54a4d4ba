import { readFileSync, writeFileSync } from 'node:fs';
import { startAclStandalone } from './fixtures/acl_standalone.js';
import t from 'tap';
import * as p from '../../src/protocol/index.js';
import { Admin, Consumer, MqError, Producer } from '../../src/client/index.js';
import { ClientConnection } from '../../src/client/remoting/client_connection.js';
import { parseMessageId } from '../../src/client/message_id.js';
import { adminGet, runCli } from '../cli/node_process.js';
import { basicAuthorization } from '../../src/admin/admin_auth.js';
import { until } from '../client/client_helpers.js';

/**
 * Access control on a real standalone node (--acl-file, its own account from MQ_ACCESS_KEY /
 * MQ_SECRET_KEY): the node's broker registers with its nameserver as an admin; an allowed
 * producer and consumer work (every message back, bytes equal); a denied publish and a
 * denied subscribe get ACCESS_DENIED; a client without keys gets nothing; the ACL file,
 * edited on disk, applies without a restart; `admin acl` edits every node, and only for an
 * admin account.
 */

const secret = (name: string): string => `${name}-secret-0123456789`;
const accounts = {
  node: { accessKey: 'node-admin', secretKey: secret('node-admin'), admin: true },
  operator: { accessKey: 'operator', secretKey: secret('operator'), admin: true },
  producer: { accessKey: 'orders-producer', secretKey: secret('orders-producer'), topicPerms: { Orders: 'PUB' } },
  consumer: { accessKey: 'orders-consumer', secretKey: secret('orders-consumer'), topicPerms: { Orders: 'SUB' }, groupPerms: { billing: 'SUB' } },
};
const messages = 50;

function keysOf(account: { accessKey: string; secretKey: string }): { accessKey: string; secretKey: string } {
  return { accessKey: account.accessKey, secretKey: account.secretKey };
}

async function denied(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'allowed';
  } catch (error) {
    if (!(error instanceof MqError)) throw error;
    return `${error.code}: ${error.message}`;
  }
}

t.test('a standalone node with access control', async (t) => {
  const { node, acl_path } = await startAclStandalone(t, Object.values(accounts), accounts.node, ['--acl-window-ms', '30000']);
  const namesrv = node.ready['namesrv'] as string;
  const broker = node.ready['broker'] as string;
  let payments_msg_id = '';

  const operator = new Admin({ namesrv, instanceName: 'acl-operator', ...keysOf(accounts.operator) });
  t.teardown(() => operator.close());
  await until('the broker registered (signed by the node\'s account)', async () => ((await operator.cluster()).groups.length === 1 ? true : undefined));
  await operator.createTopic({ topic: 'Orders', queues: 2 });
  await operator.createTopic({ topic: 'Payments', queues: 2 });

  await t.test('an allowed producer and consumer: every message back, bytes equal', async (t) => {
    const producer = new Producer({ namesrv, instanceName: 'acl-producer', retries: 0, ...keysOf(accounts.producer) });
    await producer.start();
    t.teardown(() => producer.shutdown());
    const bodies = Array.from({ length: messages }, (_, index) => Buffer.from(`order ${index} ${'x'.repeat(index)}`));
    for (const body of bodies) t.equal((await producer.send({ topic: 'Orders', body })).status, 'SEND_OK');
    const received: Buffer[] = [];
    const consumer = new Consumer({ namesrv, instanceName: 'acl-consumer', group: 'billing', subscriptions: [{ topic: 'Orders' }], fromWhere: 'first', ...keysOf(accounts.consumer) });
    consumer.onMessage(async (message) => {
      received.push(message.body);
    });
    t.teardown(() => consumer.shutdown());
    await consumer.start();
    await until(`all ${messages} messages consumed`, () => (received.length >= messages ? true : undefined));
    await consumer.shutdown();
    const sorted = (list: readonly Buffer[]): string[] => list.map((body) => body.toString('hex')).sort();
    t.same(sorted(received), sorted(bodies), 'each message once, bytes equal');
  });

  await t.test('denied publish and subscribe: ACCESS_DENIED, nothing stored or read', async (t) => {
    const producer = new Producer({ namesrv, instanceName: 'acl-producer-denied', retries: 0, ...keysOf(accounts.producer) });
    await producer.start();
    t.teardown(() => producer.shutdown());
    t.match(await denied(producer.send({ topic: 'Payments', body: 'not allowed' })), /^ACCESS_DENIED: account "orders-producer" may not use PUB on topic Payments/, 'publish to a topic without PUB');
    // Subscribing is pulling: the producer's account has no SUB on Orders, nor the group.
    const raw = await ClientConnection.connect(broker, { client_id: 'acl-raw', kind: 'CONSUMER', credentials: keysOf(accounts.producer) });
    t.teardown(() => raw.close());
    const pull = p.encodePullRequest({ consumerGroup: 'billing', topic: 'Orders', queueId: 0, queueOffset: 0, maxCount: 32, maxBytes: 1 << 20, tagExpression: '*', longPollTimeoutMs: 0, commitOffset: null });
    t.match(await denied(raw.request(p.request_codes.PULL, pull)), /^ACCESS_DENIED: account "orders-producer" may not use SUB on topic Orders/, 'pull without SUB on the topic');
    const consumer_raw = await ClientConnection.connect(broker, { client_id: 'acl-raw-consumer', kind: 'CONSUMER', credentials: keysOf(accounts.consumer) });
    t.teardown(() => consumer_raw.close());
    const other_group = p.encodePullRequest({ consumerGroup: 'audit', topic: 'Orders', queueId: 0, queueOffset: 0, maxCount: 32, maxBytes: 1 << 20, tagExpression: '*', longPollTimeoutMs: 0, commitOffset: null });
    t.match(await denied(consumer_raw.request(p.request_codes.PULL, other_group)), /^ACCESS_DENIED: account "orders-consumer" may not use group audit/, 'pull in a group without SUB');
    t.match(await denied(consumer_raw.request(p.request_codes.CREATE_TOPIC, p.encodeCreateTopicRequest({ topic: 'Sneaky', queues: 1, perm: 0 }))), /may not send admin request CREATE_TOPIC/, 'an admin request from a non-admin');
    t.equal((await operator.groupLag('billing', { topic: 'Payments' })).lag, 0, 'nothing was stored in Payments');
  });

  await t.test('a client without keys, or with a wrong secret, is refused at the nameserver', async (t) => {
    const anonymous = new Producer({ namesrv, instanceName: 'acl-anonymous', retries: 0 });
    t.match(await denied(anonymous.start().then(() => anonymous.send({ topic: 'Orders', body: 'x' }))), /ACCESS_DENIED: the request is not signed/);
    await anonymous.shutdown();
    const wrong = new Admin({ namesrv, instanceName: 'acl-wrong', accessKey: accounts.operator.accessKey, secretKey: 'not-the-secret' });
    t.teardown(() => wrong.close());
    t.match(await denied(wrong.cluster()), /ACCESS_DENIED: access key "[^"]+" is unknown here, or the signature does not match/);
  });

  await t.test('the ACL file edited on disk applies without a restart', async (t) => {
    const producer = new Producer({ namesrv, instanceName: 'acl-producer-reload', retries: 0, ...keysOf(accounts.producer) });
    await producer.start();
    t.teardown(() => producer.shutdown());
    const edited = JSON.parse(readFileSync(acl_path, 'utf8')) as { accounts: Array<Record<string, unknown>> };
    for (const account of edited.accounts) if (account['accessKey'] === accounts.producer.accessKey) account['topicPerms'] = { Orders: 'PUB', Payments: 'PUB' };
    writeFileSync(acl_path, JSON.stringify(edited));
    const result = await until('a send to Payments is allowed', async () => {
      try {
        return await producer.send({ topic: 'Payments', body: 'allowed now' });
      } catch (error) {
        if (error instanceof MqError && error.code === 'ACCESS_DENIED') return undefined;
        throw error;
      }
    });
    t.equal(result.status, 'SEND_OK');
    payments_msg_id = result.msgId;
  });

  await t.test('requests that would reach other data through a permitted group or topic are refused', async (t) => {
    const consumer_raw = await ClientConnection.connect(broker, { client_id: 'acl-raw-reach', kind: 'CONSUMER', credentials: keysOf(accounts.consumer) });
    t.teardown(() => consumer_raw.close());
    const offset = parseMessageId(payments_msg_id).commitLogOffset;
    const send_back = p.encodeSendBackRequest({ group: 'billing', commitLogOffset: offset, msgId: payments_msg_id, maxReconsumeTimes: 16 });
    t.match(await denied(consumer_raw.request(p.request_codes.CONSUMER_SEND_BACK, send_back)), /may not use SUB on topic Payments/, 'a send-back of another topic\'s message (it would copy it into the group\'s retry topic)');
    const heartbeat = p.encodeHeartbeatRequest({ clientId: 'sneaky@1', producerGroups: ['payments-tx'], consumerGroups: [] }, consumer_raw.protocol_version);
    t.match(await denied(consumer_raw.request(p.request_codes.HEARTBEAT, heartbeat)), /may not use group payments-tx/, 'joining a producer group without its permission (its members get transaction check-backs)');
    const unregister = p.encodeUnregisterClientRequest({ clientId: 'someone-else', consumerGroups: ['audit'] });
    t.match(await denied(consumer_raw.request(p.request_codes.UNREGISTER_CLIENT, unregister)), /may not use group audit/, 'removing members of a group without its permission');
    const anonymous_http = await adminGet(node, `/api/messages/${payments_msg_id}`);
    t.equal(anonymous_http.status, 401, 'message bodies over HTTP (which the node\'s own account fetches) need an account');
    const non_admin_http = await adminGet(node, `/api/messages/${payments_msg_id}`, { authorization: basicAuthorization(accounts.consumer.accessKey, accounts.consumer.secretKey) });
    t.equal(non_admin_http.status, 403, 'and an admin one: a consumer with SUB on Orders must not read Payments through the node');
    const admin_http = await adminGet(node, `/api/messages/${payments_msg_id}`, { authorization: basicAuthorization(accounts.operator.accessKey, accounts.operator.secretKey) });
    t.same([admin_http.status, (JSON.parse(admin_http.body) as { bodyText: string }).bodyText], [200, 'allowed now'], 'an admin account reads it over HTTP');
    t.equal((await operator.getMessage(payments_msg_id)).body.toString(), 'allowed now', 'an account with SUB reads it through the ACL');
  });

  await t.test('admin acl: an admin edits every node; a non-admin cannot', async (t) => {
    const listed = await operator.aclList();
    t.same(listed.map((outcome) => [outcome.node, outcome.error]), [['namesrv', null], ['broker-a/0', null]], 'both nodes of the process answer (the nameserver and the broker)');
    t.ok(listed.every((outcome) => outcome.accounts?.every((account) => account.secretKey === undefined)), 'no secret is listed');
    const late = { accessKey: 'late-app', secretKey: secret('late-app'), topicPerms: { Orders: 'PUB' as const } };
    t.same((await operator.aclUpsert(late)).map((outcome) => outcome.error), [null, null]);
    const late_producer = new Producer({ namesrv, instanceName: 'acl-late', retries: 0, ...keysOf(late) });
    await late_producer.start();
    t.teardown(() => late_producer.shutdown());
    t.equal((await late_producer.send({ topic: 'Orders', body: 'from a new account' })).status, 'SEND_OK', 'the new account works at once');
    const file = JSON.parse(readFileSync(acl_path, 'utf8')) as { accounts: Array<{ accessKey: string }> };
    t.ok(file.accounts.some((account) => account.accessKey === 'late-app'), 'and is in the file');

    const sneaky = new Admin({ namesrv, instanceName: 'acl-sneaky', ...keysOf(accounts.producer) });
    t.teardown(() => sneaky.close());
    const refused = await sneaky.aclUpsert({ accessKey: 'sneaky', secretKey: secret('sneaky'), admin: true });
    t.ok(refused.every((outcome) => /^ACCESS_DENIED/.test(outcome.error ?? '')), 'a non-admin is refused by every node');

    const cli = await runCli(t, ['admin', 'acl', 'delete', 'late-app', '--namesrv', namesrv, '--access-key', accounts.operator.accessKey], { MQ_SECRET_KEY: accounts.operator.secretKey });
    t.equal(cli.code, 0, cli.stderr);
    t.match(cli.stdout, /namesrv .* done/);
    t.match(await denied(late_producer.send({ topic: 'Orders', body: 'deleted' })), /ACCESS_DENIED: access key "late-app" is unknown here, or the signature does not match/, 'the deleted account is refused');
  });
});
