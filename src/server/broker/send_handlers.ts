import {
  checkMessageSize,
  checkName,
  decodeSendBatchRequest,
  decodeSendRequest,
  encodeSendBatchResponse,
  encodeSendResult,
  perm_write,
  queue_id_any,
  type SendRequest,
  type SendResult,
} from '../../protocol/index.js';
import type { AppendResult } from '../../actors/commit_log/commit_log_messages.js';
import type { RecordInput } from '../../storage/record.js';
import { MqError } from '../../runtime/errors.js';
import { messageTagHash } from '../../storage/tag_hash.js';
import type { BrokerContext } from './broker_context.js';
import { encodeMessageProperties } from './message_properties.js';
import { encodeMessageId, ipv4ToNumber } from './message_id.js';
import type { TopicSettings } from './topic_config_store.js';

export const send_limits = {
  /** Messages in one SEND_BATCH. */
  batch_messages_max: 1_024,
} as const;

/**
 * SEND and SEND_BATCH: validate, pick queues, append as one batch through the CommitLog
 * writer (one thread hop there and back whatever the batch size), answer per message.
 */
export class SendHandlers {
  /** Round-robin position per topic, for sends that let the broker pick the queue. */
  private readonly next_queue = new Map<string, number>();

  constructor(private readonly broker: BrokerContext) {}

  readonly send = async (body: Uint8Array): Promise<Uint8Array> => {
    const request = decodeSendRequest(body);
    if (!request.ok) throw new MqError('BAD_REQUEST', `SEND body: ${request.error.message}`);
    const [result] = await this.append([request.value]);
    return encodeSendResult(result as SendResult);
  };

  readonly sendBatch = async (body: Uint8Array): Promise<Uint8Array> => {
    const request = decodeSendBatchRequest(body);
    if (!request.ok) throw new MqError('BAD_REQUEST', `SEND_BATCH body: ${request.error.message}`);
    const messages = request.value.messages;
    if (messages.length === 0 || messages.length > send_limits.batch_messages_max) {
      throw new MqError('BAD_REQUEST', `a batch holds 1..${send_limits.batch_messages_max} messages, not ${messages.length}`);
    }
    return encodeSendBatchResponse({ results: await this.append(messages) });
  };

  private async append(messages: readonly SendRequest[]): Promise<SendResult[]> {
    // Every message is checked before any is written: a batch is stored whole or not at all.
    const records = messages.map((message) => this.recordOf(message));
    let reply: AppendResult;
    try {
      reply = await this.broker.store.append(records);
    } catch (error) {
      if (error instanceof MqError && (error.code === 'ACTOR_UNAVAILABLE' || error.code === 'BUSY')) {
        throw new MqError('BROKER_UNAVAILABLE', `the store cannot take messages right now (${error.message}); retry, or send to another broker`);
      }
      throw error;
    }
    const status = reply.status === 'PUT_OK' ? 'SEND_OK' : 'FLUSH_DISK_TIMEOUT';
    const store = this.broker.store.args;
    return reply.results.map((result, index) => ({
      status,
      msgId: encodeMessageId({ store_timestamp: result.store_timestamp, store_ipv4: store.store_ipv4, store_port: store.store_port, commit_log_offset: result.physical_offset }),
      brokerName: this.broker.broker_name,
      queueId: (records[index] as RecordInput).queue_id,
      queueOffset: result.queue_offset,
      commitLogOffset: result.physical_offset,
    }));
  }

  private recordOf(message: SendRequest): RecordInput {
    const bad_name = checkName('topic', message.topic);
    if (bad_name !== undefined) throw new MqError('BAD_REQUEST', bad_name.message);
    const too_large = checkMessageSize(message);
    if (too_large !== undefined) throw new MqError('MESSAGE_TOO_LARGE', too_large.message);
    if (message.delayMs !== null || message.deliverAtMs !== null) {
      throw new MqError('BAD_REQUEST', 'this broker does not deliver delayed messages yet: send without delayMs/deliverAt');
    }
    const topic = this.topicForSend(message.topic);
    return {
      topic: message.topic,
      queue_id: this.queueFor(topic, message.queueId),
      body: Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength),
      properties: encodeMessageProperties({ tag: message.tag, keys: message.keys, properties: message.properties }),
      tag_hash: messageTagHash(message.tag),
      flags: message.flags,
      sys_flags: 0,
      born_timestamp: message.bornTimestamp,
      born_host: { ipv4: ipv4ToNumber(message.bornHost.split(':')[0] ?? ''), port: Number(message.bornHost.split(':')[1] ?? 0) || 0 },
      reconsume_times: message.reconsumeTimes,
      prepared_transaction_offset: 0,
    };
  }

  private topicForSend(name: string): TopicSettings {
    let topic = this.broker.topics.get(name);
    if (topic === undefined) {
      if (!this.broker.auto_create_topic) {
        throw new MqError('TOPIC_NOT_FOUND', `topic '${name}' does not exist on broker ${this.broker.broker_name}; create it with 'mq-node admin topic create' (auto-create is off)`);
      }
      topic = this.broker.topics.upsert(name, this.broker.default_queues);
      this.broker.onTopicsChanged();
    }
    if ((topic.perm & perm_write) === 0) throw new MqError('ACCESS_DENIED', `topic '${name}' is not writable on broker ${this.broker.broker_name}`);
    return topic;
  }

  private queueFor(topic: TopicSettings, asked: number): number {
    if (asked === queue_id_any) {
      const next = this.next_queue.get(topic.topic) ?? 0;
      this.next_queue.set(topic.topic, next + 1);
      return next % topic.writeQueues;
    }
    if (!Number.isInteger(asked) || asked < 0 || asked >= topic.writeQueues) {
      throw new MqError('BAD_REQUEST', `queue ${asked} does not exist: topic '${topic.topic}' has queues 0..${topic.writeQueues - 1} on broker ${this.broker.broker_name}`);
    }
    return asked;
  }
}
