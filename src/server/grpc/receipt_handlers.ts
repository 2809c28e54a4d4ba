import type { PopEngine } from './pop/pop_engine.js';
import { durationOf, msOf } from './client_settings.js';
import type { GrpcCaller } from './grpc_caller.js';
import type { GrpcContext } from './grpc_context.js';
import { groupNameOf, topicNameOf } from './grpc_resources.js';
import { GrpcStatusError, ok_status } from './grpc_status.js';
import {
  Code,
  type AckMessageRequest,
  type AckMessageResponse,
  type AckMessageResultEntry,
  type ChangeInvisibleDurationRequest,
  type ChangeInvisibleDurationResponse,
  type ForwardMessageToDeadLetterQueueRequest,
  type Resource,
  type StatusResponse,
} from './grpc_types.js';

export const receipt_limits = {
  /** Entries in one AckMessage (the official clients ack one message per call). */
  ack_entries_max: 1_024,
} as const;

/**
 * The RPCs that name a received message by its receipt handle: AckMessage,
 * ChangeInvisibleDuration and ForwardMessageToDeadLetterQueue, over the pop engine. Each
 * needs SUB on the topic and the group (with access control) and a master. A handle that
 * is stale (redelivered since, acked, changed, or from before a restart) is
 * INVALID_RECEIPT_HANDLE (40013): the SimpleConsumer throws a BadRequestException with that
 * code, the PushConsumer gives up on the ack silently. Runs on the main thread.
 */
export class ReceiptHandlers {
  constructor(
    private readonly context: GrpcContext,
    private readonly engine: PopEngine,
  ) {}

  /** Per-entry statuses; the top-level status is OK unless every entry failed (then the first failure). */
  readonly ack = (request: AckMessageRequest, caller: GrpcCaller): AckMessageResponse => {
    const { group, topic } = this.admitted(request, caller, 'AckMessage');
    if (request.entries.length === 0 || request.entries.length > receipt_limits.ack_entries_max) {
      throw new GrpcStatusError(Code.BAD_REQUEST, `an AckMessage carries 1..${receipt_limits.ack_entries_max} entries, not ${request.entries.length}`);
    }
    const entries: AckMessageResultEntry[] = request.entries.map((entry) => {
      const result = this.engine.ack(group, topic, entry.receipt_handle);
      const status = result.status === 'ok' ? ok_status : invalidHandle(entry.message_id, result.reason);
      return { message_id: entry.message_id, receipt_handle: entry.receipt_handle, status };
    });
    const failed = entries.filter((entry) => entry.status.code !== Code.OK);
    return { status: failed.length === entries.length ? (failed[0] as AckMessageResultEntry).status : ok_status, entries };
  };

  /** A new invisible time under a new receipt handle (the client replaces its handle with it). */
  readonly changeInvisibleDuration = (request: ChangeInvisibleDurationRequest, caller: GrpcCaller): ChangeInvisibleDurationResponse => {
    const { group, topic } = this.admitted(request, caller, 'ChangeInvisibleDuration');
    const invisible_ms = msOf(request.invisible_duration);
    if (invisible_ms === undefined) throw new GrpcStatusError(Code.ILLEGAL_INVISIBLE_TIME, 'invisible_duration is missing or not a duration from 0 to 12 h');
    const result = this.engine.changeInvisibleDuration(group, topic, request.receipt_handle, invisible_ms);
    if (result.status !== 'ok') return { status: invalidHandle(request.message_id, result.reason), receipt_handle: '' };
    return { status: { code: Code.OK, message: `invisible for ${durationOf(result.invisible_ms).seconds} s` }, receipt_handle: result.receipt_handle };
  };

  /** Stores the message in `%DLQ%<group>` now and counts it as acked (the FIFO PushConsumer's give-up). */
  readonly forwardToDeadLetter = async (request: ForwardMessageToDeadLetterQueueRequest, caller: GrpcCaller): Promise<StatusResponse> => {
    const { group, topic } = this.admitted(request, caller, 'ForwardMessageToDeadLetterQueue');
    const result = await this.engine.forwardToDeadLetter(group, topic, request.receipt_handle);
    return { status: result.status === 'ok' ? ok_status : invalidHandle(request.message_id, result.reason) };
  };

  private admitted(request: { group?: Resource | null; topic?: Resource | null }, caller: GrpcCaller, rpc: string): { group: string; topic: string } {
    const group = groupNameOf(request.group);
    const topic = topicNameOf(request.topic);
    this.context.broker.context.requireMaster(`${rpc}`);
    this.context.gate.require(caller, { kind: 'group', group }, rpc);
    this.context.gate.require(caller, { kind: 'topic', topic, perm: 'SUB' }, rpc);
    return { group, topic };
  }
}

function invalidHandle(message_id: string, reason: string): { code: number; message: string } {
  return { code: Code.INVALID_RECEIPT_HANDLE, message: `message ${message_id.slice(0, 128)}: the receipt handle is not valid any more (${reason}); receive the message again` };
}
