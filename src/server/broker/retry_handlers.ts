import {
  internal_topics,
  checkName,
  deadLetterTopicOf,
  decodeResendDeadLetterRequest,
  decodeSendBackRequest,
  encodeResendDeadLetterResponse,
  encodeSendBackResult,
  groupOfSystemTopic,
  retryTopicOf,
  dead_letter_topic_prefix,
  schedule_topic,
  system_properties,
  type SendBackDestination,
  type SendBackResult,
} from '../../protocol/index.js';
import { scheduledRecordOf } from '../../actors/timing_wheel/scheduled_record.js';
import { MqError } from '../../runtime/errors.js';
import { decodeMessageProperties, encodeMessageProperties, type MessageProperties } from '../../storage/message_properties.js';
import { record_sys_flags, type RecordInput, type RecordView } from '../../storage/record.js';
import { messageTagHash } from '../../storage/tag_hash.js';
import type { RequestContext } from '../remoting/request_router.js';
import type { BrokerContext } from './broker_context.js';
import { send_limits, type SendHandlers } from './send_handlers.js';

/** Queues of a group's retry and dead-letter topics (RocketMQ uses one). */
export const group_topic_queues = 1;

/** Properties that describe one scheduled trip, dropped when the message makes another. */
const trip_properties = [system_properties.schedule_offset, system_properties.deliver_at_ms, system_properties.real_topic, system_properties.real_queue_id];

/**
 * CONSUMER_SEND_BACK and RESEND_DEAD_LETTER (schemas/send_back.ts): RocketMQ's retry and
 * dead-letter queue. A failed message is read back from this broker's CommitLog and stored
 * again — scheduled into `%RETRY%<group>` after the delay of its attempt, or, once it was
 * consumed `maxReconsumeTimes` times, into `%DLQ%<group>` — so the consumer can ack the
 * original. The copy keeps body, tag, keys and properties, counts the attempt, and carries
 * ORIGIN_MESSAGE_ID and ORIGIN_TOPIC so that every later copy still names the first one.
 */
export class RetryHandlers {
  constructor(
    private readonly broker: BrokerContext,
    private readonly send: SendHandlers,
  ) {}

  readonly sendBack = async (body: Uint8Array, context: RequestContext): Promise<Uint8Array> => {
    this.broker.requireMaster('a failed message sent back');
    const decoded = decodeSendBackRequest(body);
    if (!decoded.ok) throw new MqError('BAD_REQUEST', `CONSUMER_SEND_BACK body: ${decoded.error.message}`);
    const request = decoded.value;
    const bad_group = checkName('group', request.group);
    if (bad_group !== undefined) throw new MqError('BAD_REQUEST', bad_group.message);
    context.authorize({ kind: 'group', group: request.group });
    const failed = this.readMessage(request.commitLogOffset);
    // Sending a message back copies it into the group's retry topic: only a message the
    // account may read (else SUB on one group would read any offset of the log).
    context.authorize({ kind: 'topic', topic: failed.topic, perm: 'SUB' });
    // Past the broker's own bound a message goes to the dead letters whatever the consumer
    // asks: the count it carries must stay within the protocol's int.
    const dead = failed.reconsume_times >= Math.min(request.maxReconsumeTimes, send_limits.reconsume_times_max);
    const moved = await this.moveBack(request.group, request.commitLogOffset, request.msgId, failed, dead ? 'DLQ' : 'RETRY');
    return encodeSendBackResult(moved);
  };

  /**
   * Copies the message at `commit_log_offset` into `%DLQ%<group>` now (a pop consumer's
   * message past its attempts, or forwarded by the client). The caller has authorized the
   * group and the message's topic. BAD_REQUEST when the offset holds no consumable message
   * (deleted by retention, or never one).
   */
  async deadLetter(group: string, commit_log_offset: number, msg_id: string): Promise<SendBackResult> {
    this.broker.requireMaster('a dead letter');
    const bad_group = checkName('group', group);
    if (bad_group !== undefined) throw new MqError('BAD_REQUEST', bad_group.message);
    return this.moveBack(group, commit_log_offset, msg_id, this.readMessage(commit_log_offset), 'DLQ');
  }

  /** Stores a copy of `failed` in the group's retry topic (after its attempt's delay) or dead-letter topic (now). */
  private async moveBack(group: string, commit_log_offset: number, msg_id: string, failed: RecordView, destination: SendBackDestination): Promise<SendBackResult> {
    const dead = destination === 'DLQ';
    const message = decodeMessageProperties(failed.properties);
    const reconsume_times = failed.reconsume_times + 1;
    const topic = dead ? deadLetterTopicOf(group) : retryTopicOf(group);
    this.ensureGroupTopic(topic);
    const properties = withoutTripProperties(message.properties);
    properties[system_properties.origin_message_id] ??= msg_id;
    properties[system_properties.origin_topic] ??= failed.topic;
    const copy: MessageProperties = { tag: message.tag, keys: message.keys, properties };
    const record = copyOf(failed, topic, copy, reconsume_times);
    const now_ms = Date.now();
    const delays = this.broker.retry_delays_ms;
    const deliver_at_ms = dead ? now_ms : now_ms + (delays[Math.min(reconsume_times, delays.length) - 1] as number);
    const [stored] = await this.send.appendRecords([dead ? record : scheduledRecordOf(record, copy, deliver_at_ms)]);
    if (stored === undefined) throw new MqError('INTERNAL', 'the store answered an append of one record with no placement');
    this.broker.log.debug({ group, offset: commit_log_offset, destination, reconsume_times }, 'message sent back');
    if (dead) this.broker.log.warn({ group, msg_id: properties[system_properties.origin_message_id], reconsume_times: failed.reconsume_times }, `message dead-lettered into ${topic}`);
    return { destination, topic, reconsumeTimes: reconsume_times, deliverAtMs: dead ? stored.store_timestamp : deliver_at_ms, msgId: stored.msg_id };
  }

  readonly resendDeadLetter = async (body: Uint8Array): Promise<Uint8Array> => {
    this.broker.requireMaster('resending a dead letter');
    const decoded = decodeResendDeadLetterRequest(body);
    if (!decoded.ok) throw new MqError('BAD_REQUEST', `RESEND_DEAD_LETTER body: ${decoded.error.message}`);
    const letter = this.readMessage(decoded.value.commitLogOffset);
    if (!letter.topic.startsWith(dead_letter_topic_prefix) || groupOfSystemTopic(letter.topic) === undefined) {
      throw new MqError('BAD_REQUEST', `CommitLog offset ${decoded.value.commitLogOffset} holds a message of topic ${letter.topic}, not a dead letter`);
    }
    const message = decodeMessageProperties(letter.properties);
    const properties = withoutTripProperties(message.properties);
    const origin_topic = properties[system_properties.origin_topic];
    if (origin_topic === undefined) throw new MqError('BAD_REQUEST', `the dead letter at ${decoded.value.commitLogOffset} does not name its original topic (no ${system_properties.origin_topic})`);
    delete properties[system_properties.origin_topic];
    const topic = this.send.writableTopic(origin_topic);
    const record = { ...copyOf(letter, origin_topic, { tag: message.tag, keys: message.keys, properties }, 0), queue_id: this.send.pickQueue(topic) };
    const [result] = await this.send.appendRecords([record]);
    if (result === undefined) throw new MqError('INTERNAL', 'the store answered an append of one record with no placement');
    this.broker.log.info({ offset: decoded.value.commitLogOffset, topic: origin_topic }, 'dead letter resent');
    return encodeResendDeadLetterResponse({ status: result.status, msgId: result.msg_id, brokerName: this.broker.broker_name, queueId: record.queue_id, queueOffset: result.queue_offset, commitLogOffset: result.physical_offset });
  };

  /** A group's retry topic exists from its first clustering consumer's heartbeat (so that
   *  the consumer finds its route), its dead-letter topic from its first dead letter. */
  ensureGroupTopic(topic: string): void {
    if (this.broker.topics.get(topic) !== undefined) return;
    this.broker.topics.upsert(topic, group_topic_queues);
    this.broker.onTopicsChanged();
  }

  private readMessage(commit_log_offset: number): RecordView {
    let record: RecordView;
    try {
      record = this.broker.store.reader.readRecord(commit_log_offset);
    } catch (error) {
      throw new MqError('BAD_REQUEST', `no message at CommitLog offset ${commit_log_offset} on broker ${this.broker.broker_name}: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (record.topic === schedule_topic || internal_topics.has(record.topic)) {
      throw new MqError('BAD_REQUEST', `CommitLog offset ${commit_log_offset} holds a ${record.topic === schedule_topic ? 'scheduled' : 'transaction'} record, which no consumer has seen`);
    }
    return record;
  }
}

function withoutTripProperties(properties: Readonly<Record<string, string>>): Record<string, string> {
  const kept = { ...properties };
  for (const name of trip_properties) delete kept[name];
  return kept;
}

/** A new record with a stored message's content, for another topic (queue 0). */
function copyOf(source: RecordView, topic: string, message: MessageProperties, reconsume_times: number): RecordInput {
  return {
    topic,
    queue_id: 0,
    body: source.body,
    properties: encodeMessageProperties(message),
    tag_hash: messageTagHash(message.tag),
    flags: source.flags,
    sys_flags: source.sys_flags & ~record_sys_flags.delivered_from_schedule,
    born_timestamp: source.born_timestamp,
    born_host: source.born_host,
    reconsume_times,
    prepared_transaction_offset: 0,
  };
}
