import t, { type Test } from 'tap';
import { Admin, Producer, type ReceivedMessage } from '../../src/client/index.js';
import { adminGet, runCli, startNode, type NodeProcess } from '../cli/node_process.js';
import { tempDir } from '../storage/commit_log_helpers.js';
import { client_test_limits, until } from './client_helpers.js';

/**
 * Messages looked up by business key (QUERY_MESSAGE through the broker's key index) on a
 * real standalone node with sync flush: every message with the key, newest first, bodies
 * equal, other topics and keys never mixed in; the limit, the time range and bad input; the
 * same answers from `mq-node admin message query` and `GET /api/messages?topic&key`; and
 * after kill -9 and a restart, the same answers again and new messages indexed.
 */

const orders = 'KeyOrders';
const audit = 'KeyAudit';
const order_sends = 200;
const audit_sends = 20;
const order_keys = 40;
const batch_keys = 7;

function orderKeys(index: number): string[] {
  return [`order-${index % order_keys}`, `batch-${index % batch_keys}`];
}

function standaloneArgs(data_dir: string): string[] {
  return [
    '--role', 'standalone', '--port', '0', '--namesrv-port', '0', '--admin-port', '0', '--ha-port', '0', '--grpc-port', '0', '--host', '127.0.0.1',
    '--data', data_dir, '--threads', '2', '--flush', 'sync', '--heartbeat-interval-ms', String(client_test_limits.heartbeat_interval_ms), '--log-level', 'error',
  ];
}

/** The sent messages (index → body) of `topic` whose keys include `key`, newest first. */
function expectedBodies(topic: string, key: string): string[] {
  const count = topic === orders ? order_sends : audit_sends;
  const bodies: string[] = [];
  for (let index = count - 1; index >= 0; index--) if (orderKeys(index).includes(key)) bodies.push(`${topic}-body-${index}`);
  return bodies;
}

function bodiesOf(messages: readonly ReceivedMessage[]): string[] {
  return messages.map((message) => message.body.toString());
}

async function adminFor(t: Test, node: NodeProcess): Promise<Admin> {
  const admin = new Admin({ namesrv: node.ready['namesrv'] as string });
  t.teardown(() => admin.close());
  return admin;
}

t.test('lookup by key on a standalone node, across kill -9', async (t) => {
  const data_dir = tempDir(t);
  const node = await startNode(t, standaloneArgs(data_dir));
  const namesrv = node.ready['namesrv'] as string;
  const admin = await adminFor(t, node);
  await until('the broker registered', async () => ((await admin.cluster()).groups.length === 1 ? true : undefined));
  await admin.createTopic({ topic: orders, queues: 4 });
  await admin.createTopic({ topic: audit, queues: 2 });

  const producer = new Producer({ namesrv, group: 'key-producer' });
  await producer.start();
  const msg_ids = new Map<string, string>();
  for (let index = 0; index < order_sends; index++) {
    const body = `${orders}-body-${index}`;
    const result = await producer.send({ topic: orders, body, keys: orderKeys(index), properties: { index: String(index) } });
    t.equal(result.status, 'SEND_OK');
    msg_ids.set(body, result.msgId);
  }
  for (let index = 0; index < audit_sends; index++) {
    const body = `${audit}-body-${index}`;
    msg_ids.set(body, (await producer.send({ topic: audit, body, keys: orderKeys(index) })).msgId);
  }
  await producer.shutdown();

  const query = async (using: Admin, topic: string, key: string, extra: { max?: number; beginMs?: number; endMs?: number } = {}): Promise<ReceivedMessage[]> => {
    const found = await using.queryMessages({ topic, key, ...extra });
    t.same(found.unanswered, [], 'every broker group answered');
    return found.messages;
  };
  // The index follows the CommitLog in the background: the last message is there soon after its SEND_OK.
  await until('the last sends are indexed', async () => ((await query(admin, audit, `batch-${(audit_sends - 1) % batch_keys}`))[0]?.body.toString() === `${audit}-body-${audit_sends - 1}` ? true : undefined));

  let order_7: ReceivedMessage[] = [];
  await t.test('every message with the key, newest first, whole', async (t) => {
    order_7 = await query(admin, orders, 'order-7');
    t.same(bodiesOf(order_7), expectedBodies(orders, 'order-7'), 'the five order-7 messages, newest first');
    for (const message of order_7) {
      const index = Number(message.properties['index']);
      t.same([message.topic, message.keys, message.msgId], [orders, orderKeys(index), msg_ids.get(message.body.toString())], `message ${index}: topic, keys and the id its send returned`);
    }
    t.same(bodiesOf(await query(admin, audit, 'order-7')), expectedBodies(audit, 'order-7'), 'the same key in another topic finds only that topic\'s message');
    t.same(bodiesOf(await query(admin, orders, 'batch-3')), expectedBodies(orders, 'batch-3'), 'the second key of each message finds it too (29 messages)');
    t.same(await query(admin, orders, 'order-999'), [], 'a key no message has: none');
    t.same(await query(admin, orders, 'order-7x'), [], 'nor a longer key that starts the same');
  });

  await t.test('limit and time range', async (t) => {
    t.same(bodiesOf(await query(admin, orders, 'batch-3', { max: 10 })), expectedBodies(orders, 'batch-3').slice(0, 10), 'max 10: the ten newest');
    const [newest, , middle] = order_7 as [ReceivedMessage, ReceivedMessage, ReceivedMessage];
    const in_range = order_7.filter((message) => message.storeTimestamp >= middle.storeTimestamp && message.storeTimestamp <= newest.storeTimestamp);
    t.same(bodiesOf(await query(admin, orders, 'order-7', { beginMs: middle.storeTimestamp, endMs: newest.storeTimestamp })), bodiesOf(in_range), 'a store-time range keeps the messages stored within it');
    t.same(await query(admin, orders, 'order-7', { beginMs: newest.storeTimestamp + 1 }), [], 'a range after the newest: none');
  });

  await t.test('bad input is refused with BAD_REQUEST', async (t) => {
    await t.rejects(admin.queryMessages({ topic: orders, key: 'two words' }), { code: 'BAD_REQUEST', message: /without whitespace/ });
    await t.rejects(admin.queryMessages({ topic: orders, key: '' }), { code: 'BAD_REQUEST' });
    await t.rejects(admin.queryMessages({ topic: 'bad topic', key: 'k' }), { code: 'BAD_REQUEST', message: /topic name/ });
    await t.rejects(admin.queryMessages({ topic: orders, key: 'k', max: 0 }), { code: 'BAD_REQUEST', message: /max/ });
    await t.rejects(admin.queryMessages({ topic: orders, key: 'k', max: 65 }), { code: 'BAD_REQUEST', message: /max/ });
    await t.rejects(admin.queryMessages({ topic: orders, key: 'k', beginMs: 10, endMs: 5 }), { code: 'BAD_REQUEST', message: /time range/ });
    await t.rejects(admin.queryMessages({ topic: 'NoSuchKeyTopic', key: 'k' }), { code: 'TOPIC_NOT_FOUND' });
  });

  await t.test('the CLI and the inspector API give the same answer', async (t) => {
    const cli = await runCli(t, ['admin', 'message', 'query', '--namesrv', namesrv, '--topic', orders, '--key', 'order-7', '--json']);
    t.equal(cli.code, 0, cli.stderr);
    const printed = JSON.parse(cli.stdout) as { messages: Array<{ msgId: string; body: string }>; unanswered: string[] };
    t.same(printed.messages.map((message) => Buffer.from(message.body, 'base64').toString()), expectedBodies(orders, 'order-7'), '--json: the bodies, base64');
    const table = await runCli(t, ['admin', 'message', 'query', '--namesrv', namesrv, '--topic', orders, '--key', 'order-7']);
    t.match(table.stdout, new RegExp(`topic ${orders}, key order-7: 5 message\\(s\\)`));
    t.ok(order_7.every((message) => table.stdout.includes(message.msgId)), 'the table lists every id');
    const usage = await runCli(t, ['admin', 'message', 'query', '--namesrv', namesrv, '--topic', orders]);
    t.equal(usage.code, 2, 'no --key: a usage error');

    const api = await adminGet(node, `/api/messages?topic=${orders}&key=order-7`);
    t.equal(api.status, 200);
    const panel = JSON.parse(api.body) as { messages: Array<{ msgId: string; bodyText: string; keys: string[] }>; unanswered: string[] };
    t.same(panel.messages.map((message) => [message.msgId, message.bodyText]), order_7.map((message) => [message.msgId, message.body.toString()]), 'the inspector API: ids and bodies as text');
    const bad = await adminGet(node, `/api/messages?topic=${orders}&key=${encodeURIComponent('two words')}`);
    t.equal(bad.status, 400, 'a bad key is a 400');
  });

  await t.test('after kill -9 and a restart: the same answers, and new messages indexed', async (t) => {
    await node.signal('SIGKILL');
    const again = await startNode(t, standaloneArgs(data_dir));
    const admin_again = await adminFor(t, again);
    await until('the restarted broker registered', async () => ((await admin_again.cluster()).groups.length === 1 ? true : undefined));
    const after = await until('the key index answers again', async () => {
      const found = await admin_again.queryMessages({ topic: orders, key: 'order-7' });
      return found.unanswered.length === 0 && found.messages.length > 0 ? found.messages : undefined;
    });
    t.same(after.map((message) => [message.msgId, message.body.toString()]), order_7.map((message) => [message.msgId, message.body.toString()]), 'the five messages, same ids and bodies, none twice');
    t.same(bodiesOf(await query(admin_again, orders, 'batch-3')), expectedBodies(orders, 'batch-3'), 'a key with 29 messages: all, none twice');

    const producer_again = new Producer({ namesrv: again.ready['namesrv'] as string, group: 'key-producer' });
    await producer_again.start();
    t.teardown(() => producer_again.shutdown());
    const late = await producer_again.send({ topic: orders, body: `${orders}-late`, keys: ['order-7', 'late-key'] });
    const with_late = await until('the new message is indexed', async () => {
      const found = await query(admin_again, orders, 'order-7');
      return found[0]?.msgId === late.msgId ? found : undefined;
    });
    t.same(bodiesOf(with_late), [`${orders}-late`, ...expectedBodies(orders, 'order-7')], 'the new message first, then the five');
    t.same(bodiesOf(await query(admin_again, orders, 'late-key')), [`${orders}-late`]);
  });
});
