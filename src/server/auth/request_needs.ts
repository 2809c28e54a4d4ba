import { request_codes, type RequestCode } from '../../protocol/index.js';

/**
 * What each request needs under access control, checked before its handler runs:
 *
 * - `admin`: an admin account (topic and ACL administration, broker registration, nameserver
 *   replication, a slave copying its master, whole-cluster views);
 * - `signed`: any account of the ACL (route and cluster reads, leaving a group);
 * - `resource`: any account, and then the handler asks for the topic or group it touches
 *   once it has decoded the request (SEND needs PUB on the topic, PULL SUB on the topic and
 *   the group, ...): the table below cannot know the topic without decoding the body twice.
 *
 * A code missing here is `admin`: a new request is closed until someone decides otherwise.
 */
export type RequestNeed = 'admin' | 'signed' | 'resource';

const needs: ReadonlyMap<RequestCode, RequestNeed> = new Map<RequestCode, RequestNeed>([
  [request_codes.SEND, 'resource'],
  [request_codes.SEND_BATCH, 'resource'],
  [request_codes.PULL, 'resource'],
  [request_codes.QUERY_CONSUMER_OFFSET, 'resource'],
  [request_codes.COMMIT_CONSUMER_OFFSET, 'resource'],
  [request_codes.GET_MIN_OFFSET, 'resource'],
  [request_codes.GET_MAX_OFFSET, 'resource'],
  [request_codes.GET_MESSAGE, 'resource'],
  [request_codes.QUERY_MESSAGE, 'resource'],
  [request_codes.HEARTBEAT, 'resource'],
  [request_codes.GET_CONSUMER_LIST, 'resource'],
  [request_codes.CONSUMER_SEND_BACK, 'resource'],
  [request_codes.END_TRANSACTION, 'resource'],
  [request_codes.UNREGISTER_CLIENT, 'signed'],
  [request_codes.GET_ROUTE, 'signed'],
  [request_codes.GET_CLUSTER_INFO, 'signed'],
  [request_codes.GET_TOPIC_LIST, 'signed'],
  [request_codes.SUBSCRIBE_ROUTE, 'signed'],
  [request_codes.UNSUBSCRIBE_ROUTE, 'signed'],
  [request_codes.NS_STATUS, 'signed'],
  [request_codes.GET_BROKER_ENDPOINTS, 'signed'],
]);

export function requestNeed(code: number): RequestNeed {
  return needs.get(code as RequestCode) ?? 'admin';
}
