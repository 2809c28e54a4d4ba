import { MqError } from '../../runtime/errors.js';
import { decodeMessageId } from '../../storage/message_id.js';
import type { GrpcCaller } from './grpc_caller.js';
import type { GrpcContext } from './grpc_context.js';
import { topicNameOf } from './grpc_resources.js';
import { GrpcStatusError, ok_status } from './grpc_status.js';
import { Code, TransactionResolution, TransactionSource, type EndTransactionRequest, type StatusResponse } from './grpc_types.js';
import { transactionGroupOf } from './send_message.js';

/**
 * EndTransaction: a RocketMQ 5 producer commits or rolls back the half message it sent
 * (send_message.ts), through the broker's transaction path (TransactionHandlers.decide, the
 * same as END_TRANSACTION). Runs on the main thread; the decision is one ask to the
 * transaction actor.
 *
 * `transaction_id` is the half message's id (our message id: it encodes the CommitLog
 * offset), as SendMessage answered it. The half message must be for the request's topic, and
 * the caller must be allowed to publish there; the producer group is the one SendMessage
 * derived from the topic. A second decision changes nothing and is answered OK (the first
 * stands), as RocketMQ does.
 */
export class EndTransactionHandler {
  constructor(private readonly context: GrpcContext) {}

  readonly handle = async (request: EndTransactionRequest, caller: GrpcCaller): Promise<StatusResponse> => {
    const topic = topicNameOf(request.topic);
    const outcome = request.resolution === TransactionResolution.COMMIT ? 'COMMIT' : request.resolution === TransactionResolution.ROLLBACK ? 'ROLLBACK' : undefined;
    if (outcome === undefined) throw new GrpcStatusError(Code.BAD_REQUEST, `resolution ${request.resolution} is not COMMIT (1) or ROLLBACK (2)`);
    this.context.gate.require(caller, { kind: 'topic', topic, perm: 'PUB' }, 'EndTransaction');
    const { transactions } = this.context.broker;
    let half_offset: number;
    let half_topic: string;
    try {
      half_offset = decodeMessageId(request.transaction_id).commit_log_offset;
      half_topic = transactions.halfTopic(half_offset);
    } catch (error) {
      if (error instanceof MqError) throw new GrpcStatusError(Code.INVALID_TRANSACTION_ID, `transaction_id '${request.transaction_id.slice(0, 64)}' names no half message on this broker: ${error.message}`);
      throw error;
    }
    if (half_topic !== topic) {
      throw new GrpcStatusError(Code.INVALID_TRANSACTION_ID, `transaction_id '${request.transaction_id}' is a message of topic '${half_topic}', not '${topic}'`);
    }
    let result: string;
    try {
      result = await transactions.decide({
        producerGroup: transactionGroupOf(topic),
        commitLogOffset: half_offset,
        msgId: request.transaction_id,
        outcome,
        fromCheck: request.source === TransactionSource.SOURCE_SERVER_CHECK,
      });
    } catch (error) {
      // The offset holds a message, but not a half message.
      if (error instanceof MqError && error.code === 'BAD_REQUEST') throw new GrpcStatusError(Code.INVALID_TRANSACTION_ID, `transaction_id '${request.transaction_id}': ${error.message}`);
      throw error;
    }
    if (result === 'ALREADY_DECIDED') return { status: { code: Code.OK, message: 'the transaction was decided before; the first decision stands' } };
    return { status: ok_status };
  };
}
