import {
  checkMessageSize,
  checkName,
  decodeSendBatchRequest,
  decodeSendRequest,
  encodeSendBatchResponse,
  encodeSendResult,
  perm_write,
  queue_id_any,
  internal_topics,
  system_property_names,
  transaction_flags,
  type SendRequest,
  type SendResult,
} from '../../protocol/index.js';
import type { AppendResult } from '../../actors/commit_log/commit_log_messages.js';
import type { RecordInput } from '../../storage/record.js';
import { MqError } from '../../runtime/errors.js';
import { messageTagHash } from '../../storage/tag_hash.js';
import type { RequestContext } from '../remoting/request_router.js';
import type { BrokerContext } from './broker_context.js';
import { encodeMessageProperties } from '../../storage/message_properties.js';
import { scheduledRecordOf } from '../../actors/timing_wheel/scheduled_record.js';
import { halfRecordOf } from '../../actors/transaction/transaction_records.js';
import { encodeMessageId, ipv4ToNumber } from '../../storage/message_id.js';
import type { TopicSettings } from './topic_config_store.js';
import type { BrokerTraffic } from './broker_traffic.js';

/** Where an appended record went. */
export interface StoredRecord {
  status: SendResult['status'];
  msg_id: string;
  queue_offset: number;
  physical_offset: number;
  store_timestamp: number;
}

/** A record ready to append, and what the producer is told about where it goes. */
interface PlacedRecord {
  record: RecordInput;
  /** The real queue (a delayed or half message waits in an internal queue until it is due or committed). */
  queue_id: number;
  deferred: boolean;
}

/**
 * The request's numbers that the record stores unsigned (record.ts): a negative one would
 * fail the write as an INTERNAL error (found by the broker fuzz test), so it is refused here.
 */
function checkRecordNumbers(message: SendRequest): string | undefined {
  if (message.flags < 0) return `flags ${message.flags} is negative; send 0 or the transaction flags`;
  if (message.reconsumeTimes < 0 || message.reconsumeTimes > send_limits.reconsume_times_max) {
    return `reconsumeTimes ${message.reconsumeTimes} is not in 0..${send_limits.reconsume_times_max}; a new message has 0`;
  }
  if (!Number.isSafeInteger(message.bornTimestamp) || message.bornTimestamp < 0) return `bornTimestamp ${message.bornTimestamp} is not ms since the epoch`;
  return undefined;
}

/** The port of `host:port` as the record keeps it; 0 when it is not a port (the born host is
 *  informational, like its address, which is 0 when it is not an IPv4 address). */
function bornPortOf(born_host: string): number {
  const port = Number(born_host.split(':')[1] ?? 0);
  return Number.isInteger(port) && port >= 0 && port <= 0xffff ? port : 0;
}

/** A half message names its producer group (the check-back asks it) and is not delayed. */
function checkTransactional(message: SendRequest, deliver_at_ms: number | undefined): void {
  const bad_group = message.producerGroup === null ? new MqError('BAD_REQUEST', 'a transaction half message needs its producerGroup') : checkName('group', message.producerGroup);
  if (bad_group !== undefined) throw new MqError('BAD_REQUEST', `transaction half message: ${bad_group.message}`);
  if (deliver_at_ms !== undefined) throw new MqError('BAD_REQUEST', 'a transaction message cannot be delayed: send it without delayMs/deliverAt');
}

export const send_limits = {
  /** Messages in one SEND_BATCH. */
  batch_messages_max: 1_024,
  /** Redeliveries a message may say it had (a consumer's maxReconsumeTimes goes to 1,000).
   *  A send-back stores one more, which must still fit the protocol's int field: a message
   *  sent with 2^31-1 became, once sent back, a retry copy no pull could encode (found by the
   *  broker fuzz test). */
  reconsume_times_max: 65_535,
} as const;

/**
 * SEND and SEND_BATCH: validate, pick queues, append as one batch through the CommitLog
 * writer (one thread hop there and back whatever the batch size), answer per message.
 */
export class SendHandlers {
  /** Round-robin position per topic, for sends that let the broker pick the queue. */
  private readonly next_queue = new Map<string, number>();

  constructor(
    private readonly broker: BrokerContext,
    /** Counts what SEND and SEND_BATCH stored, per topic (/metrics). */
    private readonly traffic: BrokerTraffic,
  ) {}

  readonly send = async (body: Uint8Array, context: RequestContext): Promise<Uint8Array> => {
    const request = decodeSendRequest(body);
    if (!request.ok) throw new MqError('BAD_REQUEST', `SEND body: ${request.error.message}`);
    context.authorize({ kind: 'topic', topic: request.value.topic, perm: 'PUB' });
    const [result] = await this.appendMessages([request.value]);
    return encodeSendResult(result as SendResult);
  };

  readonly sendBatch = async (body: Uint8Array, context: RequestContext): Promise<Uint8Array> => {
    const request = decodeSendBatchRequest(body);
    if (!request.ok) throw new MqError('BAD_REQUEST', `SEND_BATCH body: ${request.error.message}`);
    const messages = request.value.messages;
    for (const topic of new Set(messages.map((message) => message.topic))) context.authorize({ kind: 'topic', topic, perm: 'PUB' });
    if (messages.length === 0 || messages.length > send_limits.batch_messages_max) {
      throw new MqError('BAD_REQUEST', `a batch holds 1..${send_limits.batch_messages_max} messages, not ${messages.length}`);
    }
    return encodeSendBatchResponse({ results: await this.appendMessages(messages) });
  };

  /**
   * Stores producers' messages as one batch, whole or not at all: every message is checked
   * (name, size, properties, delay, transaction fields), its queue picked (`queueId`, or round
   * robin for `queue_id_any`), delayed and half messages put in their internal topics. SEND,
   * SEND_BATCH and the gRPC endpoint's SendMessage (server/grpc/send_message.ts) come here;
   * the caller has checked the caller's permissions.
   */
  async appendMessages(messages: readonly SendRequest[]): Promise<SendResult[]> {
    this.broker.requireMaster('a send');
    // Every message is checked before any is written: a batch is stored whole or not at all.
    const now_ms = Date.now();
    const placed = messages.map((message) => this.recordOf(message, now_ms));
    const stored = await this.appendRecords(placed.map((item) => item.record));
    // Counted under the topic the producer named (a delayed or half message is stored in an
    // internal topic until it is due or committed, but it is this topic's traffic).
    for (const message of messages) this.traffic.stored(message.topic, 1, message.body.byteLength);
    return stored.map((result, index) => {
      const item = placed[index] as PlacedRecord;
      return {
        status: result.status,
        msgId: result.msg_id,
        brokerName: this.broker.broker_name,
        queueId: item.queue_id,
        // A delayed or half message gets its queue offset when it is delivered or committed.
        queueOffset: item.deferred ? -1 : result.queue_offset,
        commitLogOffset: result.physical_offset,
      };
    });
  }

  /** Appends checked records as one batch (also for the broker's own copies: retries, dead letters). */
  async appendRecords(records: readonly RecordInput[]): Promise<StoredRecord[]> {
    let reply: AppendResult;
    try {
      reply = await this.broker.store.append(records);
    } catch (error) {
      if (error instanceof MqError && (error.code === 'ACTOR_UNAVAILABLE' || error.code === 'BUSY')) {
        throw new MqError('BROKER_UNAVAILABLE', `the store cannot take messages right now (${error.message}); retry, or send to another broker`);
      }
      throw error;
    }
    const status = reply.status === 'PUT_OK' ? 'SEND_OK' : reply.status;
    const store = this.broker.store.args;
    return reply.results.map((result) => ({
      status,
      msg_id: encodeMessageId({ store_timestamp: result.store_timestamp, store_ipv4: store.store_ipv4, store_port: store.store_port, commit_log_offset: result.physical_offset }),
      queue_offset: result.queue_offset,
      physical_offset: result.physical_offset,
      store_timestamp: result.store_timestamp,
    }));
  }

  private recordOf(message: SendRequest, now_ms: number): PlacedRecord {
    const bad_name = checkName('topic', message.topic);
    if (bad_name !== undefined) throw new MqError('BAD_REQUEST', bad_name.message);
    if (internal_topics.has(message.topic)) throw new MqError('BAD_REQUEST', `topic '${message.topic}' is internal to the broker: send to your topic (with delayMs, deliverAt or in a transaction)`);
    const too_large = checkMessageSize(message);
    if (too_large !== undefined) throw new MqError('MESSAGE_TOO_LARGE', too_large.message);
    const bad_number = checkRecordNumbers(message);
    if (bad_number !== undefined) throw new MqError('BAD_REQUEST', bad_number);
    const reserved = Object.keys(message.properties).find((name) => system_property_names.has(name));
    if (reserved !== undefined) throw new MqError('BAD_REQUEST', `property name '${reserved}' is reserved for the broker; use another name`);
    const deliver_at_ms = this.deliverAtOf(message, now_ms);
    const prepared = (message.flags & transaction_flags.prepared) !== 0;
    if (prepared) checkTransactional(message, deliver_at_ms);
    const topic = this.topicForSend(message.topic);
    const record = this.userRecordOf(message, this.queueFor(topic, message.queueId));
    if (prepared) return { record: halfRecordOf(record, message, message.producerGroup as string), queue_id: record.queue_id, deferred: true };
    if (deliver_at_ms === undefined) return { record, queue_id: record.queue_id, deferred: false };
    return { record: scheduledRecordOf(record, message, deliver_at_ms), queue_id: record.queue_id, deferred: true };
  }

  /**
   * When a delayed message is due (undefined: now). delayMs and deliverAt are exclusive; a
   * delay up to --max-delay-ms is accepted; a deliverAt in the past means now.
   */
  private deliverAtOf(message: SendRequest, now_ms: number): number | undefined {
    const { delayMs: delay_ms, deliverAtMs: deliver_at_ms } = message;
    if (delay_ms === null && deliver_at_ms === null) return undefined;
    if (delay_ms !== null && deliver_at_ms !== null) throw new MqError('BAD_REQUEST', 'a message has delayMs or deliverAt, not both');
    const max_delay_ms = this.broker.max_delay_ms;
    if (delay_ms !== null) {
      if (!Number.isSafeInteger(delay_ms) || delay_ms < 0 || delay_ms > max_delay_ms) {
        throw new MqError('BAD_REQUEST', `delayMs ${delay_ms} is out of range: a whole number of ms from 0 to ${max_delay_ms} (--max-delay-ms)`);
      }
      return delay_ms === 0 ? undefined : now_ms + delay_ms;
    }
    const at_ms = deliver_at_ms as number;
    if (!Number.isSafeInteger(at_ms) || at_ms < 0 || at_ms - now_ms > max_delay_ms) {
      throw new MqError('BAD_REQUEST', `deliverAt ${at_ms} is out of range: ms since the epoch, at most ${max_delay_ms} ms (--max-delay-ms) from now`);
    }
    return at_ms <= now_ms ? undefined : at_ms;
  }

  private userRecordOf(message: SendRequest, queue_id: number): RecordInput {
    return {
      topic: message.topic,
      queue_id,
      body: Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength),
      properties: encodeMessageProperties({ tag: message.tag, keys: message.keys, properties: message.properties }),
      tag_hash: messageTagHash(message.tag),
      flags: message.flags,
      sys_flags: 0,
      born_timestamp: message.bornTimestamp,
      born_host: { ipv4: ipv4ToNumber(message.bornHost.split(':')[0] ?? ''), port: bornPortOf(message.bornHost) },
      reconsume_times: message.reconsumeTimes,
      prepared_transaction_offset: 0,
    };
  }

  /** The topic to send to: it exists (or is created, when auto-create is on) and is writable. */
  writableTopic(name: string): TopicSettings {
    return this.topicForSend(name);
  }

  /** The next queue of the topic, round robin. */
  pickQueue(topic: TopicSettings): number {
    return this.queueFor(topic, queue_id_any);
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
