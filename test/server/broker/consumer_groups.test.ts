import t from 'tap';
import * as p from '../../../src/protocol/index.js';
import { ConsumerGroups, consumer_group_limits } from '../../../src/server/broker/consumer_groups.js';

/**
 * Consumer-group membership as a broker keeps it: the members and what their heartbeats say
 * (subscriptions, queues read), bounded however many queues or members a client claims, and
 * an answer that always fits a frame.
 */

function groupData(group: string, queues: number, topic = 'Orders'): p.ConsumerGroupData {
  return {
    group,
    mode: 'CLUSTERING',
    fromWhere: 'LAST',
    subscriptions: [{ topic, expression: '*' }],
    assignedQueues: Array.from({ length: queues }, (_, queueId) => ({ topic, queueId })),
  };
}

t.test('members with their queues, sorted; a protocol 1 member has no known assignment; expiry', async (t) => {
  const groups = new ConsumerGroups();
  groups.heartbeat('b@2', [groupData('G', 2)], 1_000, { remote_address: '10.0.0.2:5000', protocol_version: 2 });
  groups.heartbeat('a@1', [groupData('G', 0)], 1_000, { remote_address: '10.0.0.1:5000', protocol_version: 1 });
  const { connections, left_out } = groups.connections('G', 2_000);
  t.equal(left_out, 0);
  t.same(connections.map((connection) => [connection.clientId, connection.remoteAddress, connection.assignedQueues.length, connection.assignmentKnown]), [
    ['a@1', '10.0.0.1:5000', 0, false],
    ['b@2', '10.0.0.2:5000', 2, true],
  ]);
  t.same(groups.members('G', 2_000), ['a@1', 'b@2'], 'the member list rebalancing uses agrees');
  t.same(groups.connections('G', 1_000 + consumer_group_limits.member_expiry_ms + 1).connections, [], 'silent members expire');
});

t.test('a member claiming more queues than the limit keeps the first ones only', async (t) => {
  const groups = new ConsumerGroups();
  groups.heartbeat('greedy@1', [groupData('G', 50_000)], 1_000);
  const [member] = groups.connections('G', 1_000).connections;
  t.equal(member?.assignedQueues.length, consumer_group_limits.assigned_queues_per_member_max);
  t.same(member?.assignedQueues.at(-1), { topic: 'Orders', queueId: consumer_group_limits.assigned_queues_per_member_max - 1 });
});

t.test('many members with long topic names: the answer lists what fits its budget, counts the rest, and encodes within a frame', async (t) => {
  const groups = new ConsumerGroups();
  const long_topic = 'T'.repeat(p.name_chars_max);
  const members = 200;
  for (let index = 0; index < members; index++) {
    groups.heartbeat(`client-${String(index).padStart(4, '0')}`, [groupData('Big', 1_024, long_topic)], 1_000);
  }
  const { connections, left_out } = groups.connections('Big', 1_000);
  t.ok(connections.length >= 1 && connections.length < members, `${connections.length} listed`);
  t.equal(connections.length + left_out, members, 'every member is listed or counted');
  t.equal(connections[0]?.clientId, 'client-0000', 'listed in client-id order');
  const bytes = p.encodeGetConsumerConnectionListResponse({ connections, connectionsLeftOut: left_out });
  t.ok(bytes.length <= consumer_group_limits.connection_list_bytes_max, `${bytes.length} bytes, within the budget (the estimate is an upper bound)`);
  t.ok(bytes.length < p.frame_bytes_max / 4, 'far from the frame limit');
  const decoded = p.decodeGetConsumerConnectionListResponse(bytes);
  t.same(decoded.ok && [decoded.value.connections.length, decoded.value.connectionsLeftOut], [connections.length, left_out], 'and decodes back');
});
