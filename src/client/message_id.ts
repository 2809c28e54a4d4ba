import { MqError } from '../runtime/errors.js';

/**
 * What a message id says (the broker's layout, server/broker/message_id.ts; the SDK may not
 * import broker code, so the reading is repeated here):
 *
 *   +----------------------+--------------+----------+-------------------------+
 *   | store time ms (6 B)  | store IPv4   | store    | CommitLog offset (8 B)  |
 *   |                      | (4 B)        | port 2 B |                         |
 *   +----------------------+--------------+----------+-------------------------+
 *
 * 20 bytes, written as 40 hex characters.
 */
export interface MessageIdParts {
  storeTimestamp: number;
  /** `a.b.c.d:port` of the broker that stored the message. */
  storeHost: string;
  commitLogOffset: number;
}

const id_pattern = /^[0-9A-Fa-f]{40}$/;

export function parseMessageId(id: string): MessageIdParts {
  if (typeof id !== 'string' || !id_pattern.test(id)) {
    throw new MqError('BAD_REQUEST', `${JSON.stringify(id)} is not a message id: ids are 40 hex characters, as returned by send`);
  }
  const bytes = Buffer.from(id, 'hex');
  const ipv4 = bytes.readUInt32BE(6);
  return {
    storeTimestamp: bytes.readUIntBE(0, 6),
    storeHost: `${[24, 16, 8, 0].map((shift) => (ipv4 >>> shift) & 0xff).join('.')}:${bytes.readUInt16BE(10)}`,
    commitLogOffset: bytes.readUInt32BE(12) * 0x1_0000_0000 + bytes.readUInt32BE(16),
  };
}
