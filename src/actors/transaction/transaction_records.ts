import { system_properties, transaction_flags, transaction_half_topic, transaction_op_topic } from '../../protocol/index.js';
import { MqError } from '../../runtime/errors.js';
import { decodeMessageProperties, encodeMessageProperties, type MessageProperties } from '../../storage/message_properties.js';
import { encodeMessageId } from '../../storage/message_id.js';
import { record_sys_flags, type RecordInput, type RecordView } from '../../storage/record.js';
import { messageTagHash } from '../../storage/tag_hash.js';

/**
 * The records of a transaction (RocketMQ's RMQ_SYS_TRANS_HALF_TOPIC / OP_HALF scheme):
 *
 * - the half message: the producer's message stored in `%TRANS_HALF%` queue 0 with its real
 *   topic and queue (REAL_TOPIC, REAL_QID) and its producer group (PGROUP) in its properties;
 * - the committed message: the half message re-put into its real topic and queue, without
 *   the prepared flag, with ORIGIN_MESSAGE_ID (the half message's id, which the producer
 *   got) and TRAN_HALF_OFFSET; PGROUP stays (RocketMQ keeps it too: who produced it);
 * - the operation record: one per decision, in `%TRANS_OP%` queue 0, empty body,
 *   TRAN_HALF_OFFSET and TRAN_OUTCOME. A commit appends the committed message and its
 *   operation record in one batch; a rollback only the operation record.
 *
 * Committed messages and operation records carry `record_sys_flags.transaction_decision`, so
 * a restart finds every decision made after the checkpoint by reading the properties of those
 * records only.
 */
export type TransactionDecision = 'COMMIT' | 'ROLLBACK';

/** The half message of `record` (a message for its real topic and queue). */
export function halfRecordOf(record: RecordInput, message: MessageProperties, producer_group: string): RecordInput {
  const properties = {
    ...message.properties,
    [system_properties.real_topic]: record.topic,
    [system_properties.real_queue_id]: String(record.queue_id),
    [system_properties.producer_group]: producer_group,
  };
  return { ...record, topic: transaction_half_topic, queue_id: 0, properties: encodeMessageProperties({ tag: message.tag, keys: message.keys, properties }) };
}

/** The producer group of a half message. */
export function producerGroupOf(half: RecordView): string {
  return decodeMessageProperties(half.properties).properties[system_properties.producer_group] ?? '';
}

/** The committed message of a half message: its real topic and queue, its own content. */
export function committedRecordOf(half: RecordView): RecordInput {
  const message = decodeMessageProperties(half.properties);
  const properties = { ...message.properties };
  const topic = properties[system_properties.real_topic];
  const queue_id = Number(properties[system_properties.real_queue_id]);
  if (topic === undefined || !Number.isInteger(queue_id) || queue_id < 0) {
    throw new MqError('INTERNAL', `half message at CommitLog offset ${half.physical_offset} has no valid REAL_TOPIC/REAL_QID; it cannot be committed`);
  }
  delete properties[system_properties.real_topic];
  delete properties[system_properties.real_queue_id];
  const store_host = half.store_host;
  properties[system_properties.origin_message_id] ??= encodeMessageId({ store_timestamp: half.store_timestamp, store_ipv4: store_host.ipv4, store_port: store_host.port, commit_log_offset: half.physical_offset });
  properties[system_properties.transaction_half_offset] = String(half.physical_offset);
  return {
    topic,
    queue_id,
    body: half.body,
    properties: encodeMessageProperties({ tag: message.tag, keys: message.keys, properties }),
    tag_hash: messageTagHash(message.tag),
    // No longer a half message: a copy of it sent anywhere again (a retry, a dead-letter
    // resend) must not be taken for one.
    flags: half.flags & ~transaction_flags.prepared,
    sys_flags: half.sys_flags | record_sys_flags.transaction_decision,
    born_timestamp: half.born_timestamp,
    born_host: half.born_host,
    reconsume_times: half.reconsume_times,
    prepared_transaction_offset: half.physical_offset,
  };
}

/** The operation-log record of a decision. */
export function operationRecordOf(half_offset: number, decision: TransactionDecision, now_ms: number): RecordInput {
  return {
    topic: transaction_op_topic,
    queue_id: 0,
    body: new Uint8Array(0),
    properties: encodeMessageProperties({ tag: null, keys: [], properties: { [system_properties.transaction_half_offset]: String(half_offset), [system_properties.transaction_outcome]: decision } }),
    tag_hash: 0,
    flags: 0,
    sys_flags: record_sys_flags.transaction_decision,
    born_timestamp: now_ms,
    born_host: { ipv4: 0, port: 0 },
    reconsume_times: 0,
    prepared_transaction_offset: half_offset,
  };
}

/** The half message a decision record names, or undefined for any other record. */
export function decidedHalfOffsetOf(record: RecordView): number | undefined {
  if ((record.sys_flags & record_sys_flags.transaction_decision) === 0) return undefined;
  const value = Number(decodeMessageProperties(record.properties).properties[system_properties.transaction_half_offset]);
  return Number.isSafeInteger(value) ? value : undefined;
}
