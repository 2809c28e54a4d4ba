import { system_properties, type StoredMessage } from '../../protocol/index.js';
import { durationOf } from './client_settings.js';
import { grpc_property_names, reserved_property_names } from './grpc_messages.js';
import { DigestType, Encoding, MessageType, type Message, type SystemProperties, type Timestamp } from './grpc_types.js';

/**
 * A stored message as a RocketMQ 5 `Message` for a consumer (ReceiveMessage) or for a
 * producer's transaction check-back (recover_orphaned_transaction_command): the reverse of
 * grpc_messages.ts. Pure: the stored message in, the proto shape out.
 *
 * What the official client needs (rocketmq-client-nodejs src/message/MessageView.ts:48-97):
 * `topic.name` and `system_properties.body_digest` are dereferenced unchecked — a message
 * without them throws and loses the whole batch — and the digest must match: CRC32 is the
 * decimal string of the unsigned IEEE CRC32 of the body, which the read path already computed
 * over the body as read (StoredMessage.bodyCrc32, stored_message.ts).
 *
 *   topic.name                       <- topic
 *   body (IDENTITY)                  <- body, COPIED out of the mapped CommitLog
 *   user_properties                  <- properties without the broker's and RocketMQ's reserved names
 *   system_properties.message_id     <- property UNIQ_KEY (the producer's id), else our msgId
 *   system_properties.tag / keys     <- tag / keys
 *   system_properties.message_group  <- property __SHARDINGKEY
 *   system_properties.message_type   <- FIFO (a group), DELAY (was delayed), TRANSACTION
 *                                       (committed from a half message), else NORMAL
 */

/** One delivery of a received message (absent for a check-back). */
export interface Delivery {
  receipt_handle: string;
  /** 1 on the first delivery. */
  delivery_attempt: number;
  invisible_ms: number;
}

export function timestampOf(ms: number): Timestamp {
  return { seconds: Math.floor(ms / 1_000), nanos: (ms % 1_000) * 1_000_000 };
}

function messageTypeOf(properties: Readonly<Record<string, string>>): number {
  if (properties[grpc_property_names.sharding_key] !== undefined) return MessageType.FIFO;
  if (properties[system_properties.deliver_at_ms] !== undefined) return MessageType.DELAY;
  if (properties[system_properties.transaction_half_offset] !== undefined) return MessageType.TRANSACTION;
  return MessageType.NORMAL;
}

export function outgoingMessage(stored: StoredMessage, delivery?: Delivery): Message {
  const properties = stored.properties;
  const user_properties: Record<string, string> = {};
  for (const [name, value] of Object.entries(properties)) {
    if (!reserved_property_names.has(name)) user_properties[name] = value;
  }
  const group = properties[grpc_property_names.sharding_key];
  const deliver_at_ms = Number(properties[system_properties.deliver_at_ms]);
  const system: SystemProperties = {
    ...(stored.tag === null ? {} : { tag: stored.tag }),
    keys: [...stored.keys],
    message_id: properties[grpc_property_names.unique_key] ?? stored.msgId,
    body_digest: { type: DigestType.CRC32, checksum: String(stored.bodyCrc32 >>> 0) },
    body_encoding: Encoding.IDENTITY,
    message_type: messageTypeOf(properties),
    born_timestamp: timestampOf(stored.bornTimestamp),
    born_host: stored.bornHost,
    store_timestamp: timestampOf(stored.storeTimestamp),
    store_host: stored.storeHost,
    ...(Number.isSafeInteger(deliver_at_ms) && deliver_at_ms > 0 ? { delivery_timestamp: timestampOf(deliver_at_ms) } : {}),
    queue_id: stored.queueId,
    queue_offset: stored.queueOffset,
    ...(group === undefined ? {} : { message_group: group }),
    ...(delivery === undefined ? {} : {
      receipt_handle: delivery.receipt_handle,
      delivery_attempt: delivery.delivery_attempt,
      invisible_duration: durationOf(delivery.invisible_ms),
    }),
  };
  return {
    topic: { resource_namespace: '', name: stored.topic },
    user_properties,
    system_properties: system,
    // A copy: the stored body is a view into the mapped CommitLog, which may be unmapped
    // (retention, stop) while grpc-js still holds the response.
    body: Buffer.from(stored.body),
  };
}
