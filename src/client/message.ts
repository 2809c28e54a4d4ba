/**
 * The messages users send and receive, and the result of a send (contract.md, "Client SDK").
 * These are the SDK's own types: the wire records (src/protocol) stay an implementation
 * detail that may gain fields.
 */
import { crc32 } from 'node:zlib';
import type { SendResult as WireSendResult, StoredMessage } from '../protocol/index.js';
import { MqError } from '../runtime/errors.js';

/** A body as given: bytes, or a string sent as UTF-8. */
export type MessageBody = Buffer | Uint8Array | string;

/** A message to send. */
export interface Message {
  topic: string;
  body: MessageBody;
  /** One tag consumers can filter by (`tags: 'a||b'`). */
  tag?: string;
  /** Business keys (no whitespace in a key), for lookup and for ordered sends by key. */
  keys?: string | readonly string[];
  /** User properties; names TAGS and KEYS are reserved. */
  properties?: Readonly<Record<string, string>>;
  /** Deliver this long after the send (needs a broker with delayed delivery). */
  delayMs?: number;
  /** Deliver at this wall-clock time (ms since the epoch, or a Date). */
  deliverAt?: number | Date;
}

export type SendStatus = WireSendResult['status'];

/** The broker's acknowledgement of one message. */
export interface SendResult {
  status: SendStatus;
  /** 40 hex characters: store time, store host, CommitLog offset (`Admin.getMessage` finds it). */
  msgId: string;
  brokerName: string;
  queueId: number;
  queueOffset: number;
}

/** A stored message as a consumer (or `Admin.getMessage`) receives it. */
export interface ReceivedMessage {
  msgId: string;
  topic: string;
  tag: string | null;
  keys: string[];
  properties: Record<string, string>;
  body: Buffer;
  brokerName: string;
  queueId: number;
  queueOffset: number;
  bornTimestamp: number;
  storeTimestamp: number;
  reconsumeTimes: number;
  /** `host:port` of the producer. */
  bornHost: string;
  /** `host:port` of the broker that stored it. */
  storeHost: string;
  commitLogOffset: number;
}

export function sendResultOf(wire: WireSendResult): SendResult {
  return { status: wire.status, msgId: wire.msgId, brokerName: wire.brokerName, queueId: wire.queueId, queueOffset: wire.queueOffset };
}

/**
 * The SDK's view of a stored message from broker `brokerName`. The body's CRC32 is checked
 * against the one the broker computed from its store: bytes damaged between the disk and
 * here are reported, never delivered.
 */
export function receivedMessageOf(stored: StoredMessage, brokerName: string): ReceivedMessage {
  const body = Buffer.from(stored.body.buffer, stored.body.byteOffset, stored.body.byteLength);
  const actual_crc = crc32(body) >>> 0;
  if (actual_crc !== stored.bodyCrc32 >>> 0) {
    throw new MqError('INTERNAL', `message ${stored.msgId} arrived with a damaged body (CRC32 ${actual_crc} instead of ${stored.bodyCrc32 >>> 0}); fetch it again`, { retriable: true });
  }
  return {
    msgId: stored.msgId,
    topic: stored.topic,
    tag: stored.tag,
    keys: [...stored.keys],
    properties: { ...stored.properties },
    body,
    brokerName,
    queueId: stored.queueId,
    queueOffset: stored.queueOffset,
    bornTimestamp: stored.bornTimestamp,
    storeTimestamp: stored.storeTimestamp,
    reconsumeTimes: stored.reconsumeTimes,
    bornHost: stored.bornHost,
    storeHost: stored.storeHost,
    commitLogOffset: stored.commitLogOffset,
  };
}
