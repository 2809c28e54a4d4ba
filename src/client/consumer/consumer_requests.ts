import * as p from '../../protocol/index.js';
import { MqError } from '../../runtime/errors.js';
import type { BrokerLink } from './broker_link.js';

/**
 * The consumer's requests to a broker group, typed: encode, send, decode. A reply that does
 * not decode is an INTERNAL error naming the request (the broker and this client disagree on
 * the protocol), never a value of the wrong shape.
 */

function decoded<T>(what: string, broker_name: string, result: p.Result<T>): T {
  if (!result.ok) throw new MqError('INTERNAL', `${what} reply from broker ${broker_name} does not decode: ${result.error.message}`);
  return result.value;
}

export async function pullMessages(link: BrokerLink, broker_name: string, request: p.PullRequest, timeout_ms: number): Promise<p.PullResponse> {
  const reply = await link.request(broker_name, p.request_codes.PULL, p.encodePullRequest(request), timeout_ms);
  return decoded('PULL', broker_name, p.decodePullResponse(reply));
}

export async function sendHeartbeat(link: BrokerLink, broker_name: string, request: p.HeartbeatRequest, timeout_ms: number): Promise<void> {
  await link.request(broker_name, p.request_codes.HEARTBEAT, (protocol_version) => p.encodeHeartbeatRequest(request, protocol_version), timeout_ms);
}

export async function unregisterClient(link: BrokerLink, broker_name: string, request: p.UnregisterClientRequest, timeout_ms: number): Promise<void> {
  await link.request(broker_name, p.request_codes.UNREGISTER_CLIENT, p.encodeUnregisterClientRequest(request), timeout_ms);
}

/** The group's members as this broker sees them, sorted. */
export async function consumerList(link: BrokerLink, broker_name: string, group: string, timeout_ms: number): Promise<string[]> {
  const reply = await link.request(broker_name, p.request_codes.GET_CONSUMER_LIST, p.encodeGetConsumerListRequest({ group }), timeout_ms);
  return decoded('GET_CONSUMER_LIST', broker_name, p.decodeGetConsumerListResponse(reply)).clientIds;
}

/** The group's committed offset of a queue, or `offset_none` (-1). */
export async function queryConsumerOffset(link: BrokerLink, broker_name: string, request: p.QueryConsumerOffsetRequest, timeout_ms: number): Promise<number> {
  const reply = await link.request(broker_name, p.request_codes.QUERY_CONSUMER_OFFSET, p.encodeQueryConsumerOffsetRequest(request), timeout_ms);
  return decoded('QUERY_CONSUMER_OFFSET', broker_name, p.decodeQueryConsumerOffsetResponse(reply)).offset;
}

export async function commitConsumerOffset(link: BrokerLink, broker_name: string, request: p.CommitConsumerOffsetRequest, timeout_ms: number): Promise<void> {
  await link.request(broker_name, p.request_codes.COMMIT_CONSUMER_OFFSET, p.encodeCommitConsumerOffsetRequest(request), timeout_ms);
}

/** `min`: the oldest offset the queue holds; `max`: the next offset it will assign. */
export async function queueOffset(link: BrokerLink, broker_name: string, end: 'min' | 'max', request: p.GetOffsetRequest, timeout_ms: number): Promise<number> {
  const code = end === 'min' ? p.request_codes.GET_MIN_OFFSET : p.request_codes.GET_MAX_OFFSET;
  const reply = await link.request(broker_name, code, p.encodeGetOffsetRequest(request), timeout_ms);
  return decoded(`GET_${end.toUpperCase()}_OFFSET`, broker_name, p.decodeGetOffsetResponse(reply)).offset;
}

/**
 * CONSUMER_SEND_BACK: hands a failed message to the broker that stored it, which keeps a
 * durable copy in the group's retry or dead-letter topic. Resolves once it has; only then
 * may the consumer ack the failed message.
 */
export async function sendMessageBack(link: BrokerLink, broker_name: string, request: p.SendBackRequest, timeout_ms: number): Promise<p.SendBackResult> {
  const reply = await link.request(broker_name, p.request_codes.CONSUMER_SEND_BACK, p.encodeSendBackRequest(request), timeout_ms);
  return decoded('CONSUMER_SEND_BACK', broker_name, p.decodeSendBackResult(reply));
}
