/**
 * The chaos checker: reads a ChaosHistory (chaos_history.ts) and says what went wrong —
 * acked messages never delivered, duplicates, messages nobody sent, corrupted bodies,
 * "not stored" messages that were stored, and out-of-order first deliveries — plus a
 * per-second timeline and a recovery time per fault for the report and the chart.
 *
 * Pure: data in, verdict out, no I/O and no clock. A 10-minute run at 2,000 msg/s records
 * 1.2M sends and more deliveries, so every pass is one walk over the records with Maps, plus
 * sorts (n log n); nothing scans the records once per record.
 */
import type { ChaosHistory, DeliveryRecord, SendRecord } from './chaos_history.js';
import { faultRecoveries, type FaultVerdict } from './chaos_recovery.js';
import { buildTimeline, type TimelineSecond } from './chaos_timeline.js';

export type { FaultVerdict } from './chaos_recovery.js';
export type { TimelineSecond } from './chaos_timeline.js';

export const chaos_checker_limits = {
  /**
   * Longest list a verdict carries (lost ids, violations, ...). A bad run can lose a million
   * messages; the JSON file must stay readable, so lists are cut here and the `_count` fields
   * keep the whole number.
   */
  list_entries_max: 1_000,
} as const;

export interface CheckRules {
  /** True under sync replication: an acked message lost fails the run. */
  no_loss: boolean;
  /** The consumers consumed orderly and no failover may rewind a queue (sync replication): an order violation fails the run. */
  orderly: boolean;
}

export interface ChaosCounts {
  /** Send records. */
  sent: number;
  acked: number;
  failed: number;
  unknown: number;
  /** Distinct chaos ids delivered (deliveries naming no id are not counted here). */
  delivered_messages: number;
  /** Every delivery, redeliveries and foreign bodies included. */
  deliveries: number;
}

/** A first delivery whose offset is below one already delivered from the same queue. */
export interface OrderViolation {
  /** `${broker}/${queue}`. */
  queue: string;
  id: string;
  offset: number;
  /** The highest offset delivered from that queue before it. */
  after_offset: number;
  at_ms: number;
}

export interface ChaosVerdict {
  passed: boolean;
  /** Each failing condition in words; empty when passed. */
  reasons: string[];
  rules: CheckRules;
  counts: ChaosCounts;
  /** Every list below holds at most this many entries; its `_count` field holds them all. */
  list_entries_max: number;
  /** Acked sends never delivered, sorted by producer then seq. */
  lost_count: number;
  lost: string[];
  /** Messages delivered more than once, and the deliveries beyond each one's first. */
  duplicated: number;
  duplicate_deliveries: number;
  /** Delivered ids with no send record, sorted. */
  never_sent_count: number;
  never_sent: string[];
  /** Deliveries whose body named no chaos id (id ''); they fail the run like never_sent. */
  foreign_deliveries: number;
  /** Ids delivered at least once with a corrupted body, sorted. */
  corrupted_count: number;
  corrupted: string[];
  /** Ids whose send was `failed` (told "not stored") yet were delivered, sorted by producer then seq. */
  failed_but_delivered_count: number;
  failed_but_delivered: string[];
  /** `unknown` sends that were delivered: either way is correct, so this only informs. */
  unknown_delivered: number;
  /** In delivery order (at_ms, ties in record order). */
  order_violation_count: number;
  order_violations: OrderViolation[];
  /** Acked messages delivered from another broker/queue/offset than the ack named (failover): informs. */
  moved: number;
  load_end_ms: number;
  end_ms: number;
  faults: FaultVerdict[];
  timeline: TimelineSecond[];
}

/** What the checker knows per send id. */
interface SendEntry {
  send: SendRecord;
  deliveries: number;
  /** Delivered at least once from another place than its ack named. */
  moved: boolean;
}

export function checkHistory(history: ChaosHistory, rules: CheckRules): ChaosVerdict {
  const sends = indexSends(history.sends);
  const delivered = walkDeliveries(history.deliveries, sends);

  const tally = tallySends(sends, delivered.never_sent);
  const lost = tally.lost.sort(compareSends);
  const failed_but_delivered = tally.failed_but_delivered.sort(compareSends);
  const never_sent = [...delivered.never_sent.keys()].sort(compareIds);
  const corrupted = [...delivered.corrupted].sort(compareIds);

  const counts: ChaosCounts = {
    sent: history.sends.length,
    acked: 0,
    failed: 0,
    unknown: 0,
    delivered_messages: delivered.distinct_ids,
    deliveries: history.deliveries.length,
  };
  for (const send of history.sends) counts[send.outcome]++;

  const verdict: ChaosVerdict = {
    passed: false,
    reasons: [],
    rules: { ...rules },
    counts,
    list_entries_max: chaos_checker_limits.list_entries_max,
    lost_count: lost.length,
    lost: cap(lost).map((send) => send.id),
    duplicated: tally.duplicated,
    duplicate_deliveries: tally.duplicate_deliveries,
    never_sent_count: never_sent.length,
    never_sent: cap(never_sent),
    foreign_deliveries: delivered.foreign,
    corrupted_count: corrupted.length,
    corrupted: cap(corrupted),
    failed_but_delivered_count: failed_but_delivered.length,
    failed_but_delivered: cap(failed_but_delivered).map((send) => send.id),
    unknown_delivered: tally.unknown_delivered,
    order_violation_count: delivered.order.count,
    order_violations: delivered.order.first,
    moved: tally.moved,
    load_end_ms: history.load_end_ms,
    end_ms: history.end_ms,
    faults: faultRecoveries(history.faults, history.sends),
    timeline: buildTimeline(history),
  };
  verdict.reasons = failingReasons(verdict, rules);
  verdict.passed = verdict.reasons.length === 0;
  return verdict;
}

interface SendTally {
  duplicated: number;
  duplicate_deliveries: number;
  unknown_delivered: number;
  moved: number;
  lost: SendRecord[];
  failed_but_delivered: SendRecord[];
}

/** After the deliveries are counted: each send's fate, and the duplicates among all ids. */
function tallySends(sends: Map<string, SendEntry>, never_sent: Map<string, number>): SendTally {
  const tally: SendTally = { duplicated: 0, duplicate_deliveries: 0, unknown_delivered: 0, moved: 0, lost: [], failed_but_delivered: [] };
  const countDuplicates = (deliveries: number): void => {
    if (deliveries <= 1) return;
    tally.duplicated++;
    tally.duplicate_deliveries += deliveries - 1;
  };
  for (const entry of sends.values()) {
    countDuplicates(entry.deliveries);
    const outcome = entry.send.outcome;
    if (outcome === 'acked' && entry.deliveries === 0) tally.lost.push(entry.send);
    if (outcome === 'failed' && entry.deliveries > 0) tally.failed_but_delivered.push(entry.send);
    if (outcome === 'unknown' && entry.deliveries > 0) tally.unknown_delivered++;
    if (entry.moved) tally.moved++;
  }
  for (const deliveries of never_sent.values()) countDuplicates(deliveries);
  return tally;
}

function failingReasons(v: ChaosVerdict, rules: CheckRules): string[] {
  const reasons: string[] = [];
  if (rules.no_loss && v.lost_count > 0) reasons.push(`${v.lost_count} acked message(s) never delivered (lost), and this mode promises no loss`);
  if (v.never_sent_count > 0) reasons.push(`${v.never_sent_count} delivered message id(s) were never sent`);
  if (v.foreign_deliveries > 0) reasons.push(`${v.foreign_deliveries} delivery(ies) carried a body that names no chaos message`);
  if (v.corrupted_count > 0) reasons.push(`${v.corrupted_count} message(s) delivered with a corrupted body`);
  if (v.failed_but_delivered_count > 0) reasons.push(`${v.failed_but_delivered_count} message(s) delivered although the producer was told they were not stored`);
  if (rules.orderly && v.order_violation_count > 0) reasons.push(`${v.order_violation_count} order violation(s) in orderly consumption`);
  return reasons;
}

/**
 * Sends by id. Ids are unique when the workload is right; if a history repeats one, the
 * strongest outcome wins (acked over unknown over failed), so the verdict does not depend on
 * record order and an acked copy is still checked for loss.
 */
function indexSends(records: readonly SendRecord[]): Map<string, SendEntry> {
  const strength = { failed: 0, unknown: 1, acked: 2 } as const;
  const sends = new Map<string, SendEntry>();
  for (const send of records) {
    const known = sends.get(send.id);
    if (known === undefined) sends.set(send.id, { send, deliveries: 0, moved: false });
    else if (strength[send.outcome] > strength[known.send.outcome]) known.send = send;
  }
  return sends;
}

interface DeliveryWalk {
  distinct_ids: number;
  /** Delivered ids with no send record, and how often each was delivered. */
  never_sent: Map<string, number>;
  corrupted: Set<string>;
  foreign: number;
  order: QueueOrder;
}

/**
 * One walk over the deliveries in time order (at_ms; ties in record order): counts each
 * send's deliveries into `sends`, collects what matches no send, and feeds each delivery to
 * the order check with whether it is the message's first. One walk, so "delivered before"
 * needs no Set of its own beside the sends Map.
 */
function walkDeliveries(records: readonly DeliveryRecord[], sends: Map<string, SendEntry>): DeliveryWalk {
  const walk: DeliveryWalk = { distinct_ids: 0, never_sent: new Map(), corrupted: new Set(), foreign: 0, order: new QueueOrder() };
  for (const at of timeOrder(records)) {
    const delivery = records[at] as DeliveryRecord;
    // A body naming no id is "never sent"; calling it corrupted too would count it twice. It
    // has no identity to judge order by either.
    if (delivery.id === '') {
      walk.foreign++;
      continue;
    }
    if (delivery.corrupted) walk.corrupted.add(delivery.id);
    const entry = sends.get(delivery.id);
    let first: boolean;
    if (entry === undefined) {
      const seen = walk.never_sent.get(delivery.id) ?? 0;
      walk.never_sent.set(delivery.id, seen + 1);
      first = seen === 0;
    } else {
      first = entry.deliveries === 0;
      entry.deliveries++;
      if (isMoved(entry.send, delivery)) entry.moved = true;
    }
    if (first) walk.distinct_ids++;
    walk.order.observe(delivery, first);
  }
  return walk;
}

/** An acked send whose recorded placement differs from where this delivery came from. */
function isMoved(send: SendRecord, delivery: DeliveryRecord): boolean {
  if (send.outcome !== 'acked' || send.broker === undefined || send.queue === undefined || send.offset === undefined) return false;
  return send.broker !== delivery.broker || send.queue !== delivery.queue || send.offset !== delivery.offset;
}

/**
 * The order check, fed deliveries in time order: per queue, the highest offset delivered so
 * far. A message's first delivery below it is a violation. Redeliveries are duplicates, never
 * violations, and still raise the queue's highest offset. Queues are nested Maps (broker, then
 * queue id) so the per-delivery path builds no key string.
 */
class QueueOrder {
  private readonly highest = new Map<string, Map<number, number>>();
  count = 0;
  readonly first: OrderViolation[] = [];

  observe(delivery: DeliveryRecord, first_delivery: boolean): void {
    let queues = this.highest.get(delivery.broker);
    if (queues === undefined) {
      queues = new Map();
      this.highest.set(delivery.broker, queues);
    }
    const before = queues.get(delivery.queue);
    if (before === undefined || delivery.offset > before) queues.set(delivery.queue, delivery.offset);
    if (!first_delivery || before === undefined || delivery.offset >= before) return;
    this.count++;
    if (this.first.length >= chaos_checker_limits.list_entries_max) return;
    this.first.push({ queue: `${delivery.broker}/${delivery.queue}`, id: delivery.id, offset: delivery.offset, after_offset: before, at_ms: delivery.at_ms });
  }
}

/** Record indexes in at_ms order, ties in record order. Recorders append in time order, so the sort is usually skipped. */
function timeOrder(records: readonly DeliveryRecord[]): Uint32Array {
  const order = new Uint32Array(records.length);
  let sorted = true;
  for (let at = 0; at < records.length; at++) {
    order[at] = at;
    if (at > 0 && (records[at] as DeliveryRecord).at_ms < (records[at - 1] as DeliveryRecord).at_ms) sorted = false;
  }
  if (sorted) return order;
  // A typed array's sort with a comparator is not guaranteed stable; the index breaks ties.
  return order.sort((a, b) => (records[a] as DeliveryRecord).at_ms - (records[b] as DeliveryRecord).at_ms || a - b);
}

function cap<T>(list: readonly T[]): T[] {
  return list.slice(0, chaos_checker_limits.list_entries_max);
}

function compareSends(a: SendRecord, b: SendRecord): number {
  return a.producer - b.producer || a.seq - b.seq || compareIds(a.id, b.id);
}

/** `<producer>-<seq>` ids in numeric order; anything else after them, as text. */
function compareIds(a: string, b: string): number {
  const pa = parseId(a);
  const pb = parseId(b);
  if (pa !== null && pb !== null) return pa[0] - pb[0] || pa[1] - pb[1];
  if (pa !== null) return -1;
  if (pb !== null) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function parseId(id: string): [number, number] | null {
  const match = /^(\d+)-(\d+)$/.exec(id);
  return match === null ? null : [Number(match[1]), Number(match[2])];
}
