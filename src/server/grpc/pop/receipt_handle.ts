import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { assert } from '../../../runtime/assert.js';

/**
 * The receipt handle of one delivery of a popped message: what AckMessage,
 * ChangeInvisibleDuration and ForwardMessageToDeadLetterQueue name the message by. Opaque to
 * clients (they never parse it: docs/rocketmq-compat.md); a base64url string (no padding) of:
 *
 *   0      1                 9        13                21       22            22+b     23+b         23+b+t     39+b+t
 *   +------+-----------------+--------+-----------------+--------+-------------+--------+------------+----------+
 *   | ver  | delivery seq    | queue  | queue offset    | broker | broker name | topic  | topic      | mac      |
 *   | = 1  | (u64)           | id u32 | (u64)           | size b | (UTF-8)     | size t | (UTF-8)    | 16 bytes |
 *   +------+-----------------+--------+-----------------+--------+-------------+--------+------------+----------+
 *
 * Little-endian; 64-bit fields are two u32 halves, low first (as in record.ts), read back as
 * safe integers. b and t are u8: 1..255 bytes each.
 *
 * mac = the first 16 bytes of HMAC-SHA256(key, group size u8 | group | bytes [0, 23+b+t)).
 * The key is random per process (per engine): nobody outside can make a handle that acks
 * another message, and handles of an earlier process are all refused after a restart (its
 * messages are delivered again anyway: what was not acked was not committed). The group is
 * under the mac but not in the handle: the request names it, and a handle of group A does
 * not ack group B's delivery of the same message.
 *
 * The delivery sequence is unique per delivery in the process: a redelivery or a new
 * invisible duration gives the message a new one, which makes every earlier handle stale.
 */
export const receipt_handle_version = 1;
const fixed_bytes = 1 + 8 + 4 + 8 + 1 + 1;
export const receipt_handle_mac_bytes = 16;
const name_bytes_max = 255;
export const receipt_handle_key_bytes = 32;
/** The largest handle: both names at 255 bytes. */
export const receipt_handle_bytes_max = fixed_bytes + 2 * name_bytes_max + receipt_handle_mac_bytes;
/** Characters of the largest handle in base64url without padding; longer input is refused unread. */
export const receipt_handle_chars_max = Math.ceil((receipt_handle_bytes_max * 4) / 3);
const base64url = /^[A-Za-z0-9_-]+$/;
const u32_span = 0x1_0000_0000;

/** What a handle names: one delivery of one message of this broker. */
export interface ReceiptHandle {
  broker_name: string;
  topic: string;
  queue_id: number;
  queue_offset: number;
  delivery_seq: number;
}

export type ReceiptHandleDecode = { ok: true; handle: ReceiptHandle } | { ok: false; reason: string };

/**
 * Encodes and checks receipt handles with one key. Pure apart from the HMAC (a function of
 * the key and the bytes). Owned by the PopEngine (broker main thread).
 */
export class ReceiptHandleCodec {
  private readonly key: Buffer;

  constructor(key: Uint8Array = randomBytes(receipt_handle_key_bytes)) {
    assert(key.length >= 16, `a receipt handle key needs at least 16 bytes, got ${key.length}`);
    this.key = Buffer.from(key);
  }

  encode(group: string, handle: ReceiptHandle): string {
    const broker = Buffer.from(handle.broker_name, 'utf8');
    const topic = Buffer.from(handle.topic, 'utf8');
    assert(broker.length >= 1 && broker.length <= name_bytes_max, `broker name of ${broker.length} bytes does not fit a receipt handle`);
    assert(topic.length >= 1 && topic.length <= name_bytes_max, `topic of ${topic.length} bytes does not fit a receipt handle`);
    assert(Number.isSafeInteger(handle.delivery_seq) && handle.delivery_seq >= 0, 'delivery seq is not a non-negative safe integer');
    assert(Number.isSafeInteger(handle.queue_offset) && handle.queue_offset >= 0, 'queue offset is not a non-negative safe integer');
    assert(Number.isInteger(handle.queue_id) && handle.queue_id >= 0 && handle.queue_id < u32_span, 'queue id is not a u32');
    const body_bytes = fixed_bytes + broker.length + topic.length;
    const bytes = Buffer.alloc(body_bytes + receipt_handle_mac_bytes);
    bytes[0] = receipt_handle_version;
    writeU64(bytes, 1, handle.delivery_seq);
    bytes.writeUInt32LE(handle.queue_id, 9);
    writeU64(bytes, 13, handle.queue_offset);
    bytes[21] = broker.length;
    broker.copy(bytes, 22);
    bytes[22 + broker.length] = topic.length;
    topic.copy(bytes, 23 + broker.length);
    this.mac(group, bytes.subarray(0, body_bytes)).copy(bytes, body_bytes);
    return bytes.toString('base64url');
  }

  /** Never throws: anything that is not a handle this codec made for `group` is refused. */
  decode(group: string, text: unknown): ReceiptHandleDecode {
    if (typeof text !== 'string' || text.length === 0) return { ok: false, reason: 'the receipt handle is empty' };
    if (text.length > receipt_handle_chars_max) return { ok: false, reason: `the receipt handle has ${text.length} characters, more than any handle (${receipt_handle_chars_max})` };
    if (!base64url.test(text)) return { ok: false, reason: 'the receipt handle is not base64url' };
    const bytes = Buffer.from(text, 'base64url');
    if (bytes.length < fixed_bytes + 2 + receipt_handle_mac_bytes) return { ok: false, reason: `the receipt handle is ${bytes.length} bytes, too short` };
    if (bytes[0] !== receipt_handle_version) return { ok: false, reason: `the receipt handle has version ${bytes[0]}, not ${receipt_handle_version}` };
    const broker_size = bytes[21] as number;
    const topic_size_at = 22 + broker_size;
    if (broker_size === 0 || topic_size_at >= bytes.length) return { ok: false, reason: 'the receipt handle is damaged (broker name size)' };
    const topic_size = bytes[topic_size_at] as number;
    const body_bytes = fixed_bytes + broker_size + topic_size;
    if (topic_size === 0 || body_bytes + receipt_handle_mac_bytes !== bytes.length) return { ok: false, reason: 'the receipt handle is damaged (sizes do not add up)' };
    const expected = this.mac(group, bytes.subarray(0, body_bytes));
    if (!timingSafeEqual(expected, bytes.subarray(body_bytes))) {
      return { ok: false, reason: 'the receipt handle was not issued by this broker process for this group (a forged handle, another group, or a handle from before a restart)' };
    }
    // Under the mac, so made by encode(): the numbers are in range.
    return {
      ok: true,
      handle: {
        delivery_seq: readU64(bytes, 1),
        queue_id: bytes.readUInt32LE(9),
        queue_offset: readU64(bytes, 13),
        broker_name: bytes.toString('utf8', 22, topic_size_at),
        topic: bytes.toString('utf8', topic_size_at + 1, body_bytes),
      },
    };
  }

  private mac(group: string, body: Buffer): Buffer {
    const group_bytes = Buffer.from(group, 'utf8');
    assert(group_bytes.length <= name_bytes_max, `group of ${group_bytes.length} bytes is too long for a receipt handle mac`);
    const hmac = createHmac('sha256', this.key);
    hmac.update(Buffer.of(group_bytes.length));
    hmac.update(group_bytes);
    hmac.update(body);
    return hmac.digest().subarray(0, receipt_handle_mac_bytes);
  }
}

function writeU64(target: Buffer, position: number, value: number): void {
  target.writeUInt32LE(value >>> 0, position);
  target.writeUInt32LE(Math.floor(value / u32_span), position + 4);
}

function readU64(source: Buffer, position: number): number {
  return source.readUInt32LE(position + 4) * u32_span + source.readUInt32LE(position);
}
