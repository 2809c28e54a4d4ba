import {
  checkMessageKey,
  checkName,
  decodeQueryMessageResponse,
  encodeQueryMessageRequest,
  master_broker_id,
  message_query_protocol_version,
  request_codes,
} from '../protocol/index.js';
import { MqError, toMqError } from '../runtime/errors.js';
import type { RouteView } from './admin_views.js';
import { receivedMessageOf, type ReceivedMessage } from './message.js';

export const message_query_limits = {
  /** Messages one query returns at most (each broker group is asked for this many too). */
  messages_max: 64,
  messages_default: 32,
} as const;

export interface MessageQuery {
  topic: string;
  key: string;
  /** At most this many (default 32, at most 64), newest first. */
  max?: number;
  /** Store-time range, ms since the epoch, inclusive (default: any time). */
  beginMs?: number;
  endMs?: number;
}

export interface MessageQueryResult {
  /** Newest first (by store time) over every broker group of the topic. */
  messages: ReceivedMessage[];
  /** Broker groups that could not be asked, each with why: the list may lack their messages. */
  unanswered: string[];
}

/** What a key query needs from Admin. */
export interface MessageQueryDeps {
  route(topic: string): Promise<RouteView>;
  brokerRequest(address: string, code: number, body: Uint8Array): Promise<Uint8Array>;
  brokerProtocolVersion(address: string): Promise<number>;
}

/**
 * The topic's messages stored with `key`, from each broker group of its route (its master,
 * or a slave while it has none: both index what they store), newest first. A broker group
 * that does not answer, or speaks protocol 1 (no key index), is listed in `unanswered`.
 */
export async function queryMessagesByKey(deps: MessageQueryDeps, query: MessageQuery): Promise<MessageQueryResult> {
  const problem = checkName('topic', query.topic) ?? checkMessageKey(query.key);
  if (problem !== undefined) throw new MqError('BAD_REQUEST', problem.message);
  const max = query.max ?? message_query_limits.messages_default;
  if (!Number.isInteger(max) || max < 1 || max > message_query_limits.messages_max) {
    throw new MqError('BAD_REQUEST', `max is a whole number from 1 to ${message_query_limits.messages_max}, not ${String(query.max)}`);
  }
  const begin_ms = query.beginMs ?? 0;
  const end_ms = query.endMs ?? 0;
  if (!Number.isSafeInteger(begin_ms) || !Number.isSafeInteger(end_ms) || begin_ms < 0 || end_ms < 0 || (end_ms !== 0 && end_ms < begin_ms)) {
    throw new MqError('BAD_REQUEST', `the time range ${String(query.beginMs)}..${String(query.endMs)} is not a range of ms since the epoch (begin <= end)`);
  }
  const route = await deps.route(query.topic);
  const messages: ReceivedMessage[] = [];
  const unanswered: string[] = [];
  await Promise.all(route.brokers.map(async (broker) => {
    const address = broker.addresses[master_broker_id] ?? Object.entries(broker.addresses).sort(([a], [b]) => Number(a) - Number(b))[0]?.[1];
    if (address === undefined) {
      unanswered.push(`${broker.brokerName}: no broker of the group is registered`);
      return;
    }
    try {
      if ((await deps.brokerProtocolVersion(address)) < message_query_protocol_version) {
        throw new MqError('BAD_REQUEST', 'it speaks protocol 1, which has no key index; upgrade it');
      }
      const request = encodeQueryMessageRequest({ topic: query.topic, key: query.key, maxCount: max, beginMs: begin_ms, endMs: end_ms });
      const reply = decodeQueryMessageResponse(await deps.brokerRequest(address, request_codes.QUERY_MESSAGE, request));
      if (!reply.ok) throw new MqError('INTERNAL', `unreadable QUERY_MESSAGE reply: ${reply.error.message}`);
      for (const stored of reply.value.messages) messages.push(receivedMessageOf(stored, broker.brokerName));
    } catch (thrown) {
      const error = toMqError(thrown);
      if (error.code === 'SHUTTING_DOWN' && !error.retriable) throw error;
      unanswered.push(`${broker.brokerName}@${address}: ${error.code}: ${error.message}`);
    }
  }));
  // Within one millisecond, the higher id (the later CommitLog offset of a broker) first.
  messages.sort((a, b) => b.storeTimestamp - a.storeTimestamp || compareText(b.msgId, a.msgId));
  unanswered.sort();
  return { messages: messages.slice(0, max), unanswered };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
