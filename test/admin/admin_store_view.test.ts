import t from 'tap';
import type { StoreView } from '../../src/actors/store/store_view.js';
import { adminGet, runCli, startNode } from '../cli/node_process.js';
import { until } from '../client/client_helpers.js';
import { startCountedTopic } from './fixtures/counted_topic.js';

/**
 * GET /api/store on a real standalone node, after real sends: the queues show the messages
 * stored, the CommitLog positions agree with each other and with the segment file, and a
 * nameserver, which has no store, says so.
 */

const messages = 300;
const queues = 4;

t.test('a broker’s /api/store shows its queues, CommitLog positions, segments and disk', async (t) => {
  const counted = await startCountedTopic(t, 'Viewed', queues);
  const { node, per_queue } = counted;
  for (let index = 0; index < messages; index++) await counted.send(`message ${index}`);
  const last_msg_id = counted.sent_ids.at(-1) as string;
  const view = await until('every send visible in the queue windows', async () => {
    const response = await adminGet(node.node, '/api/store');
    t.equal(response.status, 200);
    const parsed = JSON.parse(response.body) as StoreView;
    const stored = parsed.queues.filter((queue) => queue.topic === 'Viewed').reduce((sum, queue) => sum + queue.maxOffset, 0);
    return stored === messages ? parsed : undefined;
  });
  t.same(
    view.queues.filter((queue) => queue.topic === 'Viewed').map((queue) => [queue.queueId, queue.minOffset, queue.maxOffset]),
    per_queue.map((count, queue_id) => [queue_id, 0, count]),
    'each queue’s window is what the producer was told it sent there',
  );
  t.equal(view.role, 'master');
  const log = view.commitLog;
  t.ok(log.writeOffset > 0 && log.flushOffset <= log.writeOffset && log.minOffset === 0, `positions in order: min ${log.minOffset} ≤ flushed ${log.flushOffset} ≤ written ${log.writeOffset}`);
  t.equal(log.segments.length, 1, 'one segment holds it all');
  t.same([log.segments[0]?.startOffset, log.segments[0]?.sizeBytes, log.segments[0]?.writtenBytes], [0, log.segmentBytes, log.writeOffset], 'the segment file: start, size, written bytes');
  t.equal(view.queuesLeftOut, 0);

  // The same data for terminals: mq-node inspect --once.
  const admin_address = node.node.ready['admin'] as string;
  const url = await runCli(t, ['inspect', '--admin', admin_address]);
  t.same([url.code, url.stdout], [0, `http://${admin_address}/\n`], 'inspect prints the inspector URL');
  const once = await runCli(t, ['inspect', '--admin', admin_address, '--once']);
  t.equal(once.code, 0, `inspect --once exits 0 (stderr: ${once.stderr})`);
  t.match(once.stdout, /^\d+ actors on 2 threads\n/, 'a headline of actors and threads');
  t.match(once.stdout, /\n\s*1\s+store\/commit_log\s+commit_log\s+running\s/, 'the CommitLog writer on its thread');
  t.match(once.stdout, new RegExp(`store \\(master\\): CommitLog min 0, written ${log.writeOffset}, flushed \\d+`), 'the store line');
  for (const [queue_id, count] of per_queue.entries()) {
    t.match(once.stdout, new RegExp(`\\nViewed\\s+${queue_id}\\s+0\\s+${count}\\n`), `queue ${queue_id} with its ${count} messages`);
  }
  // The cluster-wide views, as JSON.
  const cluster = JSON.parse((await adminGet(node.node, '/api/cluster')).body) as {
    brokers: { groups: Array<{ members: Array<{ address: string; brokerId: number }> }> };
    topics: Array<{ topic: string; queues: Array<{ readQueues: number }> }>;
    nameservers: Array<{ address: string; status: { role: string } | null }>;
  };
  t.same(cluster.brokers.groups.flatMap((group) => group.members.map((member) => [member.brokerId, member.address])), [[0, node.broker]], '/api/cluster: the one broker, a master');
  t.same(cluster.topics.find((route) => route.topic === 'Viewed')?.queues.map((queue) => queue.readQueues), [queues], '/api/cluster: the topic with its queues');
  t.same(cluster.nameservers.map((entry) => [entry.address, entry.status?.role]), [[node.namesrv, 'leader']], '/api/cluster: the embedded nameserver, leading alone');
  const message = await adminGet(node.node, `/api/messages/${last_msg_id}`);
  t.match(JSON.parse(message.body), { topic: 'Viewed', bodyText: `message ${messages - 1}`, bodyBytes: `message ${messages - 1}`.length, bodyTruncated: false }, '/api/messages/<id>: the message, body as text');
  const bad_message = await adminGet(node.node, '/api/messages/zz');
  t.equal(bad_message.status, 400, '/api/messages/<bad id>: 400');
  t.match(JSON.parse(bad_message.body), { error: /is not a message id/ });

  const bad = await runCli(t, ['inspect', '--admin', 'nowhere']);
  t.same([bad.code, bad.stderr.split('\n')[0]], [2, "mq-node inspect: --admin h:p is required (the admin address in the node's ready line)"], 'a bad --admin exits 2 saying why');
  t.ok(view.disks.length === 1 && (view.disks[0]?.totalBytes ?? 0) > (view.disks[0]?.freeBytes ?? 0) && (view.disks[0]?.freeBytes ?? 0) > 0, 'the data directory’s disk, with its free space');
});

t.test('a nameserver has no store: /api/store answers 404 saying so', async (t) => {
  const namesrv = await startNode(t, ['--role', 'namesrv', '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--threads', '1', '--log-level', 'error']);
  const response = await adminGet(namesrv, '/api/store');
  t.equal(response.status, 404);
  t.match(JSON.parse(response.body), { error: /no store \(a nameserver\)/ });
});
