/**
 * Names the broker and the SDK agree on for retries, dead letters and delayed delivery
 * (RocketMQ's conventions): the per-group retry and dead-letter topics, the internal topic
 * that holds scheduled messages, and the system properties those messages carry.
 */
import { isValidName } from './validation.js';

/** `%RETRY%<group>`: a group's failed messages, redelivered after growing delays. */
export const retry_topic_prefix = '%RETRY%';
/** `%DLQ%<group>`: a group's messages that failed `maxReconsumeTimes` times; consumed by no one. */
export const dead_letter_topic_prefix = '%DLQ%';
/**
 * Scheduled (delayed) messages wait here, one queue, until the timing wheel re-puts them into
 * their real topic. Its ConsumeQueue's tag-hash field holds each message's delivery time.
 */
export const schedule_topic = '%SCHEDULE%';

/** Transaction half messages wait here (one queue) until their outcome is known. */
export const transaction_half_topic = '%TRANS_HALF%';
/** The transaction operation log: one record per decided half message (ROLLBACK or COMMIT). */
export const transaction_op_topic = '%TRANS_OP%';

/** Topics of the broker's own machinery: never created, sent to or pulled by clients. */
export const internal_topics: ReadonlySet<string> = new Set([schedule_topic, transaction_half_topic, transaction_op_topic]);

/** The longest topic name a store holds: a retry topic of a group with the longest name. */
export const topic_chars_max = retry_topic_prefix.length + 127;

export function retryTopicOf(group: string): string {
  return `${retry_topic_prefix}${group}`;
}

export function deadLetterTopicOf(group: string): string {
  return `${dead_letter_topic_prefix}${group}`;
}

/** The group of a retry or dead-letter topic, or undefined for any other topic. */
export function groupOfSystemTopic(topic: string): string | undefined {
  for (const prefix of [retry_topic_prefix, dead_letter_topic_prefix]) {
    if (topic.startsWith(prefix) && isValidName(topic.slice(prefix.length))) return topic.slice(prefix.length);
  }
  return undefined;
}

/** A retry or dead-letter topic name: the prefix, then a valid group name (which may make it
 *  longer than a user topic may be). */
export function isGroupSystemTopic(topic: string): boolean {
  return groupOfSystemTopic(topic) !== undefined;
}

/**
 * Properties the broker sets; a producer may not set them (BAD_REQUEST). Consumers see
 * ORIGIN_MESSAGE_ID, ORIGIN_TOPIC, DELIVER_AT_MS and SCHEDULE_OFFSET on redelivered and
 * delayed messages; REAL_TOPIC and REAL_QID exist only on the scheduled copy.
 */
export const system_properties = {
  /** The message id the producer got (kept across delays, retries and dead-lettering). */
  origin_message_id: 'ORIGIN_MESSAGE_ID',
  /** The topic a retried or dead-lettered message was first consumed from. */
  origin_topic: 'ORIGIN_TOPIC',
  /** When a delayed or retried message was due (ms since the epoch). */
  deliver_at_ms: 'DELIVER_AT_MS',
  /** CommitLog offset of the scheduled copy a delivered message came from (restart dedup). */
  schedule_offset: 'SCHEDULE_OFFSET',
  /** A scheduled copy's destination topic and queue. */
  real_topic: 'REAL_TOPIC',
  real_queue_id: 'REAL_QID',
  /** A half message's producer group (who is asked in a check-back). */
  producer_group: 'PGROUP',
  /** On a committed message and on an operation-log record: the half message's CommitLog offset. */
  transaction_half_offset: 'TRAN_HALF_OFFSET',
  /** On an operation-log record: COMMIT or ROLLBACK. */
  transaction_outcome: 'TRAN_OUTCOME',
} as const;

export const system_property_names: ReadonlySet<string> = new Set(Object.values(system_properties));
