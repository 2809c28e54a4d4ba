/**
 * How a client signs a request and a server checks the signature (access control): HMAC-SHA256
 * with the account's secret key over the request's canonical fields and its body. Pure: both
 * sides compute the same bytes from the same values; where the values come from (a clock, a
 * random session id) is the caller's.
 *
 * The signed fields travel as envelope headers:
 *
 *   AccessKey  the account
 *   Timestamp  ms since the epoch when the request was signed: a server refuses one outside
 *              its window (a captured request is useless after it)
 *   Session    random, one per client connection (32 hex digits)
 *   Seq        1, 2, 3 ... per session: a server refuses a sequence number it has seen for
 *              the session, so a captured request cannot be replayed inside the window
 *              either, on this connection or another
 *   Signature  base64 of HMAC-SHA256(secret, canonical), canonical being
 *              "mq-sig-v1\n" server "\n" code "\n" oneway "\n" AccessKey "\n" Timestamp "\n" Session "\n"
 *              Seq "\n" followed by the body bytes
 *
 * `server` is the server id the server announced in its HelloAck (e.g. `broker-a@0`): it is
 * signed but not sent, so a request signed for one node or listener does not verify at
 * another, where its session's replay table would not know it.
 *
 * The HA port (a slave's HA_HELLO to its master, actors/replicator/ha_access.ts) signs its
 * hello the same way, with Seq 1 and a new Session per connection. It has no HelloAck, so its
 * server id is fixed by the broker group: `ha:<cluster>/<brokerName>` (`haServerId`). A hello
 * signed for one group's HA port does not verify at another group's, nor at a client or
 * nameserver port. The master's replay table refuses a hello it saw before; a hello captured
 * on the wire could still be replayed, within the window, to another broker of the same group
 * that became master since, or to the same master after a restart (the tables are in memory,
 * one per process): where the network between brokers is not trusted, run the HA port over
 * TLS too. The same holds for the client ports' requests after a node's restart.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const signature_headers = {
  access_key: 'AccessKey',
  timestamp: 'Timestamp',
  session: 'Session',
  seq: 'Seq',
  signature: 'Signature',
} as const;

export const signature_limits = {
  /** Access and secret keys: printable ASCII without spaces, 3 to 128 characters. */
  key_chars_min: 3,
  key_chars_max: 128,
  session_hex_chars: 32,
} as const;

const key_pattern = /^[\x21-\x7e]+$/;
const session_pattern = /^[0-9a-f]{32}$/;
const signature_scheme = 'mq-sig-v1';

export interface SignedFields {
  /** The server id of the HelloAck: which server the request is for. */
  server_id: string;
  code: number;
  oneway: boolean;
  access_key: string;
  timestamp_ms: number;
  session: string;
  seq: number;
}

/** Undefined when `key` can be an access or secret key, else why not. */
export function keyProblem(what: 'access key' | 'secret key', key: unknown): string | undefined {
  if (typeof key !== 'string') return `the ${what} is ${typeof key}, not a string`;
  if (key.length < signature_limits.key_chars_min || key.length > signature_limits.key_chars_max || !key_pattern.test(key)) {
    return `the ${what} must be ${signature_limits.key_chars_min} to ${signature_limits.key_chars_max} printable ASCII characters without spaces`;
  }
  return undefined;
}

export function computeSignature(secret_key: string, fields: SignedFields, body: Uint8Array): string {
  const hmac = createHmac('sha256', secret_key);
  hmac.update(`${signature_scheme}\n${fields.server_id}\n${fields.code}\n${fields.oneway ? 1 : 0}\n${fields.access_key}\n${fields.timestamp_ms}\n${fields.session}\n${fields.seq}\n`);
  hmac.update(body);
  return hmac.digest('base64');
}

/** The server id an HA_HELLO is signed for: the HA port of broker group `cluster/broker_name`. */
export function haServerId(cluster: string, broker_name: string): string {
  return `ha:${cluster}/${broker_name}`;
}

/** The headers that sign a request. */
export function signatureHeaders(secret_key: string, fields: SignedFields, body: Uint8Array): Record<string, string> {
  return {
    [signature_headers.access_key]: fields.access_key,
    [signature_headers.timestamp]: String(fields.timestamp_ms),
    [signature_headers.session]: fields.session,
    [signature_headers.seq]: String(fields.seq),
    [signature_headers.signature]: computeSignature(secret_key, fields, body),
  };
}

export type ParsedSignature = { ok: true; fields: Omit<SignedFields, 'code' | 'oneway' | 'server_id'>; signature: string } | { ok: false; reason: string };

/** The signed fields of a request's headers, checked for form only (not the signature). */
export function parseSignatureHeaders(headers: Readonly<Record<string, string>>): ParsedSignature {
  const access_key = headers[signature_headers.access_key];
  if (access_key === undefined) return { ok: false, reason: 'the request is not signed (no AccessKey header): give the client an accessKey and secretKey' };
  const key_problem = keyProblem('access key', access_key);
  if (key_problem !== undefined) return { ok: false, reason: key_problem };
  const timestamp_text = headers[signature_headers.timestamp] ?? '';
  const seq_text = headers[signature_headers.seq] ?? '';
  const session = headers[signature_headers.session] ?? '';
  const signature = headers[signature_headers.signature] ?? '';
  if (!/^\d{1,16}$/.test(timestamp_text)) return { ok: false, reason: 'the Timestamp header is not ms since the epoch' };
  if (!/^[1-9]\d{0,15}$/.test(seq_text)) return { ok: false, reason: 'the Seq header is not a positive whole number' };
  if (!session_pattern.test(session)) return { ok: false, reason: `the Session header is not ${signature_limits.session_hex_chars} hex digits` };
  if (signature.length === 0 || signature.length > 64) return { ok: false, reason: 'the Signature header is missing or malformed' };
  return { ok: true, fields: { access_key, timestamp_ms: Number(timestamp_text), session, seq: Number(seq_text) }, signature };
}

/** Compares in constant time: how long it takes does not tell how much of a guess was right. */
export function signaturesEqual(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
