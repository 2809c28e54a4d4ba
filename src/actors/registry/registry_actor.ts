import {
  decodeBrokerHeartbeatRequest,
  decodeDeleteTopicRequest,
  decodeGetClusterInfoRequest,
  decodeGetRouteRequest,
  decodeGetTopicListRequest,
  decodeRegisterBrokerRequest,
  decodeUnregisterBrokerRequest,
  encodeBrokerHeartbeatResponse,
  encodeClusterInfo,
  encodeDeleteTopicResponse,
  encodeRegisterBrokerResponse,
  encodeTopicList,
  encodeTopicRouteData,
  encodeUnregisterBrokerResponse,
  type Result,
} from '../../protocol/index.js';
import { defineActor, type ActorContext } from '../../runtime/actor.js';
import { assert, assertNever } from '../../runtime/assert.js';
import { MqError } from '../../runtime/errors.js';
import { registry_limits } from './registry_limits.js';
import { registry_protocol, type RegistryArgs, type RegistryMessage, type RegistryReply } from './registry_messages.js';
import { RouteRegistry } from './route_registry.js';

const no_response = Buffer.alloc(0);

/**
 * The nameserver's registry (`namesrv/registry`): one actor, so every change to routes is
 * applied one at a time and versions and events come out in one order. It keeps nothing on
 * disk: brokers register with every nameserver at start and heartbeat, so a restarted
 * nameserver learns the cluster again within one heartbeat interval.
 */
class RegistryActor {
  private readonly registry: RouteRegistry;

  constructor(context: ActorContext, args: RegistryArgs) {
    const expiry_ms = args.broker_expiry_ms;
    // The configuration checked the range already (--broker-expiry-ms): out of it is a bug.
    assert(
      Number.isInteger(expiry_ms) && expiry_ms >= registry_limits.broker_expiry_ms_min && expiry_ms <= registry_limits.broker_expiry_ms_max,
      `broker expiry ${expiry_ms} ms is not in ${registry_limits.broker_expiry_ms_min}..${registry_limits.broker_expiry_ms_max}`,
    );
    this.registry = new RouteRegistry({ clock: context.clock, broker_expiry_ms: expiry_ms });
  }

  receive(message: RegistryMessage): RegistryReply {
    switch (message.kind) {
      case 'register_broker': {
        const outcome = this.registry.register(decoded(decodeRegisterBrokerRequest(message.body)), message.connection_id);
        return { response: encodeRegisterBrokerResponse(outcome.value), events: outcome.events };
      }
      case 'broker_heartbeat': {
        const answer = this.registry.heartbeat(decoded(decodeBrokerHeartbeatRequest(message.body)), message.connection_id);
        return { response: encodeBrokerHeartbeatResponse(answer), events: [] };
      }
      case 'unregister_broker': {
        const outcome = this.registry.unregister(decoded(decodeUnregisterBrokerRequest(message.body)));
        return { response: encodeUnregisterBrokerResponse(outcome.value), events: outcome.events };
      }
      case 'get_route':
        return { response: encodeTopicRouteData(this.registry.route(decoded(decodeGetRouteRequest(message.body)).topic)), events: [] };
      case 'get_cluster_info':
        decoded(decodeGetClusterInfoRequest(message.body));
        return { response: encodeClusterInfo(this.registry.clusterInfo()), events: [] };
      case 'get_topic_list':
        return { response: encodeTopicList(this.registry.topicList(decoded(decodeGetTopicListRequest(message.body)).cluster)), events: [] };
      case 'delete_topic': {
        const outcome = this.registry.deleteTopic(decoded(decodeDeleteTopicRequest(message.body)).topic);
        return { response: encodeDeleteTopicResponse(outcome.value), events: outcome.events };
      }
      case 'connection_closed':
        return { response: no_response, events: this.registry.connectionClosed(message.connection_id) };
      case 'expire':
        return { response: no_response, events: this.registry.expire() };
      default:
        return assertNever(message, 'registry message');
    }
  }

  inspect(): Record<string, unknown> {
    return this.registry.summary();
  }
}

/** A request body that does not decode is the sender's fault: BAD_REQUEST, saying why. */
function decoded<T>(result: Result<T>): T {
  if (!result.ok) throw new MqError('BAD_REQUEST', result.error.message);
  return result.value;
}

export const actor = defineActor<RegistryMessage, RegistryReply, RegistryArgs>({
  name: 'registry',
  protocol: registry_protocol,
  create: (context, args) => new RegistryActor(context, args),
});
