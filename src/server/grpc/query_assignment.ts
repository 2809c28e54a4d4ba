import type { GrpcCaller } from './grpc_caller.js';
import type { GrpcContext } from './grpc_context.js';
import { groupNameOf, topicNameOf } from './grpc_resources.js';
import { GrpcStatusError, ok_status } from './grpc_status.js';
import { Code, Permission, type QueryAssignmentRequest, type QueryAssignmentResponse } from './grpc_types.js';
import { routeQueues } from './query_route.js';

/**
 * QueryAssignment: which queues a PushConsumer polls (every 5 s). As for routes
 * (query_route.ts), the answer is ONE queue per master that serves the topic and lets it be
 * read, id 0: the pop engine reads every real queue of the topic for the group, so the
 * client's queue id is ignored. Needs SUB on the topic and the group (with access control).
 * Runs on the main thread.
 */
export class QueryAssignmentHandler {
  constructor(private readonly context: GrpcContext) {}

  readonly handle = async (request: QueryAssignmentRequest, caller: GrpcCaller): Promise<QueryAssignmentResponse> => {
    const topic = topicNameOf(request.topic);
    const group = groupNameOf(request.group);
    this.context.gate.require(caller, { kind: 'group', group }, 'QueryAssignment');
    this.context.gate.require(caller, { kind: 'topic', topic, perm: 'SUB' }, 'QueryAssignment');
    const peers = (await this.context.cluster?.peersOf(topic))?.peers ?? [];
    const broker = this.context.broker.context;
    const own = broker.topics.get(topic);
    if (own === undefined && peers.length === 0) throw new GrpcStatusError(Code.TOPIC_NOT_FOUND, `topic '${topic}' does not exist on broker ${broker.broker_name}`);
    const readable = routeQueues(this.context, topic, own, peers).filter((queue) => queue.permission === Permission.READ || queue.permission === Permission.READ_WRITE);
    return { status: ok_status, assignments: readable.map((message_queue) => ({ message_queue })) };
  };
}
