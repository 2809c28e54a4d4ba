import { MqError } from '../runtime/errors.js';

/**
 * How a message's tag, keys and user properties are kept in the CommitLog record's
 * properties bytes: RocketMQ's encoding, `name \x01 value \x02` repeated, with the tag under
 * `TAGS` and the keys, space-separated, under `KEYS`. Compact, and a record can be read back
 * without a schema.
 */
const name_value_separator = 0x01;
const pair_separator = 0x02;
export const tags_property = 'TAGS';
export const keys_property = 'KEYS';
const reserved = new Set([tags_property, keys_property]);

export interface MessageProperties {
  tag: string | null;
  keys: string[];
  properties: Record<string, string>;
}

export function encodeMessageProperties(message: MessageProperties): Buffer {
  const parts: string[] = [];
  if (message.tag !== null && message.tag !== '') parts.push(pair(tags_property, message.tag));
  if (message.keys.length > 0) parts.push(pair(keys_property, message.keys.join(' ')));
  for (const [name, value] of Object.entries(message.properties)) {
    if (reserved.has(name)) throw new MqError('BAD_REQUEST', `property name '${name}' is reserved; use the message's tag or keys`);
    parts.push(pair(name, value));
  }
  return Buffer.from(parts.join(''), 'utf8');
}

export function decodeMessageProperties(bytes: Uint8Array): MessageProperties {
  const result: MessageProperties = { tag: null, keys: [], properties: {} };
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  for (const entry of text.split(String.fromCharCode(pair_separator))) {
    if (entry === '') continue;
    const at = entry.indexOf(String.fromCharCode(name_value_separator));
    if (at < 0) continue;
    const name = entry.slice(0, at);
    const value = entry.slice(at + 1);
    if (name === tags_property) result.tag = value;
    else if (name === keys_property) result.keys = value.split(' ').filter((key) => key !== '');
    else result.properties[name] = value;
  }
  return result;
}

function pair(name: string, value: string): string {
  for (const text of [name, value]) {
    if (text.includes('\u0001') || text.includes('\u0002')) {
      throw new MqError('BAD_REQUEST', `property '${name}' contains a control character \\x01 or \\x02, which the store uses as separators`);
    }
  }
  if (name === '') throw new MqError('BAD_REQUEST', 'a property name is empty');
  return `${name}\u0001${value}\u0002`;
}
