import { assert } from '../../runtime/assert.js';

/**
 * Per-topic traffic totals of one broker since it started: messages and body bytes stored by
 * SEND and SEND_BATCH (in), and returned by PULL (out). `/metrics` reads them at scrape time
 * (`mq_topic_*_total`); nothing is pushed anywhere per message.
 *
 * Owned by the broker's main thread, where the request handlers run; nothing here is shared
 * with another thread, so plain numbers suffice.
 *
 * Hot path: counting one message (or one pull) is one Map lookup and two additions on an
 * object made once per topic. The number of topics counted by name is bounded: past
 * `topics_max`, new topics are counted together under `other_topics_label`, so a client that
 * invents topic names cannot grow this table (or the metrics' series) without end.
 */

export const broker_traffic_limits = {
  /** Topics counted under their own name; later ones share the `_other_` totals. */
  topics_max: 1_000,
} as const;

/** The topic label of the totals of the topics beyond `topics_max`. */
export const other_topics_label = '_other_';

/** One topic's totals (a copy: changing it changes nothing). */
export interface TopicTraffic {
  topic: string;
  messages_in: number;
  /** Message bodies only, as the producer sent them (no properties or record headers). */
  bytes_in: number;
  messages_out: number;
  /** Message bodies only, as PULL returned them. */
  bytes_out: number;
}

/** A listener that counts traffic (the broker's): the node's admin source finds it by this. */
export interface TrafficSource {
  topicTraffic(): TopicTraffic[];
  /** Pulls held by long polling right now. */
  heldPulls(): number;
}

export function isTrafficSource<T extends object>(value: T): value is T & TrafficSource {
  const source = value as Partial<TrafficSource>;
  return typeof source.topicTraffic === 'function' && typeof source.heldPulls === 'function';
}

export class BrokerTraffic {
  private readonly totals = new Map<string, TopicTraffic>();
  private readonly other: TopicTraffic = { topic: other_topics_label, messages_in: 0, bytes_in: 0, messages_out: 0, bytes_out: 0 };

  constructor(readonly topics_max: number = broker_traffic_limits.topics_max) {
    assert(Number.isInteger(topics_max) && topics_max >= 0, `BrokerTraffic: topics_max ${topics_max} must be a non-negative integer`);
  }

  /** `messages` messages of `topic`, with `body_bytes` of bodies, were stored. */
  stored(topic: string, messages: number, body_bytes: number): void {
    const totals = this.totalsOf(topic);
    totals.messages_in += messages;
    totals.bytes_in += body_bytes;
  }

  /** A pull of `topic` returned `messages` messages with `body_bytes` of bodies. */
  returned(topic: string, messages: number, body_bytes: number): void {
    const totals = this.totalsOf(topic);
    totals.messages_out += messages;
    totals.bytes_out += body_bytes;
  }

  /** Every topic's totals, and `_other_`'s once it counted something (copies, for a scrape). */
  snapshot(): TopicTraffic[] {
    const rows = [...this.totals.values()].map((totals) => ({ ...totals }));
    const other = this.other;
    if (other.messages_in + other.messages_out > 0) rows.push({ ...other });
    return rows;
  }

  private totalsOf(topic: string): TopicTraffic {
    const known = this.totals.get(topic);
    if (known !== undefined) return known;
    if (this.totals.size >= this.topics_max) return this.other;
    // Once per topic: the object every later count of this topic adds to.
    const created = { topic, messages_in: 0, bytes_in: 0, messages_out: 0, bytes_out: 0 };
    this.totals.set(topic, created);
    return created;
  }
}
