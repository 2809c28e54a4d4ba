/**
 * Client-side checks of a message, and its conversion to the wire's SendRequest. Whatever
 * the broker would refuse for the message alone (a bad topic name, an oversize body or
 * properties, reserved or malformed properties) is refused here, before any network round
 * trip, with the same error code the broker would answer.
 */
import { checkMessageSize, checkName, queue_id_any, type SendRequest } from '../protocol/index.js';
import { MqError } from '../runtime/errors.js';
import type { Message, MessageBody } from './message.js';

/**
 * Delayed delivery's bound, as the broker's default (`--max-delay-ms`, 40 days): a longer
 * delay (or a deliverAt further ahead of now) is refused here, before the round trip. A
 * broker configured with a lower bound still refuses what exceeds its own.
 */
export const delivery_delay_ms_max = 40 * 24 * 3_600_000;

/** Property names the store uses for the tag and the keys (server/broker/message_properties.ts). */
const reserved_property_names = new Set(['TAGS', 'KEYS']);
/** The store separates property names and values with these two bytes. */
const separator_pattern = /[\u0001\u0002]/;

export interface SendContext {
  producer_group: string | null;
  /** `host:port` of this client, stored as the message's born host. */
  born_host: string;
  born_timestamp_ms: number;
}

/** The checked SendRequest of `message`, for queue `queue_id_any` (the caller picks the queue). */
export function sendRequestOf(message: Message, context: SendContext): SendRequest {
  if (typeof message !== 'object' || message === null) throw bad('a message is an object { topic, body, ... }');
  const bad_name = checkName('topic', message.topic);
  if (bad_name !== undefined) throw bad(bad_name.message);
  const body = bodyBytes(message.body);
  const tag = tagOf(message.tag);
  const keys = keysOf(message.keys);
  const properties = propertiesOf(message.properties);
  const too_large = checkMessageSize({ body, properties });
  if (too_large !== undefined) throw new MqError('MESSAGE_TOO_LARGE', too_large.message);
  const { delay_ms, deliver_at_ms } = deliveryOf(message, context.born_timestamp_ms);
  return {
    topic: message.topic,
    queueId: queue_id_any,
    tag,
    keys,
    properties,
    bornTimestamp: context.born_timestamp_ms,
    bornHost: context.born_host,
    flags: 0,
    delayMs: delay_ms,
    deliverAtMs: deliver_at_ms,
    reconsumeTimes: 0,
    producerGroup: context.producer_group,
    body,
  };
}

/** The body as a Buffer: a view over the caller's bytes (no copy), or a string's UTF-8. */
export function bodyBytes(body: MessageBody): Buffer {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  throw bad(`a message body is a Buffer, Uint8Array or string, not ${body === null ? 'null' : typeof body}`);
}

function tagOf(tag: unknown): string | null {
  if (tag === undefined || tag === null || tag === '') return null;
  if (typeof tag !== 'string') throw bad(`a tag is a string, not ${typeof tag}`);
  if (separator_pattern.test(tag) || tag.includes('||')) throw bad(`tag ${JSON.stringify(tag)} contains \\x01, \\x02 or '||', which the store and tag filters use as separators`);
  return tag;
}

function keysOf(keys: unknown): string[] {
  if (keys === undefined || keys === null) return [];
  const list = typeof keys === 'string' ? [keys] : keys;
  if (!Array.isArray(list)) throw bad('keys are a string or an array of strings');
  for (const key of list as unknown[]) {
    if (typeof key !== 'string' || key === '' || /\s/.test(key) || separator_pattern.test(key)) {
      throw bad(`key ${JSON.stringify(key)} is not a non-empty string without whitespace (the store separates keys with spaces)`);
    }
  }
  return [...(list as string[])];
}

function propertiesOf(properties: unknown): Record<string, string> {
  if (properties === undefined || properties === null) return {};
  if (typeof properties !== 'object' || Array.isArray(properties)) throw bad('properties are an object of string values');
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(properties)) {
    if (typeof value !== 'string') throw bad(`property '${name}' is ${typeof value}; property values are strings`);
    if (name === '' || reserved_property_names.has(name)) throw bad(`property name ${JSON.stringify(name)} is empty or reserved; use the message's tag and keys for TAGS and KEYS`);
    if (separator_pattern.test(name) || separator_pattern.test(value)) throw bad(`property '${name}' contains \\x01 or \\x02, which the store uses as separators`);
    result[name] = value;
  }
  return result;
}

/** The message's delay or delivery time, checked against `now_ms` (wall clock, ms since the epoch). */
function deliveryOf(message: Message, now_ms: number): { delay_ms: number | null; deliver_at_ms: number | null } {
  const { delayMs, deliverAt } = message;
  if (delayMs !== undefined && deliverAt !== undefined) throw bad('give delayMs or deliverAt, not both');
  if (delayMs !== undefined) {
    if (typeof delayMs !== 'number' || !Number.isSafeInteger(delayMs) || delayMs < 0) throw bad(`delayMs is a whole number of milliseconds >= 0, not ${String(delayMs)}`);
    if (delayMs > delivery_delay_ms_max) throw bad(`delayMs ${delayMs} is more than the maximum delay ${delivery_delay_ms_max} ms (40 days)`);
  }
  let deliver_at_ms: number | null = null;
  if (deliverAt !== undefined) {
    deliver_at_ms = deliverAt instanceof Date ? deliverAt.getTime() : deliverAt;
    if (typeof deliver_at_ms !== 'number' || !Number.isSafeInteger(deliver_at_ms) || deliver_at_ms < 0) throw bad(`deliverAt is a Date or a whole number of ms since the epoch, not ${String(deliverAt)}`);
    if (deliver_at_ms - now_ms > delivery_delay_ms_max) {
      throw bad(`deliverAt ${timeText(deliver_at_ms)} is more than the maximum delay ${delivery_delay_ms_max} ms (40 days) ahead of now (${timeText(now_ms)}); send it later, or with a shorter delay`);
    }
  }
  return { delay_ms: delayMs ?? null, deliver_at_ms };
}

/** ISO time when Date can show it (it ends at year 275760), else the number. */
function timeText(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? `${ms} ms since the epoch` : date.toISOString();
}

function bad(message: string): MqError {
  return new MqError('BAD_REQUEST', message);
}
