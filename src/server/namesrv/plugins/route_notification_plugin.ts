import {
  checkName,
  decodeSubscribeRouteRequest,
  decodeUnsubscribeRouteRequest,
  encodeRouteChangedNotification,
  encodeSubscribeRouteResponse,
  encodeUnsubscribeRouteResponse,
  request_codes,
  type Result,
} from '../../../protocol/index.js';
import type { RegistryEvent } from '../../../actors/registry/registry_events.js';
import { MqError } from '../../../runtime/errors.js';
import type { ServerConnection } from '../../remoting/server_connection.js';
import type { NamesrvPlugin, NamesrvPluginContext, NamesrvPluginFactory } from '../namesrv_plugin.js';

export const route_notification_limits = {
  /** Topics one connection may subscribe to (a client needs the topics it produces and consumes). */
  topics_per_connection_max: 4_096,
} as const;

/**
 * Route-change notifications (schemas/route_notification.ts): clients subscribe to topics
 * on their connection with SUBSCRIBE_ROUTE; on every route_changed event of such a topic the
 * nameserver pushes a one-way ROUTE_CHANGED on each subscribed connection. The notification
 * is encoded once per event and written to every subscriber. A connection's subscriptions
 * end with the connection.
 */
class RouteNotifications implements NamesrvPlugin {
  readonly name = 'route-notifications';
  private readonly subscribers = new Map<string, Set<ServerConnection>>();
  private readonly topics_of = new Map<ServerConnection, Set<string>>();
  private pushed = 0;

  constructor(context: NamesrvPluginContext) {
    context.handle(request_codes.SUBSCRIBE_ROUTE, (body, { connection }) => {
      const topics = decoded(decodeSubscribeRouteRequest(body)).topics;
      return encodeSubscribeRouteResponse({ subscribedTopics: this.subscribe(connection, topics) });
    });
    context.handle(request_codes.UNSUBSCRIBE_ROUTE, (body, { connection }) => {
      const topics = decoded(decodeUnsubscribeRouteRequest(body)).topics;
      return encodeUnsubscribeRouteResponse({ subscribedTopics: this.unsubscribe(connection, topics) });
    });
    context.onDisconnect((connection) => this.forget(connection));
  }

  onEvent(event: RegistryEvent): void {
    if (event.kind !== 'route_changed') return;
    const connections = this.subscribers.get(event.topic);
    if (connections === undefined) return;
    const body = encodeRouteChangedNotification({ topic: event.topic, routeVersion: event.route_version, brokerNames: event.broker_names });
    const closed: ServerConnection[] = [];
    for (const connection of connections) {
      if (connection.push(request_codes.ROUTE_CHANGED, body)) this.pushed++;
      else closed.push(connection);
    }
    for (const connection of closed) this.forget(connection);
  }

  close(): void {
    this.subscribers.clear();
    this.topics_of.clear();
  }

  /** For tests and the inspector. */
  get notifications_pushed(): number {
    return this.pushed;
  }

  private subscribe(connection: ServerConnection, topics: readonly string[]): number {
    for (const topic of topics) {
      const invalid = checkName('topic', topic);
      if (invalid !== undefined) throw new MqError('BAD_REQUEST', invalid.message);
    }
    if (!connection.open) return 0;
    const mine = this.topics_of.get(connection) ?? new Set<string>();
    const added = topics.filter((topic) => !mine.has(topic));
    if (mine.size + new Set(added).size > route_notification_limits.topics_per_connection_max) {
      throw new MqError('BAD_REQUEST', `a connection may subscribe to ${route_notification_limits.topics_per_connection_max} topics; unsubscribe some first or open another connection`);
    }
    for (const topic of added) {
      mine.add(topic);
      let connections = this.subscribers.get(topic);
      if (connections === undefined) this.subscribers.set(topic, (connections = new Set()));
      connections.add(connection);
    }
    this.topics_of.set(connection, mine);
    return mine.size;
  }

  private unsubscribe(connection: ServerConnection, topics: readonly string[]): number {
    const mine = this.topics_of.get(connection);
    if (mine === undefined) return 0;
    for (const topic of topics) {
      if (!mine.delete(topic)) continue;
      const connections = this.subscribers.get(topic);
      connections?.delete(connection);
      if (connections?.size === 0) this.subscribers.delete(topic);
    }
    if (mine.size === 0) this.topics_of.delete(connection);
    return mine.size;
  }

  private forget(connection: ServerConnection): void {
    const mine = this.topics_of.get(connection);
    if (mine !== undefined) this.unsubscribe(connection, [...mine]);
  }
}

function decoded<T>(result: Result<T>): T {
  if (!result.ok) throw new MqError('BAD_REQUEST', result.error.message);
  return result.value;
}

export const createPlugin: NamesrvPluginFactory = (context) => new RouteNotifications(context);
