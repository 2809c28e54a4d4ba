import { isIPv4, isIPv6 } from 'node:net';
import { perm_read, perm_write } from '../../protocol/index.js';
import type { TopicSettings } from '../broker/topic_config_store.js';
import type { PeerBroker } from './cluster_routes.js';
import type { GrpcCaller } from './grpc_caller.js';
import type { GrpcContext } from './grpc_context.js';
import { GrpcStatusError, ok_status } from './grpc_status.js';
import { AddressScheme, Code, MessageType, Permission, type Endpoints, type MessageQueue, type QueryRouteRequest, type QueryRouteResponse } from './grpc_types.js';
import { topicNameOf } from './grpc_resources.js';

/**
 * QueryRoute: the topic's message queues as the RocketMQ 5 clients want them — ONE
 * MessageQueue per master that serves the topic, with id 0: this broker's, and every other
 * master's with its own gRPC endpoint (cluster_routes.ts).
 *
 * Why one queue, id 0: the official clients keep only queues whose id is 0
 * (`MASTER_BROKER_ID`, compared with the queue id; rocketmq-client-nodejs
 * src/producer/PublishingLoadBalancer.ts:28-30, src/consumer/SubscriptionLoadBalancer.ts:28-30),
 * so the broker's real queues cannot be listed. The RocketMQ proxy does the same: the client
 * picks a broker, the broker picks the queue — round robin for a normal send, the message
 * group's hash for FIFO (send_message.ts), every queue for consumption.
 *
 * This broker's queue is described from its own topic table (its permissions are current),
 * the other masters' from the nameserver's route. This broker's endpoint is its advertised
 * address (--advertise-host and the gRPC port).
 *
 * A topic no broker holds is TOPIC_NOT_FOUND, unless this broker auto-creates topics (as a
 * send would, send_handlers.ts topicForSend): then the query creates it — on a master, and
 * with access control only for an account that may publish to it, since creating a topic is
 * what publishing to a new one does. A topic other masters hold is not created here, nor
 * any topic while the nameserver cannot be asked (it might hold it elsewhere).
 *
 * Runs on the main thread (it reads and may change the broker's topic table).
 */

/** Every type a route accepts: the broker stores all four (validate_message_type stays on). */
export const accepted_message_types = [MessageType.NORMAL, MessageType.FIFO, MessageType.DELAY, MessageType.TRANSACTION] as const;

/** The route's Endpoints for `host:port`: one address (the clients dial exactly one). */
export function endpointsOf(host: string, port: number): Endpoints {
  const scheme = isIPv4(host) ? AddressScheme.IPv4 : isIPv6(host) ? AddressScheme.IPv6 : AddressScheme.DOMAIN_NAME;
  return { scheme, addresses: [{ host, port }] };
}

/** A topic's permission bits as the proto's Permission; a slave takes no writes. */
export function permissionOf(perm: number, writable_here: boolean): number {
  const read = (perm & perm_read) !== 0;
  const write = writable_here && (perm & perm_write) !== 0;
  if (read && write) return Permission.READ_WRITE;
  if (read) return Permission.READ;
  if (write) return Permission.WRITE;
  return Permission.NONE;
}

/** The id-0 MessageQueue of this broker for `topic`. */
function ownQueue(context: GrpcContext, topic: string, settings: TopicSettings): MessageQueue {
  const { host, port } = context.advertised();
  const broker = context.broker.context;
  return {
    topic: { resource_namespace: '', name: topic },
    id: 0,
    permission: permissionOf(settings.perm, broker.store.role !== 'slave'),
    broker: { name: broker.broker_name, id: 0, endpoints: endpointsOf(host, port) },
    accept_message_types: [...accepted_message_types],
  };
}

/** The id-0 MessageQueue of another master for `topic`. */
function peerQueue(topic: string, peer: PeerBroker): MessageQueue {
  return {
    topic: { resource_namespace: '', name: topic },
    id: 0,
    permission: permissionOf(peer.perm, true),
    broker: { name: peer.broker_name, id: 0, endpoints: endpointsOf(peer.grpc.host, peer.grpc.port) },
    accept_message_types: [...accepted_message_types],
  };
}

/** A route's queues: this broker's (when it holds the topic), then the other masters'. */
export function routeQueues(context: GrpcContext, topic: string, own: TopicSettings | undefined, peers: readonly PeerBroker[]): MessageQueue[] {
  return [...(own === undefined ? [] : [ownQueue(context, topic, own)]), ...peers.map((peer) => peerQueue(topic, peer))];
}

export class QueryRouteHandler {
  constructor(private readonly context: GrpcContext) {}

  readonly handle = async (request: QueryRouteRequest, caller: GrpcCaller): Promise<QueryRouteResponse> => {
    const name = topicNameOf(request.topic);
    const slave = this.context.broker.context.store.role === 'slave';
    const cluster = await this.context.cluster?.peersOf(name, { own_group: slave });
    const peers = cluster?.peers ?? [];
    // A slave lists its group's master (and the other masters) instead of itself: it takes
    // no RocketMQ 5 client. Alone, it answers with itself (read only), as before.
    if (slave && peers.length > 0) return { status: ok_status, message_queues: routeQueues(this.context, name, undefined, peers) };
    // Asked after the awaits: the topic table may have changed meanwhile. Created here only
    // when no other group holds it (and the nameserver could say so, or there is none).
    const create = peers.length === 0 && (cluster === undefined || cluster.others_hold === false);
    const own = create ? this.topicOf(name, caller) : this.knownTopic(name, peers.length);
    return { status: ok_status, message_queues: routeQueues(this.context, name, own, peers) };
  };

  /** This broker's settings of a topic it must not create; TOPIC_NOT_FOUND when there are no queues at all to answer with. */
  private knownTopic(name: string, peers: number): TopicSettings | undefined {
    const known = this.context.broker.context.topics.get(name);
    if (known === undefined && peers === 0) {
      throw new GrpcStatusError(Code.TOPIC_NOT_FOUND, `topic '${name}' is not on broker ${this.context.broker.context.broker_name}, and no other master's gRPC endpoint is known for it now; retry shortly`);
    }
    return known;
  }

  private topicOf(name: string, caller: GrpcCaller): TopicSettings {
    const { context: broker, send } = this.context.broker;
    const known = broker.topics.get(name);
    if (known !== undefined) return known;
    const may_create = broker.auto_create_topic && broker.store.role !== 'slave' && (!this.context.gate.access_control || this.mayPublish(caller, name));
    if (!may_create) {
      throw new GrpcStatusError(Code.TOPIC_NOT_FOUND, `topic '${name}' does not exist on broker ${broker.broker_name}; create it with 'mq-node admin topic create'${broker.auto_create_topic ? '' : ' (auto-create is off)'}`);
    }
    // Created as a first send would create it (default queues, read-write, registered).
    return send.writableTopic(name);
  }

  private mayPublish(caller: GrpcCaller, topic: string): boolean {
    try {
      this.context.gate.require(caller, { kind: 'topic', topic, perm: 'PUB' }, 'QueryRoute');
      return true;
    } catch {
      return false;
    }
  }
}
