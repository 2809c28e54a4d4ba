import { MqError } from '../runtime/errors.js';

/**
 * A message id says when and where a message was stored, so ids sort roughly by time and the
 * broker that wrote a message finds it without an index:
 *
 *   +----------------------+--------------+----------+-------------------------+
 *   | store time ms (6 B)  | store IPv4   | store    | CommitLog offset (8 B)  |
 *   |                      | (4 B)        | port 2 B |                         |
 *   +----------------------+--------------+----------+-------------------------+
 *
 * 20 bytes, written as 40 upper-case hex characters.
 */
export interface MessageLocation {
  store_timestamp: number;
  store_ipv4: number;
  store_port: number;
  commit_log_offset: number;
}

const id_bytes = 20;

export function encodeMessageId(location: MessageLocation): string {
  const bytes = Buffer.alloc(id_bytes);
  bytes.writeUIntBE(location.store_timestamp, 0, 6);
  bytes.writeUInt32BE(location.store_ipv4 >>> 0, 6);
  bytes.writeUInt16BE(location.store_port & 0xffff, 10);
  bytes.writeUInt32BE(Math.floor(location.commit_log_offset / 0x1_0000_0000), 12);
  bytes.writeUInt32BE(location.commit_log_offset >>> 0, 16);
  return bytes.toString('hex').toUpperCase();
}

export function decodeMessageId(id: string): MessageLocation {
  if (!/^[0-9A-Fa-f]{40}$/.test(id)) throw new MqError('BAD_REQUEST', `'${id}' is not a message id (40 hex characters)`);
  const bytes = Buffer.from(id, 'hex');
  return {
    store_timestamp: bytes.readUIntBE(0, 6),
    store_ipv4: bytes.readUInt32BE(6),
    store_port: bytes.readUInt16BE(10),
    commit_log_offset: bytes.readUInt32BE(12) * 0x1_0000_0000 + bytes.readUInt32BE(16),
  };
}

export function ipv4ToNumber(host: string): number {
  const parts = host.split('.').map(Number);
  if (parts.length !== 4 || parts.some((part) => !Number.isInteger(part) || part < 0 || part > 255)) return 0;
  return (((parts[0] as number) << 24) | ((parts[1] as number) << 16) | ((parts[2] as number) << 8) | (parts[3] as number)) >>> 0;
}

export function numberToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join('.');
}
