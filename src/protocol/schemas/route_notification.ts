/**
 * Route-change notifications: a client subscribes to topics on its connection to a
 * nameserver (SUBSCRIBE_ROUTE, UNSUBSCRIBE_ROUTE), and the nameserver then pushes a one-way
 * ROUTE_CHANGED request on that connection whenever a subscribed topic's route changes, so
 * the client refreshes at once instead of at its next poll.
 *
 * A notification is a hint, not the route: it carries the new route version and the broker
 * groups that serve the topic now (empty when the route was withdrawn or the topic deleted),
 * and the client fetches the route with GET_ROUTE when the version is newer than its own.
 * Subscribe first, then fetch: a change in between is notified, so none is missed.
 * Subscriptions live as long as the connection; a client re-subscribes after reconnecting.
 */
import { defineCodec } from '../avro_codec.js';
import type { Result } from '../protocol_error.js';

export const route_notification_protocol_version = 1;

export interface SubscribeRouteRequest {
  topics: string[];
}

export interface SubscribeRouteResponse {
  /** Topics this connection is subscribed to after the request. */
  subscribedTopics: number;
}

export type UnsubscribeRouteRequest = SubscribeRouteRequest;
export type UnsubscribeRouteResponse = SubscribeRouteResponse;

export interface RouteChangedNotification {
  topic: string;
  /** The route version a GET_ROUTE answers now (or, when deleted, the version of the deletion). */
  routeVersion: number;
  /** Broker groups serving the topic now, sorted; empty when none does. */
  brokerNames: string[];
}

/** Never sent: ROUTE_CHANGED is one-way. Declared so the API has a response record like every other. */
export type RouteChangedAck = Record<string, never>;

const topics_fields = [{ name: 'topics', type: { type: 'array', items: 'string' } }];
const subscribed_fields = [{ name: 'subscribedTopics', type: 'int' }];

export const subscribe_route_request_v1 = defineCodec<SubscribeRouteRequest>({
  protocol_version: 1,
  schema: { type: 'record', name: 'SubscribeRouteRequest', fields: topics_fields },
});

export const subscribe_route_response_v1 = defineCodec<SubscribeRouteResponse>({
  protocol_version: 1,
  schema: { type: 'record', name: 'SubscribeRouteResponse', fields: subscribed_fields },
});

export const unsubscribe_route_request_v1 = defineCodec<UnsubscribeRouteRequest>({
  protocol_version: 1,
  schema: { type: 'record', name: 'UnsubscribeRouteRequest', fields: topics_fields },
});

export const unsubscribe_route_response_v1 = defineCodec<UnsubscribeRouteResponse>({
  protocol_version: 1,
  schema: { type: 'record', name: 'UnsubscribeRouteResponse', fields: subscribed_fields },
});

export const route_changed_notification_v1 = defineCodec<RouteChangedNotification>({
  protocol_version: 1,
  schema: {
    type: 'record',
    name: 'RouteChangedNotification',
    fields: [
      { name: 'topic', type: 'string' },
      { name: 'routeVersion', type: 'long' },
      { name: 'brokerNames', type: { type: 'array', items: 'string' } },
    ],
  },
});

export const route_changed_ack_v1 = defineCodec<RouteChangedAck>({
  protocol_version: 1,
  schema: { type: 'record', name: 'RouteChangedAck', fields: [] },
});

export function encodeSubscribeRouteRequest(value: SubscribeRouteRequest): Buffer {
  return subscribe_route_request_v1.encode(value);
}
export function decodeSubscribeRouteRequest(bytes: Uint8Array): Result<SubscribeRouteRequest> {
  return subscribe_route_request_v1.decode(bytes);
}
export function encodeSubscribeRouteResponse(value: SubscribeRouteResponse): Buffer {
  return subscribe_route_response_v1.encode(value);
}
export function decodeSubscribeRouteResponse(bytes: Uint8Array): Result<SubscribeRouteResponse> {
  return subscribe_route_response_v1.decode(bytes);
}
export function encodeUnsubscribeRouteRequest(value: UnsubscribeRouteRequest): Buffer {
  return unsubscribe_route_request_v1.encode(value);
}
export function decodeUnsubscribeRouteRequest(bytes: Uint8Array): Result<UnsubscribeRouteRequest> {
  return unsubscribe_route_request_v1.decode(bytes);
}
export function encodeUnsubscribeRouteResponse(value: UnsubscribeRouteResponse): Buffer {
  return unsubscribe_route_response_v1.encode(value);
}
export function decodeUnsubscribeRouteResponse(bytes: Uint8Array): Result<UnsubscribeRouteResponse> {
  return unsubscribe_route_response_v1.decode(bytes);
}
export function encodeRouteChangedNotification(value: RouteChangedNotification): Buffer {
  return route_changed_notification_v1.encode(value);
}
export function decodeRouteChangedNotification(bytes: Uint8Array): Result<RouteChangedNotification> {
  return route_changed_notification_v1.decode(bytes);
}
export function encodeRouteChangedAck(value: RouteChangedAck): Buffer {
  return route_changed_ack_v1.encode(value);
}
export function decodeRouteChangedAck(bytes: Uint8Array): Result<RouteChangedAck> {
  return route_changed_ack_v1.decode(bytes);
}
