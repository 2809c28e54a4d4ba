import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import { body_bytes_max, checkMessageSize, queue_id_any, system_property_names, type SendRequest } from '../../protocol/index.js';
import { MqError } from '../../runtime/errors.js';
import { keys_property, tags_property } from '../../storage/message_properties.js';
import { checkTag } from '../../storage/tag_hash.js';
import { grpc_limits } from './grpc_limits.js';
import { GrpcStatusError } from './grpc_status.js';
import { topicNameOf } from './grpc_resources.js';
import { Code, DigestType, Encoding, MessageType, type Message, type Timestamp } from './grpc_types.js';

/**
 * A RocketMQ 5 `Message` (what a producer sends) as the broker's SendRequest, checked. Pure:
 * no I/O, no broker state; the send handler picks the queue and stores it.
 *
 * How the proto's fields land in our record (docs/rocketmq-compat.md):
 *
 *   topic.name                       -> topic (resource_namespace must be '')
 *   body (IDENTITY; GZIP unpacked)   -> body
 *   user_properties                  -> properties
 *   system_properties.message_id     -> property UNIQ_KEY (RocketMQ's name; our SDK shows it)
 *   system_properties.tag            -> tag
 *   system_properties.keys           -> keys
 *   system_properties.message_group  -> property __SHARDINGKEY, and the queue (FIFO)
 *   system_properties.born_timestamp -> bornTimestamp (ms; now when absent)
 *   system_properties.born_host      -> bornHost (a host name: the record keeps no address then)
 *   system_properties.delivery_timestamp -> deliverAtMs (DELAY)
 *   system_properties.queue_id       -> ignored: the clients always send 0 (query_route.ts)
 *
 * A message whose type and fields disagree (FIFO without a group, DELAY without a time, a
 * group on a non-FIFO message, a transaction with a group or a delay) is
 * MESSAGE_PROPERTY_CONFLICT_WITH_TYPE, as RocketMQ answers; LITE and PRIORITY messages are
 * UNSUPPORTED here.
 */

/** Property names the gRPC endpoint sets on every message it stores (RocketMQ's names). */
export const grpc_property_names = {
  /** The id the producer gave the message (the clients' message id, 34 hex characters). */
  unique_key: 'UNIQ_KEY',
  /** A FIFO message's group. */
  sharding_key: '__SHARDINGKEY',
} as const;

/** Names a RocketMQ client may not use for its own properties (and never sees among them on receive). */
export const reserved_property_names: ReadonlySet<string> = new Set([...system_property_names, tags_property, keys_property, grpc_property_names.unique_key, grpc_property_names.sharding_key]);
const separator_pattern = /[\u0001\u0002]/;
const message_id_pattern = /^[\x21-\x7e]+$/;

export type SendKind = 'NORMAL' | 'FIFO' | 'DELAY' | 'TRANSACTION';

/** A checked message: the SendRequest (queue not yet picked, producer group not yet set) and what the answer needs. */
export interface ConvertedMessage {
  request: SendRequest;
  topic: string;
  message_id: string;
  kind: SendKind;
  /** The FIFO message group, or undefined. */
  group: string | undefined;
}

export interface ConvertOptions {
  now_ms: number;
  /** The broker's --max-delay-ms. */
  max_delay_ms: number;
  /** Bytes GZIP bodies may still unpack to in this request, shared by its messages: one
   *  request of many small compressed bodies must not unpack into gigabytes. */
  unpack_budget: { bytes_left: number };
}

/** Milliseconds of a Timestamp, or undefined when it is not a sane one. */
export function timestampMs(timestamp: Timestamp | null | undefined): number | undefined {
  if (timestamp === undefined || timestamp === null) return undefined;
  const ms = timestamp.seconds * 1_000 + Math.floor(timestamp.nanos / 1_000_000);
  return Number.isSafeInteger(ms) && ms >= 0 ? ms : undefined;
}

export function convertMessage(message: Message, options: ConvertOptions): ConvertedMessage {
  const topic = topicNameOf(message.topic);
  const system = message.system_properties;
  if (system === undefined || system === null) throw new GrpcStatusError(Code.BAD_REQUEST, `a message to topic '${topic}' has no system_properties`);
  const message_id = system.message_id;
  if (message_id === '' || message_id.length > grpc_limits.message_id_chars_max || !message_id_pattern.test(message_id)) {
    throw new GrpcStatusError(Code.ILLEGAL_MESSAGE_ID, `message_id '${message_id.slice(0, grpc_limits.message_id_chars_max)}' is not 1..${grpc_limits.message_id_chars_max} printable ASCII characters; the RocketMQ clients generate one for every message`);
  }
  const body = bodyOf(message, message_id, options.unpack_budget);
  const tag = tagOf(system.tag);
  const keys = keysOf(system.keys);
  const kind = kindOf(system.message_type, system.message_group, system.delivery_timestamp, system.lite_topic);
  const group = kind === 'FIFO' ? groupOf(system.message_group as string) : undefined;
  const properties = propertiesOf(message.user_properties, message_id, group);
  const too_large = checkMessageSize({ body, properties });
  if (too_large !== undefined) throw new GrpcStatusError(Code.MESSAGE_PROPERTIES_TOO_LARGE, too_large.message);
  const born_ms = timestampMs(system.born_timestamp) ?? options.now_ms;
  return {
    topic,
    message_id,
    kind,
    group,
    request: {
      topic,
      queueId: queue_id_any,
      tag,
      keys,
      properties,
      bornTimestamp: born_ms,
      bornHost: system.born_host.slice(0, grpc_limits.client_id_chars_max),
      flags: 0,
      delayMs: null,
      deliverAtMs: kind === 'DELAY' ? deliveryOf(system.delivery_timestamp, options) : null,
      reconsumeTimes: 0,
      producerGroup: null,
      body,
    },
  };
}

/** The body as stored: IDENTITY as sent, GZIP unpacked (bounded), after the digest check. */
function bodyOf(message: Message, message_id: string, unpack_budget: { bytes_left: number }): Buffer {
  const system = message.system_properties as NonNullable<Message['system_properties']>;
  const sent = message.body;
  if (sent.byteLength > body_bytes_max) {
    throw new GrpcStatusError(Code.MESSAGE_BODY_TOO_LARGE, `message ${message_id}: body is ${sent.byteLength} bytes, more than the limit ${body_bytes_max}; split it or store it elsewhere and send a reference`);
  }
  checkDigest(sent, system.body_digest, message_id);
  switch (system.body_encoding) {
    case Encoding.ENCODING_UNSPECIFIED:
    case Encoding.IDENTITY:
      return sent;
    case Encoding.GZIP:
      try {
        // Unpacked on the main thread: at most body_bytes_max out, and no more than the
        // request's budget over all its messages; a few ms at worst.
        const limit = Math.min(body_bytes_max, unpack_budget.bytes_left);
        const unpacked = zlib.gunzipSync(sent, { maxOutputLength: Math.max(1, limit) });
        unpack_budget.bytes_left -= unpacked.byteLength;
        return unpacked;
      } catch (error) {
        if (error instanceof RangeError) throw new GrpcStatusError(Code.MESSAGE_BODY_TOO_LARGE, `message ${message_id}: the GZIP body unpacks to more than ${body_bytes_max} bytes, or the request's GZIP bodies to more than ${grpc_limits.unpacked_bytes_per_request_max}`);
        throw new GrpcStatusError(Code.MESSAGE_CORRUPTED, `message ${message_id}: the body is not valid GZIP (${error instanceof Error ? error.message : String(error)})`);
      }
    default:
      throw new GrpcStatusError(Code.BAD_REQUEST, `message ${message_id}: body_encoding ${system.body_encoding} is not IDENTITY or GZIP`);
  }
}

/** A digest the producer sent (the official clients send none) must match the bytes sent. */
function checkDigest(body: Buffer, digest: { type: number; checksum: string } | null | undefined, message_id: string): void {
  if (digest === undefined || digest === null || digest.type === DigestType.DIGEST_TYPE_UNSPECIFIED) return;
  let actual: string | undefined;
  if (digest.type === DigestType.MD5) actual = createHash('md5').update(body).digest('hex').toUpperCase();
  else if (digest.type === DigestType.SHA1) actual = createHash('sha1').update(body).digest('hex').toUpperCase();
  else if (digest.type === DigestType.CRC32 && typeof (zlib as { crc32?: unknown }).crc32 === 'function') actual = String((zlib as unknown as { crc32(data: Buffer): number }).crc32(body));
  if (actual !== undefined && actual !== digest.checksum.toUpperCase()) {
    throw new GrpcStatusError(Code.MESSAGE_CORRUPTED, `message ${message_id}: the body's digest is ${actual}, the producer said ${digest.checksum}`);
  }
}

function tagOf(tag: string | undefined): string | null {
  if (tag === undefined || tag === '') return null;
  try {
    checkTag(tag);
  } catch (error) {
    if (error instanceof MqError) throw new GrpcStatusError(Code.ILLEGAL_MESSAGE_TAG, error.message);
    throw error;
  }
  if (separator_pattern.test(tag)) throw new GrpcStatusError(Code.ILLEGAL_MESSAGE_TAG, `tag ${JSON.stringify(tag)} contains \\x01 or \\x02, which the store uses as separators`);
  return tag;
}

function keysOf(keys: readonly string[]): string[] {
  const given = keys.filter((key) => key !== '');
  if (given.length > grpc_limits.keys_per_message_max) throw new GrpcStatusError(Code.ILLEGAL_MESSAGE_KEY, `a message has ${given.length} keys, more than ${grpc_limits.keys_per_message_max}`);
  for (const key of given) {
    if (key.length > grpc_limits.key_chars_max || /\s/.test(key) || separator_pattern.test(key)) {
      throw new GrpcStatusError(Code.ILLEGAL_MESSAGE_KEY, `key ${JSON.stringify(key.slice(0, 64))} is longer than ${grpc_limits.key_chars_max} characters or contains whitespace or \\x01/\\x02 (the store separates keys with spaces)`);
    }
  }
  return given;
}

function kindOf(type: number, group: string | undefined, delivery: Timestamp | undefined, lite_topic: string | undefined): SendKind {
  const has_group = group !== undefined && group !== '';
  const has_delivery = delivery !== undefined;
  const conflict = (why: string): GrpcStatusError => new GrpcStatusError(Code.MESSAGE_PROPERTY_CONFLICT_WITH_TYPE, why);
  if (type === MessageType.LITE || type === MessageType.PRIORITY || (lite_topic !== undefined && lite_topic !== '')) {
    throw new GrpcStatusError(Code.UNSUPPORTED, 'LITE and PRIORITY messages are not supported by mq-node; send NORMAL, FIFO, DELAY or TRANSACTION messages');
  }
  switch (type) {
    case MessageType.MESSAGE_TYPE_UNSPECIFIED:
      if (has_group && has_delivery) throw conflict('a message has a message_group and a delivery_timestamp: FIFO messages cannot be delayed');
      return has_group ? 'FIFO' : has_delivery ? 'DELAY' : 'NORMAL';
    case MessageType.NORMAL:
      if (has_group || has_delivery) throw conflict('a NORMAL message has a message_group or a delivery_timestamp; send it as FIFO or DELAY');
      return 'NORMAL';
    case MessageType.FIFO:
      if (!has_group) throw conflict('a FIFO message needs a message_group');
      if (has_delivery) throw conflict('a FIFO message cannot have a delivery_timestamp');
      return 'FIFO';
    case MessageType.DELAY:
      if (!has_delivery) throw conflict('a DELAY message needs a delivery_timestamp');
      if (has_group) throw conflict('a DELAY message cannot have a message_group');
      return 'DELAY';
    case MessageType.TRANSACTION:
      if (has_group || has_delivery) throw conflict('a TRANSACTION message cannot have a message_group or a delivery_timestamp');
      return 'TRANSACTION';
    default:
      throw new GrpcStatusError(Code.BAD_REQUEST, `message_type ${type} is not NORMAL, FIFO, DELAY or TRANSACTION`);
  }
}

function groupOf(group: string): string {
  if (group.length > grpc_limits.message_group_chars_max || separator_pattern.test(group)) {
    throw new GrpcStatusError(Code.ILLEGAL_MESSAGE_GROUP, `message_group is longer than ${grpc_limits.message_group_chars_max} characters or contains \\x01/\\x02`);
  }
  return group;
}

function deliveryOf(delivery: Timestamp | undefined, options: ConvertOptions): number | null {
  const at_ms = timestampMs(delivery);
  if (at_ms === undefined) throw new GrpcStatusError(Code.ILLEGAL_DELIVERY_TIME, 'delivery_timestamp is not a time after 1970');
  if (at_ms - options.now_ms > options.max_delay_ms) {
    throw new GrpcStatusError(Code.ILLEGAL_DELIVERY_TIME, `delivery_timestamp ${new Date(at_ms).toISOString()} is more than ${options.max_delay_ms} ms (--max-delay-ms) from now`);
  }
  // A time in the past means now (send_handlers.ts deliverAtOf).
  return at_ms;
}

function propertiesOf(user_properties: Readonly<Record<string, string>>, message_id: string, group: string | undefined): Record<string, string> {
  // No prototype: a property named "__proto__" is a property like any other.
  const properties = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(user_properties)) {
    if (reserved_property_names.has(name)) {
      throw new GrpcStatusError(Code.ILLEGAL_MESSAGE_PROPERTY_KEY, `property name '${name}' is reserved (the broker sets it); use another name`);
    }
    if (name === '' || separator_pattern.test(name) || separator_pattern.test(value)) {
      throw new GrpcStatusError(Code.ILLEGAL_MESSAGE_PROPERTY_KEY, `property ${JSON.stringify(name.slice(0, 64))} is empty or contains \\x01/\\x02, which the store uses as separators`);
    }
    properties[name] = value;
  }
  properties[grpc_property_names.unique_key] = message_id;
  if (group !== undefined) properties[grpc_property_names.sharding_key] = group;
  return properties;
}
