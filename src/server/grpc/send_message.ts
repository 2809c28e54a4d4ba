import { name_chars_max, transaction_flags, type SendRequest, type SendResult } from '../../protocol/index.js';
import { tagHash } from '../../storage/tag_hash.js';
import type { GrpcCaller } from './grpc_caller.js';
import type { GrpcContext } from './grpc_context.js';
import { grpc_limits } from './grpc_limits.js';
import { topicNameOf } from './grpc_resources.js';
import { convertMessage, type ConvertedMessage } from './grpc_messages.js';
import { code_of_send_status, GrpcStatusError, ok_status, send_status_messages } from './grpc_status.js';
import { Code, type SendMessageRequest, type SendMessageResponse, type SendResultEntry } from './grpc_types.js';

/**
 * SendMessage: the RocketMQ 5 producer's send, stored through the broker's own send path
 * (SendHandlers.appendMessages: one batch, whole or not at all, one hop to the CommitLog
 * writer's thread and back). Runs on the main thread.
 *
 * - The queue: the clients always say queue 0 (query_route.ts), so the broker picks. A
 *   normal, delayed or transactional message goes round robin over the topic's write queues;
 *   a FIFO message goes to `fnv1a32(message_group) mod writeQueues` (the tag hash of
 *   storage/tag_hash.ts), so one group's messages share one queue and keep their send order
 *   — as long as the topic's write-queue count does not change.
 * - The answer: one entry per message, `message_id` = the client's id (kept as UNIQ_KEY),
 *   `offset` = the queue offset (-1 for a delayed or half message: it gets its offset when
 *   it is delivered or committed), `transaction_id` = for a transactional message the id of
 *   the stored half message (our message id, which encodes its CommitLog offset:
 *   end_transaction.ts finds it from that), else ''.
 * - A transactional message is stored as a half message of a producer group derived from its
 *   topic (`transactionGroupOf`), since RocketMQ 5 producers name no group. A half message
 *   nobody ends is checked back over a producer's Telemetry stream (grpc_check_targets.ts);
 *   with no producer of the topic left it is rolled back after --transaction-check-max checks.
 */
export class SendMessageHandler {
  constructor(private readonly context: GrpcContext) {}

  readonly handle = async (request: SendMessageRequest, caller: GrpcCaller): Promise<SendMessageResponse> => {
    const count = request.messages.length;
    if (count === 0 || count > grpc_limits.messages_per_send_max) {
      throw new GrpcStatusError(Code.BAD_REQUEST, `a SendMessage carries 1..${grpc_limits.messages_per_send_max} messages, not ${count}`);
    }
    const { broker } = this.context;
    broker.context.requireMaster('a send');
    // Permission first, before any body is looked at (a GZIP body is unpacked in the
    // conversion), and before a topic is created for an account that may not publish to it.
    for (const topic of new Set(request.messages.map((message) => topicNameOf(message.topic)))) this.context.gate.require(caller, { kind: 'topic', topic, perm: 'PUB' }, 'SendMessage');
    const options = { now_ms: this.context.clock.nowMs(), max_delay_ms: broker.context.max_delay_ms, unpack_budget: { bytes_left: grpc_limits.unpacked_bytes_per_request_max } };
    const converted = request.messages.map((message) => convertMessage(message, options));
    const requests = converted.map((message) => this.placed(message));
    const results = await broker.send.appendMessages(requests);
    const entries = results.map((result, index) => entryOf(converted[index] as ConvertedMessage, result));
    const failed = entries.find((entry) => entry.status.code !== Code.OK);
    return { status: failed === undefined ? ok_status : failed.status, entries };
  };

  /** The SendRequest with its queue (FIFO) and its transaction fields. */
  private placed(message: ConvertedMessage): SendRequest {
    const request = message.request;
    if (message.kind === 'TRANSACTION') {
      return { ...request, flags: request.flags | transaction_flags.prepared, producerGroup: transactionGroupOf(message.topic) };
    }
    if (message.group === undefined) return request;
    // The topic exists (or is created, with auto-create) before its queue count is read.
    const topic = this.context.broker.send.writableTopic(message.topic);
    return { ...request, queueId: tagHash(message.group) % topic.writeQueues };
  }
}

function entryOf(message: ConvertedMessage, result: SendResult): SendResultEntry {
  const code = code_of_send_status[result.status];
  return {
    status: code === Code.OK ? ok_status : { code, message: `message ${message.message_id}: ${send_status_messages[result.status]}` },
    message_id: message.message_id,
    transaction_id: message.kind === 'TRANSACTION' ? result.msgId : '',
    offset: result.queueOffset,
    recall_handle: '',
  };
}

const transaction_group_prefix = '%GRPC_TX%';

/**
 * The producer group of a RocketMQ 5 transactional message: `%GRPC_TX%<topic>`. The clients
 * name no producer group, and a half message needs one (the check-back asks a live producer
 * of it); every producer of a topic is equally able to say what happened to its
 * transactions. A topic name too long for the prefix keeps its first characters and gets
 * its tag hash appended, so the group stays a valid name of at most 127 characters.
 */
export function transactionGroupOf(topic: string): string {
  const whole = `${transaction_group_prefix}${topic}`;
  if (whole.length <= name_chars_max) return whole;
  const hash = tagHash(topic).toString(16).padStart(8, '0');
  return `${transaction_group_prefix}${topic.slice(0, name_chars_max - transaction_group_prefix.length - hash.length - 1)}|${hash}`;
}
