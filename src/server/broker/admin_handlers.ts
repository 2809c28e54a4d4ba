import {
  body_bytes_max,
  system_properties,
  internal_topics,
  checkMessageKey,
  checkName,
  decodeQueryMessageRequest,
  encodeQueryMessageResponse,
  decodeGetAllConsumerOffsetRequest,
  decodeGetAllTopicConfigRequest,
  encodeAllConsumerOffset,
  encodeAllTopicConfig,
  decodeCreateTopicRequest,
  decodeGetConsumerConnectionListRequest,
  decodeGetConsumerListRequest,
  decodeGetMessageRequest,
  decodeHeartbeatRequest,
  decodeUnregisterClientRequest,
  encodeCreateTopicResponse,
  encodeGetConsumerConnectionListResponse,
  encodeGetConsumerListResponse,
  encodeGetMessageResponse,
  encodeHeartbeatResponse,
  encodeUnregisterClientResponse,
  perm_read,
  perm_write,
  retryTopicOf,
} from '../../protocol/index.js';
import { MqError } from '../../runtime/errors.js';
import type { RequestContext } from '../remoting/request_router.js';
import { server_connection_limits } from '../remoting/remoting_limits.js';
import type { BrokerContext } from './broker_context.js';
import { decodeMessageId, numberToIpv4 } from '../../storage/message_id.js';
import { OffsetStore } from '../../storage/offset_store.js';
import { offsetsPath } from '../../storage/storage_paths.js';
import type { RetryHandlers } from './retry_handlers.js';
import { storedMessageOf } from './stored_message.js';
import { decodeMessageProperties } from '../../storage/message_properties.js';

export const query_message_limits = {
  /** Messages one QUERY_MESSAGE answers at most, whatever it asks for. */
  messages_max: 64,
  /** Body bytes one answer carries: the messages after the first that would pass it are left
   *  out. With at most 64 × 32 KiB of properties besides, the answer stays within a frame
   *  (twice the largest body plus overhead); one message always fits. */
  body_bytes_max,
} as const;

/** CREATE_TOPIC, GET_MESSAGE, QUERY_MESSAGE, HEARTBEAT, UNREGISTER_CLIENT, GET_CONSUMER_LIST and GET_CONSUMER_CONNECTION_LIST. */
export class AdminHandlers {
  constructor(
    private readonly broker: BrokerContext,
    private readonly retry: RetryHandlers,
  ) {}

  readonly createTopic = (body: Uint8Array): Uint8Array => {
    const request = decodeCreateTopicRequest(body);
    if (!request.ok) throw new MqError('BAD_REQUEST', `CREATE_TOPIC body: ${request.error.message}`);
    this.broker.requireMaster('creating a topic');
    const perm = request.value.perm === 0 ? perm_read | perm_write : request.value.perm;
    this.broker.topics.upsert(request.value.topic, request.value.queues, perm);
    this.broker.onTopicsChanged();
    return encodeCreateTopicResponse({});
  };

  /** A slave copying its master's topics (slave_sync.ts). */
  readonly allTopicConfig = (body: Uint8Array): Uint8Array => {
    const request = decodeGetAllTopicConfigRequest(body);
    if (!request.ok) throw new MqError('BAD_REQUEST', `GET_ALL_TOPIC_CONFIG body: ${request.error.message}`);
    const topics = this.broker.topics;
    return encodeAllTopicConfig({ dataVersion: topics.data_version, topics: topics.list().map(({ topic, readQueues, writeQueues, perm }) => ({ topic, readQueues, writeQueues, perm })) });
  };

  /** A slave copying its master's consumer offsets (slave_sync.ts): the table as persisted now. */
  readonly allConsumerOffset = async (body: Uint8Array): Promise<Uint8Array> => {
    const request = decodeGetAllConsumerOffsetRequest(body);
    if (!request.ok) throw new MqError('BAD_REQUEST', `GET_ALL_CONSUMER_OFFSET body: ${request.error.message}`);
    await this.broker.store.offsets.ask({ kind: 'persist' });
    const table = new OffsetStore({ path: offsetsPath(this.broker.store.args.data_dir) });
    table.load();
    const entries = table.groups().flatMap((group) => table.listGroup(group).map((entry) => ({ group, topic: entry.topic, queueId: entry.queue_id, offset: entry.offset })));
    return encodeAllConsumerOffset({ entries });
  };

  readonly getMessage = (body: Uint8Array, context: RequestContext): Uint8Array => {
    const request = decodeGetMessageRequest(body);
    if (!request.ok) throw new MqError('BAD_REQUEST', `GET_MESSAGE body: ${request.error.message}`);
    const location = decodeMessageId(request.value.msgId);
    // The id names the broker and its CommitLog offset; the record found there must be the one
    // the id describes (same store time and host), or the message is not on this broker.
    const not_here = new MqError('BAD_REQUEST', `message ${request.value.msgId} is not on broker ${this.broker.broker_name} (it was stored by ${numberToIpv4(location.store_ipv4)}:${location.store_port}); ask that broker`);
    let record;
    try {
      record = this.broker.store.reader.readRecord(location.commit_log_offset);
    } catch {
      throw not_here;
    }
    const host = record.store_host;
    if (record.store_timestamp !== location.store_timestamp || host.ipv4 !== location.store_ipv4 || (host.port & 0xffff) !== location.store_port) throw not_here;
    // A scheduled or half message is stored under an internal topic: its real one decides.
    const real_topic = internal_topics.has(record.topic) ? decodeMessageProperties(record.properties).properties[system_properties.real_topic] : undefined;
    context.authorize({ kind: 'topic', topic: real_topic ?? record.topic, perm: 'SUB' });
    // The reply copies the record (up to a 4 MiB body): lookups sent together must not copy
    // more than the connection's reply budget at once (about the record's size: same fields).
    if (!context.reserveReplyBytes(record.total_size)) {
      throw replyBudgetSpent();
    }
    return encodeGetMessageResponse(storedMessageOf(record));
  };

  /** The topic's messages with a business key, newest first, through the store's key index. */
  readonly queryMessage = async (body: Uint8Array, context: RequestContext): Promise<Uint8Array> => {
    const request = decodeQueryMessageRequest(body);
    if (!request.ok) throw new MqError('BAD_REQUEST', `QUERY_MESSAGE body: ${request.error.message}`);
    const { topic, key, maxCount, beginMs, endMs } = request.value;
    const problem = checkName('topic', topic) ?? checkMessageKey(key);
    if (problem !== undefined) throw new MqError('BAD_REQUEST', problem.message);
    context.authorize({ kind: 'topic', topic, perm: 'SUB' });
    if (maxCount < 1) throw new MqError('BAD_REQUEST', `QUERY_MESSAGE maxCount is ${maxCount}; ask for 1 to ${query_message_limits.messages_max}`);
    if (beginMs < 0 || endMs < 0 || (endMs !== 0 && endMs < beginMs)) throw new MqError('BAD_REQUEST', `QUERY_MESSAGE time range ${beginMs}..${endMs} is not ms since the epoch with begin <= end (0 and 0: any time)`);
    const limit = Math.min(maxCount, query_message_limits.messages_max);
    const records = await this.broker.store.lookupByKey(topic, key, limit, { begin_ms: beginMs, end_ms: endMs === 0 ? Number.MAX_SAFE_INTEGER : endMs });
    const kept: typeof records = [];
    let body_bytes = 0;
    let record_bytes = 0;
    for (const record of records) {
      if (kept.length > 0 && body_bytes + record.body.length > query_message_limits.body_bytes_max) break;
      body_bytes += record.body.length;
      record_bytes += record.total_size;
      kept.push(record);
    }
    // As GET_MESSAGE: the answer copies the records, within the connection's reply budget.
    if (!context.reserveReplyBytes(record_bytes)) {
      throw replyBudgetSpent();
    }
    return encodeQueryMessageResponse({ messages: kept.map(storedMessageOf) });
  };

  readonly heartbeat = (body: Uint8Array, context: RequestContext): Uint8Array => {
    const request = decodeHeartbeatRequest(body, context.connection.protocol_version);
    if (!request.ok) throw new MqError('BAD_REQUEST', `HEARTBEAT body: ${request.error.message}`);
    // Group permissions cover producer groups too: a producer group's members get the
    // transaction check-backs, which carry half messages.
    for (const group of request.value.consumerGroups) context.authorize({ kind: 'group', group: group.group });
    for (const group of request.value.producerGroups) context.authorize({ kind: 'group', group });
    context.connection.client_id = request.value.clientId;
    // Only queues of topics this broker hosts are kept (they are what its view can show).
    const groups = request.value.consumerGroups.map((group) => ({ ...group, assignedQueues: group.assignedQueues.filter((queue) => this.broker.topics.get(queue.topic) !== undefined) }));
    this.broker.groups.heartbeat(request.value.clientId, groups, Date.now(), { remote_address: context.connection.remote, protocol_version: context.connection.protocol_version });
    this.broker.producers.heartbeat(context.connection, request.value.producerGroups);
    // RocketMQ's way: a clustering group's retry topic is made when its consumers show up,
    // so they find its route before their first failed message is sent back.
    // A slave copies its master's topics (slave_sync.ts) and creates none.
    for (const group of request.value.consumerGroups) {
      if (group.mode === 'CLUSTERING' && this.broker.store.role === 'master') this.retry.ensureGroupTopic(retryTopicOf(group.group));
    }
    return encodeHeartbeatResponse({});
  };

  readonly unregisterClient = (body: Uint8Array, context: RequestContext): Uint8Array => {
    const request = decodeUnregisterClientRequest(body);
    if (!request.ok) throw new MqError('BAD_REQUEST', `UNREGISTER_CLIENT body: ${request.error.message}`);
    for (const group of request.value.consumerGroups) context.authorize({ kind: 'group', group });
    this.broker.groups.leaveGroups(request.value.clientId, request.value.consumerGroups);
    return encodeUnregisterClientResponse({});
  };

  readonly consumerList = (body: Uint8Array, context: RequestContext): Uint8Array => {
    const request = decodeGetConsumerListRequest(body);
    if (!request.ok) throw new MqError('BAD_REQUEST', `GET_CONSUMER_LIST body: ${request.error.message}`);
    context.authorize({ kind: 'group', group: request.value.group });
    return encodeGetConsumerListResponse({ clientIds: this.broker.groups.members(request.value.group) });
  };

  /** The group's members with their subscriptions and the queues of this broker they read. */
  readonly consumerConnectionList = (body: Uint8Array): Uint8Array => {
    const request = decodeGetConsumerConnectionListRequest(body);
    if (!request.ok) throw new MqError('BAD_REQUEST', `GET_CONSUMER_CONNECTION_LIST body: ${request.error.message}`);
    const { connections, left_out } = this.broker.groups.connections(request.value.group);
    return encodeGetConsumerConnectionListResponse({ connections, connectionsLeftOut: left_out });
  };
}

/** A lookup that would pass the connection's reply budget (GET_MESSAGE, QUERY_MESSAGE). */
function replyBudgetSpent(): MqError {
  return new MqError('BUSY', `replies to earlier requests of this connection are still being written (${server_connection_limits.reply_bytes_reserved_max} bytes at most at once); read them, then ask again`);
}
