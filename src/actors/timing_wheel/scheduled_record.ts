import { schedule_topic, system_properties } from '../../protocol/index.js';
import { MqError } from '../../runtime/errors.js';
import { encodeMessageId } from '../../storage/message_id.js';
import { decodeMessageProperties, encodeMessageProperties, type MessageProperties } from '../../storage/message_properties.js';
import { record_sys_flags, type RecordInput, type RecordView } from '../../storage/record.js';
import { messageTagHash } from '../../storage/tag_hash.js';

/**
 * The two rewrites of a delayed message (RocketMQ's SCHEDULE_TOPIC_XXXX scheme):
 *
 * - scheduling: a message for (topic, queue) due at time T is stored in the schedule topic's
 *   one queue instead, with REAL_TOPIC, REAL_QID and DELIVER_AT_MS in its properties and T in
 *   the record's tag-hash field — so the wheel learns every due time from the ConsumeQueue
 *   entry alone, without reading the CommitLog;
 * - delivery: the wheel re-puts the scheduled copy into its real topic and queue: same body,
 *   tag, keys, properties, born time and host, attempt count; a new store time; the tag hash
 *   computed again; ORIGIN_MESSAGE_ID (the id the producer got, unless it had one already)
 *   and SCHEDULE_OFFSET (where the scheduled copy is, for the wheel's restart) added.
 */

/** The scheduled copy of `record` (a message for its real topic and queue). */
export function scheduledRecordOf(record: RecordInput, message: MessageProperties, deliver_at_ms: number): RecordInput {
  const properties = {
    ...message.properties,
    [system_properties.real_topic]: record.topic,
    [system_properties.real_queue_id]: String(record.queue_id),
    [system_properties.deliver_at_ms]: String(deliver_at_ms),
  };
  return {
    ...record,
    topic: schedule_topic,
    queue_id: 0,
    tag_hash: deliver_at_ms,
    properties: encodeMessageProperties({ tag: message.tag, keys: message.keys, properties }),
  };
}

/** The message a scheduled copy delivers: its real topic and queue, its own content. */
export function deliveredRecordOf(scheduled: RecordView): RecordInput {
  const message = decodeMessageProperties(scheduled.properties);
  const properties = { ...message.properties };
  const topic = properties[system_properties.real_topic];
  const queue_id = Number(properties[system_properties.real_queue_id]);
  if (topic === undefined || !Number.isInteger(queue_id) || queue_id < 0) {
    throw new MqError('INTERNAL', `scheduled message at CommitLog offset ${scheduled.physical_offset} has no valid REAL_TOPIC/REAL_QID; it cannot be delivered`);
  }
  delete properties[system_properties.real_topic];
  delete properties[system_properties.real_queue_id];
  const store_host = scheduled.store_host;
  properties[system_properties.origin_message_id] ??= encodeMessageId({
    store_timestamp: scheduled.store_timestamp,
    store_ipv4: store_host.ipv4,
    store_port: store_host.port,
    commit_log_offset: scheduled.physical_offset,
  });
  properties[system_properties.schedule_offset] = String(scheduled.physical_offset);
  return {
    topic,
    queue_id,
    body: scheduled.body,
    properties: encodeMessageProperties({ tag: message.tag, keys: message.keys, properties }),
    tag_hash: messageTagHash(message.tag),
    flags: scheduled.flags,
    sys_flags: scheduled.sys_flags | record_sys_flags.delivered_from_schedule,
    born_timestamp: scheduled.born_timestamp,
    born_host: scheduled.born_host,
    reconsume_times: scheduled.reconsume_times,
    prepared_transaction_offset: 0,
  };
}

/** The scheduled copy's offset a delivered record names, or undefined for any other record. */
export function scheduleOffsetOf(record: RecordView): number | undefined {
  if ((record.sys_flags & record_sys_flags.delivered_from_schedule) === 0) return undefined;
  const value = Number(decodeMessageProperties(record.properties).properties[system_properties.schedule_offset]);
  return Number.isSafeInteger(value) ? value : undefined;
}
