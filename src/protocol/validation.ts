/**
 * Checks of values that the wire format carries but Avro cannot express: the naming rule
 * for topics and groups, and the size limits of a message (contract.md). Pure; the broker
 * calls them on every request and passes its configured limits.
 */
import { body_bytes_max, name_chars_max, properties_bytes_max } from './limits.js';
import { ProtocolError } from './protocol_error.js';
import { isGroupSystemTopic } from './system_topics.js';

/** Topic and group names: letters, digits, `_ % | -`, 1 to 127 characters (contract.md). */
export const name_pattern = /^[A-Za-z0-9_%|-]{1,127}$/;

export function isValidName(name: unknown): name is string {
  return typeof name === 'string' && name_pattern.test(name);
}

/** Undefined when `name` is a valid topic or group name, else an INVALID_NAME error saying why. */
export function checkName(what: 'topic' | 'group', name: unknown): ProtocolError | undefined {
  if (isValidName(name)) return undefined;
  // A group's retry and dead-letter topics are the prefix plus the group's name: they may be
  // longer than a user's topic.
  if (what === 'topic' && typeof name === 'string' && isGroupSystemTopic(name)) return undefined;
  let why: string;
  if (typeof name !== 'string') why = `it is ${typeof name}, not a string`;
  else if (name.length === 0) why = 'it is empty';
  else if (name.length > name_chars_max) why = `it has ${name.length} characters, more than ${name_chars_max}`;
  else {
    const bad = [...name].find((char) => !/[A-Za-z0-9_%|-]/.test(char)) ?? '';
    why = `it contains ${JSON.stringify(bad)}`;
  }
  const shown = typeof name === 'string' ? JSON.stringify(name.length > 40 ? `${name.slice(0, 37)}...` : name) : String(name);
  return new ProtocolError(
    'INVALID_NAME',
    `${what} name ${shown} is invalid: ${why}; use 1 to ${name_chars_max} of A-Z a-z 0-9 _ % | -`,
  );
}

/**
 * Undefined when `key` can be a message's business key (what QUERY_MESSAGE looks up): a
 * non-empty string without whitespace (the store separates keys with spaces), no longer
 * than a message's properties may be.
 */
export function checkMessageKey(key: unknown): ProtocolError | undefined {
  if (typeof key === 'string' && key.length > 0 && key.length <= properties_bytes_max && !/\s/.test(key)) return undefined;
  const shown = typeof key === 'string' ? JSON.stringify(key.length > 40 ? `${key.slice(0, 37)}...` : key) : String(key);
  return new ProtocolError('INVALID_VALUE', `message key ${shown} is invalid: a key is 1 to ${properties_bytes_max} characters without whitespace`);
}

/** Bytes of a message's properties as the limit counts them: UTF-8 keys plus values. */
export function propertiesBytes(properties: Readonly<Record<string, string>>): number {
  let total = 0;
  for (const key of Object.keys(properties)) {
    total += Buffer.byteLength(key, 'utf8') + Buffer.byteLength(properties[key] ?? '', 'utf8');
  }
  return total;
}

export interface MessageLimits {
  body_bytes_max: number;
  properties_bytes_max: number;
}

export const message_limits_default: MessageLimits = { body_bytes_max, properties_bytes_max };

/** Undefined when the message fits the limits, else a MESSAGE_TOO_LARGE error saying by how much. */
export function checkMessageSize(
  message: { body: Uint8Array; properties: Readonly<Record<string, string>> },
  limits: MessageLimits = message_limits_default,
): ProtocolError | undefined {
  if (message.body.byteLength > limits.body_bytes_max) {
    return new ProtocolError(
      'MESSAGE_TOO_LARGE',
      `message body is ${message.body.byteLength} bytes, more than the limit ${limits.body_bytes_max}; ` +
        'split it or store it elsewhere and send a reference',
    );
  }
  const properties_bytes = propertiesBytes(message.properties);
  if (properties_bytes > limits.properties_bytes_max) {
    return new ProtocolError(
      'MESSAGE_TOO_LARGE',
      `message properties take ${properties_bytes} bytes, more than the limit ${limits.properties_bytes_max}; ` +
        'move large values into the body',
    );
  }
  return undefined;
}
