import t from 'tap';
import * as p from '../../src/protocol/index.js';
import { Admin, Consumer, Producer, type GroupMemberView, type GroupView } from '../../src/client/index.js';
import { ClientConnection } from '../../src/client/remoting/client_connection.js';
import { startCluster, until } from './client_helpers.js';

/**
 * A consumer group's members and the queues each reads, as Admin.groups() (and the
 * inspector) shows them: two real consumers over two brokers, the assignment each consumer
 * holds equal to what the brokers report for it, then one member leaves and the other takes
 * every queue. A protocol 1 client is still served (its heartbeat counts, without queues),
 * and refused the protocol 2 requests; a protocol 1 connection reads cluster info in v1.
 */

const topic = 'MembersTopic';
const group = 'members-group';
const queues_per_broker = 3;
const sends = 24;

interface QueueName {
  topic: string;
  brokerName: string;
  queueId: number;
}

function names(queues: readonly QueueName[]): string[] {
  return queues.map((queue) => `${queue.topic}@${queue.brokerName}#${queue.queueId}`).sort();
}

t.test('two brokers, two consumers of one group', async (t) => {
  const cluster = await startCluster(t, ['broker-a', 'broker-b']);
  const admin = new Admin({ namesrv: cluster.namesrv, instanceName: 'members-admin' });
  t.teardown(() => admin.close());
  await until('both brokers registered', async () => ((await admin.cluster()).groups.length === 2 ? true : undefined));
  await admin.createTopic({ topic, queues: queues_per_broker });

  const received: string[] = [];
  const consumers = ['one', 'two'].map((name) => {
    const consumer = new Consumer({ namesrv: cluster.namesrv, group, instanceName: `members-${name}`, subscriptions: [{ topic }], fromWhere: 'first', rebalanceIntervalMs: 200, commitIntervalMs: 200 });
    consumer.onMessage(async (message) => {
      received.push(message.body.toString());
    });
    return consumer;
  });
  const running = new Set(consumers);
  t.teardown(async () => {
    for (const consumer of running) await consumer.shutdown();
  });
  for (const consumer of consumers) await consumer.start();

  const producer = new Producer({ namesrv: cluster.namesrv, group: 'members-producer' });
  await producer.start();
  t.teardown(() => producer.shutdown());
  for (let index = 0; index < sends; index++) await producer.send({ topic, body: `m-${index}` });
  await until(`all ${sends} messages consumed`, () => (new Set(received).size === sends ? true : undefined));

  const viewOf = (groups: readonly GroupView[]): GroupView | undefined => groups.find((entry) => entry.group === group);
  const memberOf = (view: GroupView, consumer: Consumer): GroupMemberView | undefined => view.memberDetails.find((member) => member.clientId === consumer.clientId);

  await t.test('each member is shown with exactly the queues its consumer reads', async (t) => {
    const [first, second] = consumers as [Consumer, Consumer];
    // Heartbeats carry the assignment of the previous rebalance tick, and offsets are committed
    // every 200 ms: wait until both agree and the last commits are in.
    const view = await until('the brokers report what each consumer holds, and no lag', async () => {
      const found = viewOf((await admin.groups()).groups);
      if (found === undefined || found.memberDetails.length !== 2 || found.lag.lag !== 0) return undefined;
      const agree = consumers.every((consumer) => {
        const member = memberOf(found, consumer);
        return member !== undefined && consumer.assignedQueues().length > 0 && names(member.queues).join() === names(consumer.assignedQueues()).join();
      });
      return agree ? found : undefined;
    });
    t.same(view.members, [first.clientId, second.clientId].sort(), 'members: both client ids');
    t.equal(view.assignmentComplete, true, 'every broker and member speaks protocol 2');
    t.same(view.memberDetails.map((member) => member.assignmentKnown), [true, true]);
    t.equal(view.membersLeftOut, 0);
    const topic_queues = view.memberDetails.flatMap((member) => member.queues.filter((queue) => queue.topic === topic));
    const expected = ['broker-a', 'broker-b'].flatMap((brokerName) => Array.from({ length: queues_per_broker }, (_, queueId) => ({ topic, brokerName, queueId })));
    t.same(names(topic_queues), names(expected), 'together they read every queue of the topic, each queue once');
    for (const member of view.memberDetails) {
      t.same(member.subscriptions.map((subscription) => subscription.topic).sort(), [`%RETRY%${group}`, topic].sort(), `${member.clientId} subscribes to the topic and the group's retry topic`);
      t.ok(Date.now() - member.lastHeartbeatMs < 10_000, `${member.clientId} heartbeated recently`);
    }
    const topic_lag = view.lag.queues.filter((queue) => queue.topic === topic);
    t.same([topic_lag.length, topic_lag.reduce((sum, queue) => sum + queue.consumerOffset, 0)], [2 * queues_per_broker, sends], `the group committed all ${sends} messages, over every queue`);
  });

  await t.test('one member leaves: the other is shown reading every queue', async (t) => {
    const [leaving, staying] = consumers as [Consumer, Consumer];
    await leaving.shutdown();
    running.delete(leaving);
    const view = await until('the remaining member reports every queue', async () => {
      const found = viewOf((await admin.groups()).groups);
      const member = found === undefined ? undefined : memberOf(found, staying);
      return found !== undefined && found.memberDetails.length === 1 && member !== undefined && member.queues.filter((queue) => queue.topic === topic).length === 2 * queues_per_broker ? found : undefined;
    });
    t.same(view.members, [staying.clientId], 'only the staying member');
    t.same(names((view.memberDetails[0] as GroupMemberView).queues), names(staying.assignedQueues()), 'what it holds, as the consumer itself says');
  });

  await t.test('a protocol 1 client: served in version 1, refused the version 2 requests', async (t) => {
    const broker = cluster.brokers.get('broker-a')?.ready['broker'] as string;
    const v1_range = { version_min: 1, version_max: 1 };
    const old = await ClientConnection.connect(broker, { client_id: 'legacy@1', kind: 'CONSUMER', versions: v1_range });
    const current = await ClientConnection.connect(broker, { client_id: 'members-inspector', kind: 'CLIENT' });
    const old_namesrv = await ClientConnection.connect(cluster.namesrv, { client_id: 'legacy@1', kind: 'CLIENT', versions: v1_range });
    t.teardown(() => {
      old.close();
      current.close();
      old_namesrv.close();
    });
    t.equal(old.protocol_version, 1, 'the old client speaks version 1');
    t.equal(current.protocol_version, p.protocol_version_max, `this build speaks version ${p.protocol_version_max}`);

    const legacy_group = { group: 'legacy-group', mode: 'CLUSTERING' as const, fromWhere: 'LAST' as const, subscriptions: [{ topic, expression: '*' }], assignedQueues: [{ topic, queueId: 1 }] };
    await old.request(p.request_codes.HEARTBEAT, p.encodeHeartbeatRequest({ clientId: 'legacy@1', producerGroups: [], consumerGroups: [legacy_group] }, old.protocol_version));
    const list = p.decodeGetConsumerListResponse(await old.request(p.request_codes.GET_CONSUMER_LIST, p.encodeGetConsumerListRequest({ group: 'legacy-group' })));
    t.same(list.ok && list.value.clientIds, ['legacy@1'], 'its version 1 heartbeat made it a member');
    const connections = p.decodeGetConsumerConnectionListResponse(
      await current.request(p.request_codes.GET_CONSUMER_CONNECTION_LIST, p.encodeGetConsumerConnectionListRequest({ group: 'legacy-group' })),
    );
    const legacy = connections.ok ? connections.value.connections : [];
    t.same(legacy.map((connection) => [connection.clientId, connection.subscriptions.map((subscription) => subscription.topic), connection.assignedQueues, connection.assignmentKnown]), [['legacy@1', [topic], [], false]],
      'shown with its subscription and no queues, its assignment unknown: version 1 heartbeats carry none');

    await t.rejects(old.request(p.request_codes.GET_CONSUMER_CONNECTION_LIST, p.encodeGetConsumerConnectionListRequest({ group })), { code: 'BAD_REQUEST', message: /later protocol version than 1/ },
      'GET_CONSUMER_CONNECTION_LIST on a version 1 connection is refused as a version 1 server would');
    await t.rejects(old.request(p.request_codes.QUERY_MESSAGE, p.encodeQueryMessageRequest({ topic, key: 'k', maxCount: 1, beginMs: 0, endMs: 0 })), { code: 'BAD_REQUEST', message: /later protocol version/ },
      'so is QUERY_MESSAGE');

    const answer = await old_namesrv.requestVersioned(p.request_codes.GET_CLUSTER_INFO, p.encodeGetClusterInfoRequest({}));
    t.equal(answer.protocol_version, 1);
    const old_info = p.decodeClusterInfo(answer.body, 1);
    const new_info = await admin.cluster();
    t.same(old_info.ok && old_info.value.groups.map((entry) => [entry.brokerName, entry.members.map((member) => member.address)]),
      new_info.groups.map((entry) => [entry.brokerName, entry.members.map((member) => member.address)]), 'cluster info in version 1 lists the same brokers');
    t.ok(new_info.groups.every((entry) => entry.members.every((member) => member.maxOffset > 0 && member.replicationLagBytes === 0)), 'version 2 adds each CommitLog end (the messages sent) and the masters\' lag, 0');
  });
});
