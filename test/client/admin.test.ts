import t from 'tap';
import * as p from '../../src/protocol/index.js';
import { Admin, Producer, type GroupLag, type SendResult } from '../../src/client/index.js';
import { ClientConnection } from '../../src/client/remoting/client_connection.js';
import { runCli } from '../cli/node_process.js';
import { startCluster, until } from './client_helpers.js';

/**
 * Admin and `mq-node admin` against a real nameserver and two brokers: topics created on
 * every master and routed, the cluster view, message lookup by id on either broker, and a
 * consumer group's lag before and after it commits offsets.
 */

const topic = 'AdminTopic';
const group = 'admin-lag-group';
const queues = 3;
const messages = 60;

async function commitOffset(broker: string, queueId: number, offset: number): Promise<void> {
  // The Consumer commits through this same request; the test stands in for it.
  const client = await ClientConnection.connect(broker, { client_id: 'admin-test-committer', kind: 'CLIENT' });
  try {
    await client.request(p.request_codes.COMMIT_CONSUMER_OFFSET, p.encodeCommitConsumerOffsetRequest({ group, topic, queueId, offset }));
  } finally {
    client.close();
  }
}

function lagRows(lag: GroupLag): string[] {
  return lag.queues.map((queue) => `${queue.topic} ${queue.brokerName}/${queue.queueId} broker=${queue.brokerOffset} consumer=${queue.consumerOffset} lag=${queue.lag}`);
}

t.test('a nameserver and two brokers', async (t) => {
  const cluster = await startCluster(t, ['broker-a', 'broker-b']);
  const broker_address = (name: string): string => cluster.brokers.get(name)?.ready['broker'] as string;
  const admin = new Admin({ namesrv: cluster.namesrv, instanceName: 'admin-test' });
  t.teardown(() => admin.close());

  await t.test('cluster: both groups with their master', async (t) => {
    const view = await until('both brokers registered', async () => {
      const info = await admin.cluster();
      return info.groups.length === 2 ? info : undefined;
    });
    t.same(view.groups.map((entry) => [entry.brokerName, entry.members.map((member) => [member.brokerId, member.address])]), [
      ['broker-a', [[0, broker_address('broker-a')]]],
      ['broker-b', [[0, broker_address('broker-b')]]],
    ], 'broker names, ids and addresses');
    t.ok(view.groups.every((entry) => entry.members.every((member) => Date.now() - member.lastHeartbeatMs < 10_000)), 'heartbeats are recent');
  });

  await t.test('createTopic on every master, then route, listTopics', async (t) => {
    const route = await admin.createTopic({ topic, queues });
    t.same(route.queues.map((queue) => [queue.brokerName, queue.readQueues, queue.writeQueues]).sort(), [['broker-a', queues, queues], ['broker-b', queues, queues]], 'the route lists both brokers with the queues asked for');
    const again = await admin.route(topic);
    t.same(again.brokers.map((broker) => [broker.brokerName, broker.addresses['0']]), [['broker-a', broker_address('broker-a')], ['broker-b', broker_address('broker-b')]], 'route(): broker groups with their master addresses');
    t.ok((await admin.listTopics()).includes(topic), 'listTopics includes it');
    await t.rejects(admin.createTopic({ topic: 'bad topic', queues: 1 }), { code: 'BAD_REQUEST' }, 'a bad name is refused');
    await t.rejects(admin.createTopic({ topic: 'Fine', queues: 0 }), { code: 'BAD_REQUEST' }, 'zero queues are refused');
    await t.rejects(admin.route('NeverCreated'), { code: 'TOPIC_NOT_FOUND' }, 'route of an unknown topic: TOPIC_NOT_FOUND');
  });

  let results: SendResult[] = [];
  await t.test('getMessage finds messages stored by either broker', async (t) => {
    const producer = new Producer({ namesrv: cluster.namesrv, instanceName: 'admin-test' });
    await producer.start();
    t.teardown(() => producer.shutdown());
    results = [];
    for (let index = 0; index < messages; index++) results.push(await producer.send({ topic, body: `lag ${index}`, tag: 'lag', keys: `k${index}` }));
    t.same(new Set(results.map((result) => result.brokerName)), new Set(['broker-a', 'broker-b']), 'messages went to both brokers');
    for (const result of [results[0], results[1]] as SendResult[]) {
      const found = await admin.getMessage(result.msgId);
      t.same([found.brokerName, found.queueId, found.queueOffset, found.body.toString()], [result.brokerName, result.queueId, result.queueOffset, `lag ${results.indexOf(result)}`], `message on ${result.brokerName} found`);
    }
    await t.rejects(admin.getMessage('not-an-id'), { code: 'BAD_REQUEST', message: /40 hex/ }, 'a malformed id');
    await t.rejects(admin.getMessage('0'.repeat(40)), { code: 'BAD_REQUEST', message: /no broker/ }, 'an id no broker holds');
  });

  await t.test('groupLag before and after the group commits offsets', async (t) => {
    const max_offsets = new Map<string, number>();
    for (const result of results) {
      const key = `${result.brokerName}/${result.queueId}`;
      max_offsets.set(key, Math.max(max_offsets.get(key) ?? 0, result.queueOffset + 1));
    }
    const all = (await admin.groupLag(group)).queues;
    t.same(all, [], 'without --topic: nothing, since the group committed nothing yet');
    const before = await admin.groupLag(group, { topic });
    t.equal(before.queues.length, 2 * queues, 'with the topic: every queue of both brokers');
    t.ok(before.queues.every((queue) => queue.consumerOffset === -1 && queue.lag === queue.brokerOffset && queue.brokerOffset === (max_offsets.get(`${queue.brokerName}/${queue.queueId}`) ?? 0)), 'no committed offset: the lag is every stored message');
    t.equal(before.lag, messages, `total lag ${messages}`);

    await commitOffset(broker_address('broker-a'), 0, 2);
    await commitOffset(broker_address('broker-b'), 1, max_offsets.get('broker-b/1') ?? 0);
    const after = await admin.groupLag(group);
    t.equal(after.queues.length, 2 * queues, 'without --topic the topic is found now: the group committed there');
    const a0 = after.queues.find((queue) => queue.brokerName === 'broker-a' && queue.queueId === 0);
    const b1 = after.queues.find((queue) => queue.brokerName === 'broker-b' && queue.queueId === 1);
    t.same([a0?.consumerOffset, a0?.lag], [2, (max_offsets.get('broker-a/0') ?? 0) - 2], 'broker-a/0: committed 2, lag the rest');
    t.same([b1?.consumerOffset, b1?.lag], [max_offsets.get('broker-b/1'), 0], 'broker-b/1: all consumed, lag 0');
    t.equal(after.lag, messages - 2 - (max_offsets.get('broker-b/1') ?? 0), 'the total went down by what was committed');
    t.comment(lagRows(after).join('\n'));
  });

  await t.test('mq-node admin: tables by default, --json for scripts', async (t) => {
    const namesrv = ['--namesrv', cluster.namesrv];
    const route_table = await runCli(t, ['admin', 'topic', 'route', topic, ...namesrv]);
    t.equal(route_table.code, 0, 'topic route exits 0');
    t.match(route_table.stdout, /^topic AdminTopic, route version \d+\nBROKER\s+CLUSTER\s+MASTER\s+SLAVES\s+READ\s+WRITE\s+PERM\n-+/, 'a header and a rule');
    t.match(route_table.stdout, new RegExp(`broker-a\\s+DefaultCluster\\s+${broker_address('broker-a')}\\s+-\\s+3\\s+3\\s+rw`), 'a row per broker group');

    const route_json = await runCli(t, ['admin', 'topic', 'route', topic, '--json', ...namesrv]);
    t.same(JSON.parse(route_json.stdout), await admin.route(topic), '--json prints what Admin.route returns');

    const lag = await runCli(t, ['admin', 'group', 'lag', group, ...namesrv]);
    t.match(lag.stdout, /TOPIC\s+BROKER\s+QUEUE\s+BROKER OFFSET\s+CONSUMER OFFSET\s+LAG/, 'group lag: a table');
    t.match(lag.stdout, new RegExp(`group ${group}: total lag ${(await admin.groupLag(group)).lag}\\n$`), 'with the total');
    const lag_json = JSON.parse((await runCli(t, ['admin', 'group', 'lag', group, '--json', ...namesrv])).stdout) as GroupLag;
    t.same(lag_json, await admin.groupLag(group), 'group lag --json');

    const cluster_table = await runCli(t, ['admin', 'cluster', ...namesrv]);
    t.match(cluster_table.stdout, /CLUSTER\s+BROKER\s+ID\s+ROLE\s+ADDRESS/, 'cluster: a table');
    t.match(cluster_table.stdout, /broker-b\s+0\s+master/, 'roles shown');

    const message = await runCli(t, ['admin', 'message', 'get', (results[5] as SendResult).msgId, ...namesrv]);
    t.match(message.stdout, /msgId\s+[0-9A-F]{40}\n/, 'message get: fields');
    t.match(message.stdout, /body\s+lag 5\n/, 'the body as text');
    const message_json = JSON.parse((await runCli(t, ['admin', 'message', 'get', (results[5] as SendResult).msgId, '--json', ...namesrv])).stdout) as { body: string; keys: string[] };
    t.same([Buffer.from(message_json.body, 'base64').toString(), message_json.keys], ['lag 5', ['k5']], 'message get --json: the body in base64');

    const created = await runCli(t, ['admin', 'topic', 'create', 'CliTopic', '--queues', '2', ...namesrv]);
    t.equal(created.code, 0, 'topic create exits 0');
    t.match(created.stdout, /topic CliTopic created on broker-a, broker-b/, 'says where');
    t.same(JSON.parse((await runCli(t, ['admin', 'topic', 'list', '--json', ...namesrv])).stdout), [topic, 'CliTopic'].sort(), 'topic list --json');

    const usage = await runCli(t, ['admin', 'topic', 'frobnicate', ...namesrv]);
    t.same([usage.code, /unknown command 'topic frobnicate'/.test(usage.stderr)], [2, true], 'an unknown verb: exit 2 and the usage');
    const unknown_flag = await runCli(t, ['admin', 'cluster', '--bogus', ...namesrv]);
    t.equal(unknown_flag.code, 2, 'an unknown flag: exit 2');
    const missing = await runCli(t, ['admin', 'topic', 'route', 'NeverCreated', ...namesrv]);
    t.same([missing.code, missing.stderr.startsWith('mq-node admin: TOPIC_NOT_FOUND: ')], [1, true], "the cluster's error: exit 1, its code on stderr");
  });
});
