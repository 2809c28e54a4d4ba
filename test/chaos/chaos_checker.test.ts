import t from 'tap';
import fc from 'fast-check';
import { chaos_checker_limits, checkHistory, type CheckRules } from '../../src/chaos/chaos_checker.js';
import { chaosSettings } from './chaos_fixtures.js';
import type { ChaosHistory, ChaosSettings, DeliveryRecord, FaultWindow, SendOutcome, SendRecord } from '../../src/chaos/chaos_history.js';

/**
 * The checker against small histories written by hand: each test states the exact verdict,
 * so a change in what counts as lost, duplicated or out of order shows up here first.
 */

const settings: ChaosSettings = chaosSettings({ duration_ms: 10_000, nemesis: ['kill9'], seed: 7, fault_interval_ms: 5_000, fault_duration_ms: 2_000 });

const strict: CheckRules = { no_loss: true, orderly: true };
const relaxed: CheckRules = { no_loss: false, orderly: false };

interface SendShape {
  outcome?: SendOutcome;
  start_ms?: number;
  end_ms?: number;
  broker?: string;
  queue?: number;
  offset?: number;
}

function send(producer: number, seq: number, shape: SendShape = {}): SendRecord {
  const start_ms = shape.start_ms ?? seq * 10;
  const outcome = shape.outcome ?? 'acked';
  const record: SendRecord = { id: `${producer}-${seq}`, producer, seq, start_ms, end_ms: shape.end_ms ?? start_ms + 2, outcome, status: outcome === 'acked' ? 'SEND_OK' : 'TIMEOUT' };
  if (shape.broker !== undefined) record.broker = shape.broker;
  if (shape.queue !== undefined) record.queue = shape.queue;
  if (shape.offset !== undefined) record.offset = shape.offset;
  return record;
}

function delivery(id: string, offset: number, at_ms: number, place: { broker?: string; queue?: number; corrupted?: boolean } = {}): DeliveryRecord {
  return { id, consumer: 0, broker: place.broker ?? 'broker-a', queue: place.queue ?? 0, offset, at_ms, corrupted: place.corrupted ?? false };
}

function history(sends: SendRecord[], deliveries: DeliveryRecord[], faults: FaultWindow[] = [], end_ms = 3_000): ChaosHistory {
  return { started_at: '2025-01-01T00:00:00.000Z', settings, sends, deliveries, faults, load_end_ms: Math.min(end_ms, 2_000), end_ms };
}

/** Producer 0 sends seq 0..n-1 to broker-a/0 at offsets 0..n-1; each is delivered once, in order. */
function cleanRun(n: number): ChaosHistory {
  const sends: SendRecord[] = [];
  const deliveries: DeliveryRecord[] = [];
  for (let seq = 0; seq < n; seq++) {
    sends.push(send(0, seq, { broker: 'broker-a', queue: 0, offset: seq }));
    deliveries.push(delivery(`0-${seq}`, seq, seq * 10 + 5));
  }
  return history(sends, deliveries);
}

t.test('a clean run passes with exact counts', async (t) => {
  const verdict = checkHistory(cleanRun(3), strict);
  t.equal(verdict.passed, true);
  t.same(verdict.reasons, []);
  t.same(verdict.counts, { sent: 3, acked: 3, failed: 0, unknown: 0, delivered_messages: 3, deliveries: 3 });
  t.match(verdict, {
    lost_count: 0, lost: [], duplicated: 0, duplicate_deliveries: 0, never_sent_count: 0, never_sent: [], foreign_deliveries: 0,
    corrupted_count: 0, corrupted: [], failed_but_delivered_count: 0, failed_but_delivered: [], unknown_delivered: 0,
    order_violation_count: 0, order_violations: [], moved: 0, list_entries_max: chaos_checker_limits.list_entries_max,
    rules: strict, load_end_ms: 2_000, end_ms: 3_000,
  });
  t.equal(verdict.timeline.length, 3, 'one entry per second up to end_ms');
});

t.test('a lost acked message fails under no_loss only; lost ids sort by producer then seq', async (t) => {
  const sends = [send(10, 2), send(2, 5), send(2, 1), send(0, 0)];
  const run = history(sends, [delivery('0-0', 0, 5)]);
  const verdict = checkHistory(run, strict);
  t.equal(verdict.passed, false);
  t.equal(verdict.lost_count, 3);
  t.same(verdict.lost, ['2-1', '2-5', '10-2'], 'numeric order, not text order');
  t.equal(verdict.reasons.length, 1);
  t.match(verdict.reasons[0], /3 acked message\(s\) never delivered/);

  const lenient = checkHistory(run, { no_loss: false, orderly: true });
  t.equal(lenient.passed, true, 'async modes may lose acked messages');
  t.equal(lenient.lost_count, 3, 'still reported');
});

t.test('duplicates are counted and are never order violations', async (t) => {
  const sends = [0, 1, 2].map((seq) => send(0, seq, { broker: 'broker-a', queue: 0, offset: seq }));
  // 0, 1, 2, then the queue is consumed again from 0 (a rebalance): 0 and 1 redelivered.
  const deliveries = [delivery('0-0', 0, 10), delivery('0-1', 1, 20), delivery('0-2', 2, 30), delivery('0-0', 0, 40), delivery('0-1', 1, 50), delivery('0-0', 0, 60)];
  const verdict = checkHistory(history(sends, deliveries), strict);
  t.equal(verdict.passed, true);
  t.equal(verdict.duplicated, 2);
  t.equal(verdict.duplicate_deliveries, 3);
  t.equal(verdict.order_violation_count, 0);
  t.same(verdict.counts, { sent: 3, acked: 3, failed: 0, unknown: 0, delivered_messages: 3, deliveries: 6 });
});

t.test('a first delivery below the queue\'s highest offset is an order violation', async (t) => {
  const sends = [send(0, 5), send(0, 7)];
  const out_of_order = history(sends, [delivery('0-7', 7, 100), delivery('0-5', 5, 200)]);
  const verdict = checkHistory(out_of_order, strict);
  t.equal(verdict.passed, false);
  t.equal(verdict.order_violation_count, 1);
  t.same(verdict.order_violations, [{ queue: 'broker-a/0', id: '0-5', offset: 5, after_offset: 7, at_ms: 200 }]);
  t.match(verdict.reasons, [/1 order violation/]);
  t.equal(checkHistory(out_of_order, { no_loss: true, orderly: false }).passed, true, 'concurrent consumption is not held to order');

  const redelivered = history(sends, [delivery('0-5', 5, 100), delivery('0-7', 7, 200), delivery('0-5', 5, 300)]);
  t.match(checkHistory(redelivered, strict), { passed: true, order_violation_count: 0, duplicated: 1 }, 'a redelivery is a duplicate');

  const other_queues = history(sends, [delivery('0-7', 7, 100, { queue: 0 }), delivery('0-5', 5, 200, { queue: 1 })]);
  t.equal(checkHistory(other_queues, strict).order_violation_count, 0, 'offsets compare within one queue');
  const other_brokers = history(sends, [delivery('0-7', 7, 100, { broker: 'broker-a' }), delivery('0-5', 5, 200, { broker: 'broker-b' })]);
  t.equal(checkHistory(other_brokers, strict).order_violation_count, 0, 'queue 0 of another broker is another queue');

  const by_time = history(sends, [delivery('0-5', 5, 200), delivery('0-7', 7, 100)]);
  t.same(checkHistory(by_time, strict).order_violations, [{ queue: 'broker-a/0', id: '0-5', offset: 5, after_offset: 7, at_ms: 200 }], 'at_ms orders, not record order');
  const tie = history(sends, [delivery('0-5', 5, 100), delivery('0-7', 7, 100)]);
  t.equal(checkHistory(tie, strict).order_violation_count, 0, 'a tie keeps record order');
});

t.test('never-sent ids and foreign bodies fail the run', async (t) => {
  const run = history([send(0, 0)], [delivery('0-0', 0, 5), delivery('9-9', 1, 6), delivery('9-9', 2, 7), delivery('', 3, 8, { corrupted: true })]);
  const verdict = checkHistory(run, relaxed);
  t.equal(verdict.passed, false);
  t.equal(verdict.never_sent_count, 1);
  t.same(verdict.never_sent, ['9-9']);
  t.equal(verdict.foreign_deliveries, 1);
  t.equal(verdict.corrupted_count, 0, 'a foreign body is not also counted as corrupted');
  t.equal(verdict.duplicated, 1, 'a never-sent id delivered twice is a duplicate too');
  t.same(verdict.counts, { sent: 1, acked: 1, failed: 0, unknown: 0, delivered_messages: 2, deliveries: 4 });
  t.equal(verdict.reasons.length, 2);
  t.match(verdict.reasons, [/1 delivered message id\(s\) were never sent/, /1 delivery\(ies\) carried a body that names no chaos message/]);
});

t.test('a corrupted delivery fails the run', async (t) => {
  const run = history([send(0, 0), send(0, 1)], [delivery('0-0', 0, 5), delivery('0-1', 1, 6, { corrupted: true }), delivery('0-1', 1, 7)]);
  const verdict = checkHistory(run, relaxed);
  t.equal(verdict.passed, false);
  t.same(verdict.corrupted, ['0-1']);
  t.equal(verdict.corrupted_count, 1);
  t.match(verdict.reasons, [/1 message\(s\) delivered with a corrupted body/]);
});

t.test('a failed send that was delivered fails the run; one that was not is fine', async (t) => {
  const sends = [send(0, 0, { outcome: 'failed' }), send(0, 1, { outcome: 'failed' }), send(0, 2)];
  const verdict = checkHistory(history(sends, [delivery('0-0', 0, 5), delivery('0-2', 1, 6)]), strict);
  t.equal(verdict.passed, false);
  t.same(verdict.failed_but_delivered, ['0-0']);
  t.equal(verdict.failed_but_delivered_count, 1);
  t.equal(verdict.lost_count, 0, 'a failed send is never lost');
  t.same(verdict.counts, { sent: 3, acked: 1, failed: 2, unknown: 0, delivered_messages: 2, deliveries: 2 });
  t.match(verdict.reasons, [/told they were not stored/]);
});

t.test('unknown sends may be delivered or not', async (t) => {
  const sends = [send(0, 0, { outcome: 'unknown' }), send(0, 1, { outcome: 'unknown' }), send(0, 2)];
  const verdict = checkHistory(history(sends, [delivery('0-0', 0, 5), delivery('0-2', 1, 6)]), strict);
  t.equal(verdict.passed, true);
  t.equal(verdict.unknown_delivered, 1);
  t.equal(verdict.lost_count, 0);
  t.same(verdict.counts, { sent: 3, acked: 1, failed: 0, unknown: 2, delivered_messages: 2, deliveries: 2 });
});

t.test('an acked message delivered from elsewhere counts as moved', async (t) => {
  const sends = [send(0, 0, { broker: 'broker-a', queue: 0, offset: 3 }), send(0, 1, { broker: 'broker-a', queue: 0, offset: 4 }), send(0, 2)];
  const deliveries = [delivery('0-0', 1, 5, { broker: 'broker-b' }), delivery('0-1', 4, 6), delivery('0-2', 9, 7)];
  const verdict = checkHistory(history(sends, deliveries), strict);
  t.equal(verdict.moved, 1, 'only 0-0: 0-1 came from where it was stored, 0-2 recorded no place');
  t.equal(verdict.passed, true, 'moving is informational');
});

t.test('the timeline: counts per second and exact latency percentiles', async (t) => {
  const sends: SendRecord[] = [];
  // Second 0: 100 acked sends with latencies 1..100 ms.
  for (let seq = 0; seq < 100; seq++) sends.push(send(0, seq, { start_ms: seq * 5, end_ms: seq * 5 + seq + 1 }));
  // Second 1: none. Second 2: latencies 5 (acked) and 7 (failed); second 3: an unknown send answered late.
  sends.push(send(1, 0, { start_ms: 2_000, end_ms: 2_005 }));
  sends.push(send(1, 1, { start_ms: 2_100, end_ms: 2_107, outcome: 'failed' }));
  sends.push(send(1, 2, { start_ms: 2_900, end_ms: 3_400, outcome: 'unknown' }));
  const deliveries = [delivery('0-0', 0, 10), delivery('0-1', 1, 1_500), delivery('0-2', 2, 1_999)];
  const verdict = checkHistory(history(sends, deliveries, [], 4_000), relaxed);
  t.same(verdict.timeline, [
    { second: 0, sends: 100, acked: 100, errors: 0, latency_p50_ms: 50, latency_p99_ms: 99, latency_max_ms: 100, deliveries: 1 },
    { second: 1, sends: 0, acked: 0, errors: 0, latency_p50_ms: null, latency_p99_ms: null, latency_max_ms: null, deliveries: 2 },
    { second: 2, sends: 3, acked: 1, errors: 1, latency_p50_ms: 7, latency_p99_ms: 500, latency_max_ms: 500, deliveries: 0 },
    { second: 3, sends: 0, acked: 0, errors: 1, latency_p50_ms: null, latency_p99_ms: null, latency_max_ms: null, deliveries: 0 },
  ]);
});

t.test('the timeline covers records after end_ms and a run with none', async (t) => {
  t.same(checkHistory(history([], [], [], 0), strict).timeline, [], 'nothing recorded, no seconds');
  const late = checkHistory(history([send(0, 0)], [delivery('0-0', 0, 5_500)], [], 3_000), strict);
  t.equal(late.timeline.length, 6);
  t.equal(late.timeline[5]?.deliveries, 1);
  const at_end = checkHistory(history([send(0, 0)], [delivery('0-0', 0, 3_000)], [], 3_000), strict);
  t.equal(at_end.timeline.length, 3, 'a record at exactly end_ms falls in the last second');
  t.equal(at_end.timeline[2]?.deliveries, 1);
});

t.test('recovery_ms: from the fault to the first ack of a send started after it', async (t) => {
  const sends = [
    send(0, 0, { start_ms: 9_000, end_ms: 12_000 }), // started before the fault: not a sign of recovery
    send(0, 1, { start_ms: 10_100, end_ms: 10_200, outcome: 'failed' }),
    send(0, 2, { start_ms: 10_500, end_ms: 14_000 }),
    send(0, 3, { start_ms: 11_000, end_ms: 13_000 }), // the earliest ack after the fault
    send(0, 4, { start_ms: 10_050, end_ms: 10_100, broker: 'group-b' }), // another group's ack
    send(0, 5, { start_ms: 10_060, end_ms: 15_100, broker: 'group-a' }), // the target group's first ack
  ];
  const faults: FaultWindow[] = [
    { fault: 'kill9', target: 'broker-a-0', start_ms: 10_000, end_ms: 15_000, how: 'SIGKILL' },
    { fault: 'disk-slow', target: 'broker-b-0', start_ms: 10_000, end_ms: 15_000, how: 'fault probe' },
    { fault: 'pause', target: 'broker-b-0', start_ms: 16_000, end_ms: 17_000, how: 'SIGSTOP' },
    { fault: 'kill9', target: 'broker-a-0', group: 'group-a', start_ms: 10_000, end_ms: 15_000, how: 'SIGKILL' },
  ];
  const verdict = checkHistory(history(sends, sends.map((s, i) => delivery(s.id, i, 18_000 + i)), faults, 20_000), relaxed);
  t.same(verdict.faults, [
    { ...faults[0], recovery_ms: 100 },
    { ...faults[1], recovery_ms: null },
    { ...faults[2], recovery_ms: null },
    { ...faults[3], recovery_ms: 5_100 },
  ], 'kill9 recovered at the first ack anywhere (0.1 s), or in its group (5.1 s); a slow disk has no recovery figure; nothing acked after the pause');
});

t.test('lists are capped, counts are not', async (t) => {
  const lost_total = 1_500;
  const sends: SendRecord[] = [];
  for (let seq = lost_total - 1; seq >= 0; seq--) sends.push(send(0, seq));
  const verdict = checkHistory(history(sends, []), strict);
  t.equal(verdict.lost_count, lost_total);
  t.equal(verdict.lost.length, chaos_checker_limits.list_entries_max);
  t.equal(verdict.lost[0], '0-0');
  t.equal(verdict.lost[verdict.lost.length - 1], `0-${chaos_checker_limits.list_entries_max - 1}`);

  // Offsets delivered in falling order: every first delivery after the first is a violation.
  const backwards = sends.map((s, i) => delivery(s.id, lost_total - i, i));
  const disorder = checkHistory(history(sends, backwards), strict);
  t.equal(disorder.order_violation_count, lost_total - 1);
  t.equal(disorder.order_violations.length, chaos_checker_limits.list_entries_max);
  t.equal(disorder.lost_count, 0);
});

t.test('the verdict does not depend on record order', async (t) => {
  const sends: SendRecord[] = [];
  const deliveries: DeliveryRecord[] = [];
  let at_ms = 0;
  for (let producer = 0; producer < 3; producer++) {
    for (let seq = 0; seq < 20; seq++) {
      const queue = seq % 4;
      const offset = Math.floor(seq / 4) + producer * 10;
      const outcome: SendOutcome = seq === 7 ? 'unknown' : seq === 13 ? 'failed' : 'acked';
      sends.push(send(producer, seq, { outcome, start_ms: producer * 300 + seq * 40, end_ms: producer * 300 + seq * 40 + (seq % 9) + 1, broker: 'broker-a', queue, offset }));
      if (outcome === 'failed') continue;
      // Every at_ms differs, so time alone fixes the order in each queue; a few redeliveries.
      deliveries.push(delivery(`${producer}-${seq}`, offset, (at_ms += 7), { queue }));
      if (seq % 6 === 0) deliveries.push(delivery(`${producer}-${seq}`, offset, 5_000 + (at_ms += 7), { queue }));
    }
  }
  const run = history(sends, deliveries, [{ fault: 'kill9', target: 'broker-a-0', start_ms: 400, end_ms: 900, how: 'SIGKILL' }], 6_000);
  const expected = checkHistory(run, strict);
  t.same(expected.reasons, [], 'the base history is clean');
  t.match(expected, { duplicated: 12, unknown_delivered: 3, moved: 0 }, 'redeliveries and delivered unknown sends are in it');
  fc.assert(
    fc.property(
      fc.shuffledSubarray(sends, { minLength: sends.length, maxLength: sends.length }),
      fc.shuffledSubarray(deliveries, { minLength: deliveries.length, maxLength: deliveries.length }),
      (shuffled_sends, shuffled_deliveries) => {
        t.same(checkHistory({ ...run, sends: shuffled_sends, deliveries: shuffled_deliveries }, strict), expected);
      },
    ),
    { numRuns: 50 },
  );
});
