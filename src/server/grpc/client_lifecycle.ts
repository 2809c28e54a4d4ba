import type { GrpcCaller } from './grpc_caller.js';
import type { GrpcContext } from './grpc_context.js';
import { groupNameOf } from './grpc_resources.js';
import { ok_status } from './grpc_status.js';
import { ClientType, type HeartbeatRequest, type NotifyClientTerminationRequest, type StatusResponse } from './grpc_types.js';

/**
 * Heartbeat and NotifyClientTermination: a client says it is alive (every 10 s, per broker
 * endpoint) and that it is going. Both keep the client table (grpc_clients.ts) by
 * x-mq-client-id, which consumption and the transaction check-back read. Any account of the
 * ACL may call them. Runs on the main thread.
 *
 * NotifyClientTermination always answers OK, even for a client we never knew: the official
 * client's shutdown() fails — and leaves its timers running — when it does not
 * (rocketmq-client-nodejs src/client/BaseClient.ts:253, 469-475).
 */
export class ClientLifecycleHandlers {
  constructor(private readonly context: GrpcContext) {}

  readonly heartbeat = (request: HeartbeatRequest, caller: GrpcCaller): StatusResponse => {
    const client_id = this.context.gate.requireClientId(caller, 'Heartbeat');
    const group = request.group === undefined || request.client_type === ClientType.PRODUCER ? undefined : groupNameOf(request.group);
    const client = this.context.clients.seen(client_id, {
      client_type: request.client_type,
      ...(group === undefined ? {} : { group }),
      account: caller.account?.accessKey ?? '',
      remote_ip: caller.remote_ip,
    }, this.context.clock.nowMs());
    // The topics come from the client's Telemetry settings (a Heartbeat names only the group).
    if (group !== undefined) void this.context.consumption?.subscribed(this.context, caller, group, client.topics);
    return { status: ok_status };
  };

  readonly notifyClientTermination = (_request: NotifyClientTerminationRequest, caller: GrpcCaller): StatusResponse => {
    if (caller.client_id !== '') this.context.clients.forget(caller.client_id, caller.account?.accessKey ?? '');
    return { status: ok_status };
  };
}
