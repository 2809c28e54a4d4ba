import type { GrpcCaller } from './grpc_caller.js';
import type { GrpcContext } from './grpc_context.js';
import { groupNameOf, topicNameOf } from './grpc_resources.js';
import { GrpcStatusError, ok_status } from './grpc_status.js';
import { Code, type QueryAssignmentRequest, type QueryAssignmentResponse } from './grpc_types.js';
import { accepted_message_types, endpointsOf, permissionOf } from './query_route.js';

/**
 * QueryAssignment: which queues a PushConsumer polls (every 5 s). As for routes
 * (query_route.ts), the answer is ONE queue for this broker, id 0: the pop engine reads
 * every real queue of the topic for the group, so the client's queue id is ignored. Needs SUB
 * on the topic and the group (with access control). Runs on the main thread.
 */
export class QueryAssignmentHandler {
  constructor(private readonly context: GrpcContext) {}

  readonly handle = (request: QueryAssignmentRequest, caller: GrpcCaller): QueryAssignmentResponse => {
    const topic = topicNameOf(request.topic);
    const group = groupNameOf(request.group);
    this.context.gate.require(caller, { kind: 'group', group }, 'QueryAssignment');
    this.context.gate.require(caller, { kind: 'topic', topic, perm: 'SUB' }, 'QueryAssignment');
    const { broker } = this.context;
    const settings = broker.context.topics.get(topic);
    if (settings === undefined) throw new GrpcStatusError(Code.TOPIC_NOT_FOUND, `topic '${topic}' does not exist on broker ${broker.context.broker_name}`);
    const { host, port } = this.context.advertised();
    return {
      status: ok_status,
      assignments: [{
        message_queue: {
          topic: { resource_namespace: '', name: topic },
          id: 0,
          permission: permissionOf(settings.perm, broker.context.store.role !== 'slave'),
          broker: { name: broker.context.broker_name, id: 0, endpoints: endpointsOf(host, port) },
          accept_message_types: [...accepted_message_types],
        },
      }],
    };
  };
}
