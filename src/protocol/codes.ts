/**
 * Request codes: the number in every envelope that says which API a frame belongs to.
 *
 * These numbers are the wire format: they never change and are never reused. Where
 * RocketMQ's remoting protocol has the same request, its number is kept (SEND 10, PULL 11,
 * ... REGISTER_BROKER 103), so packet captures read familiarly; HELLO has no RocketMQ
 * counterpart and takes 1. A new API takes a new number; a changed API keeps its number and
 * gets a new protocol version (schemas/index.ts).
 *
 * Responses are not separate codes: a response envelope carries its request's code and
 * correlation id with the response flag set, and its status is OK, or ERROR when the error
 * flag is set too (then the body is an ErrorResponse). See envelope.ts.
 */

export const request_codes = {
  /** Handshake: first frame on every connection; picks the protocol version. */
  HELLO: 1,
  /** Producer -> broker: one message. */
  SEND: 10,
  /** Consumer -> broker: messages of one queue from an offset (long-poll). */
  PULL: 11,
  /** Admin -> broker, protocol 2: the messages of a topic with a business key (key index). */
  QUERY_MESSAGE: 12,
  /** Consumer -> broker: a group's committed offset of one queue. */
  QUERY_CONSUMER_OFFSET: 14,
  /** Consumer -> broker: commit a group's offset of one queue. */
  COMMIT_CONSUMER_OFFSET: 15,
  /** Admin -> broker: create or update a topic. */
  CREATE_TOPIC: 17,
  /** Slave broker -> its master: every topic config (the slave copies them). */
  GET_ALL_TOPIC_CONFIG: 21,
  /** Client -> broker: the next offset a queue will assign. */
  GET_MAX_OFFSET: 30,
  /** Client -> broker: the oldest offset a queue still holds. */
  GET_MIN_OFFSET: 31,
  /** Admin/client -> broker: one stored message by its message id. */
  GET_MESSAGE: 33,
  /** Client -> broker: the client's producer and consumer groups (liveness and membership). */
  HEARTBEAT: 34,
  /** Client -> broker: leave consumer groups now (shutdown), not at heartbeat expiry. */
  UNREGISTER_CLIENT: 35,
  /** Consumer -> broker: a message the listener failed goes to the retry or dead-letter topic. */
  CONSUMER_SEND_BACK: 36,
  /** Producer -> broker: the outcome of a transaction (COMMIT, ROLLBACK, UNKNOWN) for a half message. */
  END_TRANSACTION: 37,
  /** Slave broker -> its master: every consumer-group offset (the slave copies them). */
  GET_ALL_CONSUMER_OFFSET: 43,
  /** Admin -> broker or namesrv, protocol 2: add or replace an account of its ACL. */
  ACL_UPDATE_ACCOUNT: 50,
  /** Admin -> broker or namesrv, protocol 2: remove an account of its ACL. */
  ACL_DELETE_ACCOUNT: 51,
  /** Admin -> broker or namesrv, protocol 2: its ACL's accounts, without their secrets. */
  ACL_LIST: 52,
  /** Consumer -> broker: the live members of a consumer group (for rebalancing). */
  GET_CONSUMER_LIST: 38,
  /** Broker -> producer, one-way: what became of this half message's transaction? */
  CHECK_TRANSACTION_STATE: 39,
  /** Broker -> namesrv: full registration with topic configs. */
  REGISTER_BROKER: 103,
  /** Broker -> namesrv: leaving the cluster. */
  UNREGISTER_BROKER: 104,
  /** Client -> namesrv: the route of one topic. */
  GET_ROUTE: 105,
  /** Admin -> namesrv: every broker group and broker it knows. */
  GET_CLUSTER_INFO: 106,
  /** Admin -> broker, protocol 2: a consumer group's members, their subscriptions and the queues each reads here. */
  GET_CONSUMER_CONNECTION_LIST: 203,
  /** Admin -> namesrv: the names of the topics it routes. */
  GET_TOPIC_LIST: 206,
  /** Admin -> namesrv: forget a topic's routes. */
  DELETE_TOPIC_IN_NAMESRV: 216,
  /** Producer -> broker: several messages of one topic in one request. */
  SEND_BATCH: 320,
  /** Broker -> namesrv: periodic liveness without topic configs. */
  BROKER_HEARTBEAT: 904,
  /** Client -> namesrv: push ROUTE_CHANGED on this connection when these topics' routes change. */
  SUBSCRIBE_ROUTE: 1001,
  /** Client -> namesrv: stop pushing ROUTE_CHANGED for these topics. */
  UNSUBSCRIBE_ROUTE: 1002,
  /** Namesrv -> client, one-way: a subscribed topic's route changed. */
  ROUTE_CHANGED: 1003,
  /** Admin -> broker: send a dead letter back to the topic it first failed in. */
  RESEND_DEAD_LETTER: 1004,
  /** Broker -> broker: the endpoints it serves besides this port (its RocketMQ 5 gRPC port). */
  GET_BROKER_ENDPOINTS: 1005,
  /** Namesrv -> namesrv: a candidate asks for a vote (schemas/namesrv_cluster.ts). */
  NS_VOTE: 1101,
  /** Namesrv leader -> follower: leadership, the follower's upstream, the commit position. */
  NS_BEAT: 1102,
  /** Namesrv follower -> its upstream: registry log entries from a sequence number. */
  NS_FETCH: 1103,
  /** Namesrv follower -> its upstream, one-way: what is applied here (and behind, in a chain). */
  NS_ACK: 1104,
  /** Namesrv follower -> leader: a registry write that arrived at the follower. */
  NS_FORWARD: 1105,
  /** Anyone -> namesrv: its replication status (and a registry snapshot, for comparisons). */
  NS_STATUS: 1106,
} as const;

export type RequestCodeName = keyof typeof request_codes;
export type RequestCode = (typeof request_codes)[RequestCodeName];

const names_by_code = new Map<number, RequestCodeName>(
  (Object.entries(request_codes) as [RequestCodeName, RequestCode][]).map(([name, code]) => [code, name]),
);

export function isKnownRequestCode(code: number): code is RequestCode {
  return names_by_code.has(code);
}

/** The code's name, or undefined for a code this protocol does not know. */
export function requestCodeName(code: number): RequestCodeName | undefined {
  return names_by_code.get(code);
}
