/**
 * What a chaos run records (`mq-node chaos`, chaos_command.ts): every send with its outcome,
 * every delivery with its consumer, queue and offset, and every fault the nemesis injected,
 * as plain data. The checker (chaos_checker.ts) reads only this, so a run's JSON file can be
 * checked again, or by other tools. Times are milliseconds since the run started, from one
 * clock (the chaos process's): producers and consumers run in that process.
 */
import { tagHash } from '../storage/tag_hash.js';

/** The faults the nemesis knows (chaos_nemesis.ts). */
export const nemesis_faults = ['kill9', 'pause', 'partition', 'disk-slow', 'disk-full'] as const;
export type NemesisFault = (typeof nemesis_faults)[number];

/**
 * - `acked`: the broker answered SEND_OK: the message must be delivered (in sync modes).
 * - `failed`: the producer was told the message was not stored (a refusal before any write).
 * - `unknown`: anything else — a timeout, a lost connection, or a status that says "stored,
 *   but not as durably as asked" (FLUSH_SLAVE_TIMEOUT, SLAVE_NOT_AVAILABLE, ...): it may or
 *   may not be delivered, and either is correct.
 */
export type SendOutcome = 'acked' | 'failed' | 'unknown';

export interface SendRecord {
  /** `<producer>-<seq>`: the message's identity; its body starts with it. */
  id: string;
  producer: number;
  seq: number;
  start_ms: number;
  end_ms: number;
  outcome: SendOutcome;
  /** The broker's status (SEND_OK, FLUSH_SLAVE_TIMEOUT, ...) or the SDK error's code (TIMEOUT, ...). */
  status: string;
  /** Where the broker stored it, when it answered with a status. */
  broker?: string;
  queue?: number;
  offset?: number;
}

export interface DeliveryRecord {
  /** The id its body names; '' when the body is not a chaos message at all. */
  id: string;
  consumer: number;
  broker: string;
  queue: number;
  offset: number;
  at_ms: number;
  /** The body is not the bytes that were sent under its id. */
  corrupted: boolean;
}

export interface FaultWindow {
  fault: NemesisFault;
  /** The node it hit: `namesrv-0`, `broker-a-0` (group a, broker id 0 at start), ... */
  target: string;
  /** The target's broker group (`group-a`), for a broker: its recovery counts that group's acks. */
  group?: string;
  start_ms: number;
  /** When it was healed (restarted, resumed, reconnected); the run's end if never. */
  end_ms: number;
  /** How it was injected, e.g. "SIGKILL, restarted on the same ports" or "fault hook (no netns)". */
  how: string;
}

/** The settings a run reports with its results (what `--help` lists, resolved). */
export interface ChaosSettings {
  duration_ms: number;
  nemesis: NemesisFault[];
  seed: number;
  rate_per_s: number;
  namesrvs: number;
  groups: number;
  slaves: number;
  replication: 'sync' | 'async';
  flush: 'sync' | 'async';
  producers: number;
  consumers: number;
  queues: number;
  fault_interval_ms: number;
  fault_duration_ms: number;
}

export interface ChaosHistory {
  /** ISO time of the run's start (time 0 of every `_ms` field). */
  started_at: string;
  settings: ChaosSettings;
  sends: SendRecord[];
  deliveries: DeliveryRecord[];
  faults: FaultWindow[];
  /** When the load stopped and the faults were healed; deliveries after it are the drain. */
  load_end_ms: number;
  /** When the run ended: every acked message delivered, or the drain bound passed. */
  end_ms: number;
}

/** The message body of `id`: the id, a newline, then bytes that depend only on the id. */
export function chaosBody(id: string, size_bytes: number): Buffer {
  const head = Buffer.from(`${id}\n`);
  const body = Buffer.alloc(Math.max(size_bytes, head.length));
  head.copy(body);
  let state = tagHash(id);
  for (let at = head.length; at < body.length; at++) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    body[at] = state >>> 24;
  }
  return body;
}

/** The id a body names ('' when it names none), and whether the body is exactly what chaosBody(id) makes. */
export function readChaosBody(body: Buffer): { id: string; intact: boolean } {
  const newline = body.indexOf(10);
  if (newline <= 0 || newline > 64) return { id: '', intact: false };
  const id = body.subarray(0, newline).toString('latin1');
  if (!/^\d+-\d+$/.test(id)) return { id: '', intact: false };
  return { id, intact: chaosBody(id, body.length).equals(body) };
}
