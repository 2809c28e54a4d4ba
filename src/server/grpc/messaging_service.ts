import type * as grpc from '@grpc/grpc-js';
import { ClientLifecycleHandlers } from './client_lifecycle.js';
import type { SettingsOptions } from './client_settings.js';
import type { GrpcCaller } from './grpc_caller.js';
import type { GrpcContext } from './grpc_context.js';
import { EndTransactionHandler } from './end_transaction.js';
import { isMalformed, type MalformedRequest } from './grpc_proto.js';
import { GrpcStatusError, isUnexpected, statusOf } from './grpc_status.js';
import { Code, type Status } from './grpc_types.js';
import { QueryRouteHandler } from './query_route.js';
import { SendMessageHandler } from './send_message.js';
import { TelemetrySessions } from './telemetry_sessions.js';

/**
 * The implementation of `apache.rocketmq.v2.MessagingService` handed to grpc-js: one entry
 * per RPC this endpoint serves, each behind the same gate (unaryRpc): the caller is admitted
 * (namespace, signature); a request protobuf could not decode answers BAD_REQUEST; whatever a handler throws becomes the response's `status` — a gRPC OK
 * always, never a hang, never an unhandled rejection.
 *
 * The consumption RPCs (ReceiveMessage, AckMessage, ChangeInvisibleDuration, QueryAssignment,
 * ForwardMessageToDeadLetterQueue) come from the `more` part (grpc_consumption.ts). RPCs
 * without an entry get grpc-js's UNIMPLEMENTED: PullMessage, UpdateOffset, GetOffset,
 * QueryOffset, RecallMessage and SyncLiteSubscription, which the official clients do not call
 * (or only optionally), and the consumption RPCs on an endpoint built without that part.
 *
 * Runs on the main thread.
 */

/** A unary RPC's handler: the decoded request and its admitted caller in, the response (with its status) out. */
export type UnaryHandler<Request, Response> = (request: Request, caller: GrpcCaller) => Response | Promise<Response>;

/** RPC name -> grpc-js handler, for parts of the service built elsewhere (consumption). */
export type RpcImplementations = Record<string, grpc.UntypedHandleCall>;

export interface MessagingServiceParts {
  settings: SettingsOptions;
  /** More RPCs (the consumption RPCs); their names must not clash with the producer side's. */
  more?: (context: GrpcContext, sessions: TelemetrySessions) => RpcImplementations;
}

/** Wraps a unary handler: decode check, admission, status mapping (see the file comment). */
export function unaryRpc<Request, Response extends { status: Status }>(context: GrpcContext, rpc: string, handler: UnaryHandler<Request, Response>): grpc.handleUnaryCall<Request | MalformedRequest, Response | { status: Status }> {
  return (call, callback) => {
    const run = async (): Promise<Response | { status: Status }> => {
      try {
        // Admission first: a caller that may not call learns nothing about its request.
        const caller = context.gate.admit(call.metadata, call.getPeer());
        const request = call.request;
        if (isMalformed(request)) throw new GrpcStatusError(Code.BAD_REQUEST, `the ${rpc} request cannot be decoded: ${request.reason}`);
        return await handler(request, caller);
      } catch (error) {
        if (isUnexpected(error)) context.log.error({ err: error, rpc }, 'gRPC call failed unexpectedly');
        return { status: statusOf(error) };
      }
    };
    void run().then((response) => callback(null, response));
  };
}

export interface MessagingService {
  implementation: RpcImplementations;
  sessions: TelemetrySessions;
}

export function messagingService(context: GrpcContext, parts: MessagingServiceParts): MessagingService {
  const route = new QueryRouteHandler(context);
  const send = new SendMessageHandler(context);
  const end = new EndTransactionHandler(context);
  const lifecycle = new ClientLifecycleHandlers(context);
  const sessions = new TelemetrySessions(context, parts.settings);
  const own: RpcImplementations = {
    QueryRoute: unaryRpc(context, 'QueryRoute', route.handle),
    Heartbeat: unaryRpc(context, 'Heartbeat', lifecycle.heartbeat),
    SendMessage: unaryRpc(context, 'SendMessage', send.handle),
    EndTransaction: unaryRpc(context, 'EndTransaction', end.handle),
    NotifyClientTermination: unaryRpc(context, 'NotifyClientTermination', lifecycle.notifyClientTermination),
    Telemetry: sessions.handle as grpc.UntypedHandleCall,
  };
  const more = parts.more?.(context, sessions) ?? {};
  const clash = Object.keys(more).find((name) => name in own);
  if (clash !== undefined) throw new Error(`RPC ${clash} is implemented twice`);
  return { implementation: { ...own, ...more }, sessions };
}
