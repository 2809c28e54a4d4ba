import type * as grpc from '@grpc/grpc-js';
import type { ClientIdentity } from '../remoting/client_limits.js';
import type { PopEngine, ReceivedMessage } from './pop/pop_engine.js';
import { msOf } from './client_settings.js';
import type { GrpcCaller } from './grpc_caller.js';
import type { GrpcContext } from './grpc_context.js';
import { grpc_settings_defaults } from './grpc_limits.js';
import { isMalformed, type MalformedRequest } from './grpc_proto.js';
import { groupNameOf, topicNameOf } from './grpc_resources.js';
import { GrpcStatusError, isUnexpected, ok_status, statusOf } from './grpc_status.js';
import { Code, FilterType, type ReceiveMessageRequest, type ReceiveMessageResponse } from './grpc_types.js';
import { outgoingMessage, timestampOf } from './outgoing_message.js';

export type ReceiveCall = grpc.ServerWritableStream<ReceiveMessageRequest | MalformedRequest, ReceiveMessageResponse>;

export const receive_limits = {
  /** The long poll ends this long before the call's deadline, so that the answer (and the
   *  messages read) reach the client before it gives up: a DEADLINE_EXCEEDED loses every
   *  message of the batch (they stay invisible until their time runs out). */
  deadline_margin_ms: 1_000,
} as const;

/**
 * ReceiveMessage (server streaming): the SimpleConsumer's receive() and the PushConsumer's
 * poll, over the pop engine. The answer is `status` OK, `delivery_timestamp`, then one
 * `message` per received message, then the end; nothing received is a single
 * MESSAGE_NOT_FOUND (40401), which the client reads as an empty batch. A failure is a single
 * status: any non-OK gRPC status would make the client lose the batch.
 *
 * The long poll waits for the client's `long_polling_timeout` (grpc_settings_defaults when it names none),
 * capped by the call's deadline minus a margin. When the call is cancelled (the client went
 * away) its hold is released at once and nothing is read for it.
 *
 * Runs on the main thread; held receives are in the broker's PullHold (shared with PULL).
 */
export class ReceiveMessageHandler {
  /** The hold owners of receives running now: released (answered empty) when the endpoint stops. */
  private readonly running = new Set<object>();

  constructor(
    private readonly context: GrpcContext,
    private readonly engine: PopEngine,
    private readonly clientOf: (caller: GrpcCaller) => ClientIdentity,
  ) {}

  readonly handle = (call: ReceiveCall): void => {
    const owner = {};
    let open = true;
    this.running.add(owner);
    call.on('cancelled', () => {
      open = false;
      this.context.broker.context.pulls.release(owner);
    });
    const finish = (responses: ReceiveMessageResponse[]): void => {
      this.running.delete(owner);
      if (!open) return;
      try {
        for (const response of responses) call.write(response);
        call.end();
      } catch (error) {
        this.context.log.debug({ err: error }, 'ReceiveMessage answer not written: the call is gone');
      }
    };
    this.receive(call, owner, () => open).then(finish, (error: unknown) => {
      if (isUnexpected(error)) this.context.log.error({ err: error, rpc: 'ReceiveMessage' }, 'gRPC call failed unexpectedly');
      finish([{ status: statusOf(error) }]);
    });
  };

  /** Answers every held receive now, empty (the endpoint stops). */
  releaseAll(): void {
    for (const owner of this.running) this.context.broker.context.pulls.release(owner);
  }

  private async receive(call: ReceiveCall, owner: object, open: () => boolean): Promise<ReceiveMessageResponse[]> {
    const caller = this.context.gate.admit(call.metadata, call.getPeer());
    const request = call.request;
    if (isMalformed(request)) throw new GrpcStatusError(Code.BAD_REQUEST, `the ReceiveMessage request cannot be decoded: ${request.reason}`);
    const group = groupNameOf(request.group);
    const topic = topicNameOf(request.message_queue?.topic);
    this.context.broker.context.requireMaster('a receive');
    this.context.gate.require(caller, { kind: 'group', group }, 'ReceiveMessage');
    this.context.gate.require(caller, { kind: 'topic', topic, perm: 'SUB' }, 'ReceiveMessage');
    const invisible_ms = msOf(request.invisible_duration);
    const received = await this.engine.receive({
      group,
      topic,
      filter: filterOf(request),
      batch_size: request.batch_size,
      ...(invisible_ms === undefined ? {} : { invisible_ms }),
      long_poll_ms: this.longPollMs(request, call),
      holder: { owner, client: this.clientOf(caller), open },
    });
    // The call went while the messages were collected: they are made visible again at once,
    // not left invisible for the time the client asked (up to hours) with nobody to ack them.
    if (!open()) {
      for (const entry of received) this.engine.changeInvisibleDuration(group, topic, entry.receipt_handle, 0);
      return [];
    }
    return responsesOf(received, this.context.clock.nowMs());
  }

  private longPollMs(request: ReceiveMessageRequest, call: ReceiveCall): number {
    const asked_ms = msOf(request.long_polling_timeout) ?? grpc_settings_defaults.long_polling_timeout_ms_default;
    const deadline = call.getDeadline();
    const deadline_ms = deadline instanceof Date ? deadline.getTime() : deadline;
    const left_ms = Number.isFinite(deadline_ms) ? deadline_ms - this.context.clock.nowMs() - receive_limits.deadline_margin_ms : Infinity;
    return Math.max(0, Math.min(asked_ms, grpc_settings_defaults.long_polling_timeout_ms_max, left_ms));
  }
}

/** The engine's tag expression; SQL92 filters are not supported by mq-node. */
function filterOf(request: ReceiveMessageRequest): string {
  const filter = request.filter_expression;
  if (filter === undefined || filter === null) return '*';
  if (filter.type === FilterType.SQL) throw new GrpcStatusError(Code.BAD_REQUEST, 'SQL filter expressions are not supported by mq-node; subscribe with a tag expression (\'*\' or \'a||b\')');
  if (filter.type !== FilterType.TAG && filter.type !== FilterType.FILTER_TYPE_UNSPECIFIED) throw new GrpcStatusError(Code.ILLEGAL_FILTER_EXPRESSION, `filter type ${filter.type} is not TAG (1)`);
  return filter.expression;
}

export function responsesOf(received: readonly ReceivedMessage[], now_ms: number): ReceiveMessageResponse[] {
  if (received.length === 0) return [{ status: { code: Code.MESSAGE_NOT_FOUND, message: 'no new message' } }];
  return [
    { status: ok_status },
    { delivery_timestamp: timestampOf(now_ms) },
    ...received.map((entry) => ({ message: outgoingMessage(entry.message, { receipt_handle: entry.receipt_handle, delivery_attempt: entry.delivery_attempt, invisible_ms: entry.invisible_ms }) })),
  ];
}
