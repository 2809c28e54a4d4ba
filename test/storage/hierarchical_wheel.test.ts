import fc from 'fast-check';
import t from 'tap';
import { AssertionFailure } from '../../src/runtime/assert.js';
import { HierarchicalWheel, type HierarchicalWheelOptions } from '../../src/storage/hierarchical_wheel.js';

/** The hierarchical timing wheel against a reference model (a plain array), and its cascades at the production shape. */

interface Emitted {
  deliver_at_ms: number;
  offset: number;
  size: number;
}

function advanceAll(wheel: HierarchicalWheel, now_ms: number, due_max?: number): Emitted[] {
  const emitted: Emitted[] = [];
  const count = wheel.advance(now_ms, (deliver_at_ms, offset, size) => emitted.push({ deliver_at_ms, offset, size }), due_max);
  if (count !== emitted.length) throw new Error(`advance answered ${count}, called back ${emitted.length} times`);
  return emitted;
}

const second_ms = 1_000;
const minute_ms = 60 * second_ms;
const hour_ms = 60 * minute_ms;
const day_ms = 24 * hour_ms;
/** The production-like shape: 100 ms × 10 = 1 s, × 60 = 1 min, × 60 = 1 h, × 24 = 1 day, × 64 = 64 days. */
const production_shape = { tick_ms: 100, level_slots: [10, 60, 60, 24, 64] } as const;
/** A UTC midnight: a multiple of every level's span, so that the first tick starts every turn. */
const midnight_ms = Date.UTC(2025, 5, 1);

function productionWheel(start_ms: number, options: Partial<HierarchicalWheelOptions> = {}): HierarchicalWheel {
  return new HierarchicalWheel({ ...production_shape, start_ms, entries_max: 1_000, ...options });
}

// --- property test against a model --------------------------------------------------------

interface ModelEntry {
  deliver_at_ms: number;
  size: number;
  /** Due tick, or the wheel's tick at schedule time when that was later (the order of emission). */
  order_tick: number;
  /** At or before current_ms when scheduled: due as soon as the clock reaches deliver_at_ms. */
  past: boolean;
}

type Op = { kind: 'schedule'; delta_ms: number } | { kind: 'advance'; jump_ms: number; due_max: number | null };

const tick_ms = 10;
const op = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('schedule' as const),
      delta_ms: fc.oneof(
        fc.integer({ min: -40, max: 40 }),
        fc.integer({ min: 0, max: 1_000 }),
        fc.integer({ min: 0, max: 30_000 }),
        fc.integer({ min: -20, max: 200 }).map((ms) => ms + 0.5),
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      jump_ms: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 120 }), fc.integer({ min: 100, max: 5_000 }), fc.integer({ min: 5_000, max: 100_000 })),
      due_max: fc.option(fc.integer({ min: 1, max: 3 }), { nil: null }),
    }),
  },
);

const scenario = fc.record({
  level_slots: fc.array(fc.integer({ min: 2, max: 5 }), { minLength: 1, maxLength: 4 }),
  start_ms: fc.integer({ min: 0, max: 10_000 }),
  entries_max: fc.integer({ min: 1, max: 40 }),
  initial_capacity: fc.integer({ min: 1, max: 8 }),
  ops: fc.array(op, { maxLength: 150 }),
});

function fail(message: string): never {
  throw new Error(message);
}

function runScenario(input: { level_slots: number[]; start_ms: number; entries_max: number; initial_capacity: number; ops: Op[] }): void {
  const wheel = new HierarchicalWheel({ tick_ms, ...input });
  const model = new Map<number, ModelEntry>();
  let clock_ms = input.start_ms;
  let next_offset = 1;
  const dueTick = (ms: number) => Math.ceil(ms / tick_ms);

  const checkAdvance = (now_ms: number, due_max: number | null): void => {
    const emitted = advanceAll(wheel, now_ms, due_max ?? undefined);
    if (due_max !== null && emitted.length > due_max) fail(`${emitted.length} emitted with due_max ${due_max}`);
    let last_order_tick = -Infinity;
    for (const entry of emitted) {
      const expected = model.get(entry.offset) ?? fail(`offset ${entry.offset} emitted but not live (twice, or never scheduled)`);
      if (expected.deliver_at_ms !== entry.deliver_at_ms || expected.size !== entry.size) fail(`offset ${entry.offset} came back altered`);
      if (entry.deliver_at_ms > now_ms) fail(`offset ${entry.offset} at ${entry.deliver_at_ms} emitted early, at ${now_ms}`);
      if (expected.order_tick < last_order_tick) fail(`offset ${entry.offset} (tick ${expected.order_tick}) after tick ${last_order_tick}`);
      last_order_tick = expected.order_tick;
      model.delete(entry.offset);
    }
    const ready = [...model.values()].filter((entry) => dueTick(entry.deliver_at_ms) * tick_ms <= now_ms || (entry.past && entry.deliver_at_ms <= now_ms));
    if (wheel.pending_due === 0 && ready.length > 0) fail(`${ready.length} due at ${now_ms} left behind with pending_due 0`);
    if (wheel.pending_due > ready.length) fail(`pending_due ${wheel.pending_due} but ${ready.length} ready`);
    if (due_max === null && ready.length > 0) fail(`${ready.length} due at ${now_ms} left behind with no due_max`);
  };

  for (const step of input.ops) {
    if (step.kind === 'schedule') {
      const deliver_at_ms = clock_ms + step.delta_ms;
      const offset = next_offset++;
      const size = offset % 7;
      const full = model.size === input.entries_max;
      const accepted = wheel.schedule(deliver_at_ms, offset, size);
      if (accepted === full) fail(`schedule answered ${accepted} with ${model.size} of ${input.entries_max} live`);
      if (accepted) {
        const current_tick = wheel.current_ms / tick_ms;
        model.set(offset, { deliver_at_ms, size, order_tick: Math.max(dueTick(deliver_at_ms), current_tick), past: deliver_at_ms <= wheel.current_ms });
      }
    } else {
      clock_ms += step.jump_ms;
      checkAdvance(clock_ms, step.due_max);
    }
    if (wheel.size !== model.size) fail(`size ${wheel.size}, model ${model.size}`);
    const min_offset = model.size === 0 ? undefined : Math.min(...model.keys());
    if (wheel.minOffset() !== min_offset) fail(`minOffset ${wheel.minOffset()}, model ${min_offset}`);
  }
  // Past every due time, everything comes out, a few at a time.
  const horizon_ms = Math.max(clock_ms, ...[...model.values()].map((entry) => entry.deliver_at_ms)) + tick_ms;
  for (let rounds = 0; model.size > 0; rounds++) {
    if (rounds > input.entries_max + 2) fail(`${model.size} entries never came out`);
    checkAdvance(horizon_ms, 2);
  }
  if (wheel.size !== 0 || wheel.pending_due !== 0 || wheel.minOffset() !== undefined) fail('not empty at the end');
}

t.test('random schedules and jumps against a sorted-array model: never early, never lost or twice, in tick order', async (t) => {
  fc.assert(fc.property(scenario, runScenario), { numRuns: 1_000 });
  t.pass('1,000 random scenarios agree with the model');
});

t.test('a model scenario with many entries and small due_max: the due list carries over between calls', async (t) => {
  const ops: Op[] = [];
  for (let index = 0; index < 300; index++) ops.push({ kind: 'schedule', delta_ms: (index * 7919) % 3_000 });
  for (let index = 0; index < 300; index++) ops.push({ kind: 'advance', jump_ms: index % 3 === 0 ? 40 : 0, due_max: 1 + (index % 3) });
  runScenario({ level_slots: [4, 3, 2], start_ms: 1_234, entries_max: 300, initial_capacity: 2, ops });
  t.pass('agrees with the model');
});

// --- deterministic ------------------------------------------------------------------------

t.test('the production shape: every level and the overflow, each entry exactly at its time and not a tick before', async (t) => {
  const start_ms = midnight_ms + 12_345 * 100; // mid-turn on every level
  const wheel = productionWheel(start_ms);
  const delays_ms = [0, 1 * second_ms, 3 * second_ms, 65 * second_ms + 50, 2 * hour_ms, 3 * day_ms, 70 * day_ms, 63 * day_ms + 17 * hour_ms];
  delays_ms.forEach((delay_ms, index) => t.ok(wheel.schedule(start_ms + delay_ms, 1_000 + index, index), `scheduled +${delay_ms} ms`));
  t.equal(wheel.size, delays_ms.length);
  const order = delays_ms.map((delay_ms, index) => ({ delay_ms, index })).sort((a, b) => a.delay_ms - b.delay_ms);
  for (const { delay_ms, index } of order) {
    const deliver_at_ms = start_ms + delay_ms;
    const due_ms = Math.ceil(deliver_at_ms / 100) * 100; // the entry's tick
    if (due_ms > start_ms) {
      t.same(advanceAll(wheel, due_ms - 100), [], `+${delay_ms} ms: nothing one tick before`);
      t.same(advanceAll(wheel, due_ms - 1), [], `+${delay_ms} ms: nothing 1 ms before its tick`);
    }
    t.same(advanceAll(wheel, due_ms), [{ deliver_at_ms, offset: 1_000 + index, size: index }], `+${delay_ms} ms: emitted at its tick`);
    t.equal(wheel.current_ms, due_ms);
  }
  t.equal(wheel.size, 0);
});

t.test('many entries across every level, advanced tick by tick: each at its own tick', async (t) => {
  const wheel = productionWheel(midnight_ms - 1_000, { entries_max: 5_000, initial_capacity: 16 });
  const expected = new Map<number, number>();
  let refused = 0;
  for (let index = 0; index < 5_000; index++) {
    // Spread over the next 2 minutes 10 s, so that the minute and second levels cascade.
    const deliver_at_ms = midnight_ms - 1_000 + ((index * 104_729) % 130_000);
    if (!wheel.schedule(deliver_at_ms, index, 0)) refused++;
    expected.set(index, deliver_at_ms);
  }
  t.equal(refused, 0);
  let wrong = 0;
  for (let now_ms = midnight_ms - 1_000; now_ms <= midnight_ms + 130_000; now_ms += 100) {
    for (const entry of advanceAll(wheel, now_ms)) {
      if (entry.deliver_at_ms > now_ms || entry.deliver_at_ms <= now_ms - 100 || expected.get(entry.offset) !== entry.deliver_at_ms) wrong++;
      expected.delete(entry.offset);
    }
  }
  t.equal(wrong, 0, 'every entry in the tick that holds its time');
  t.equal(expected.size, 0, 'every entry emitted');
});

t.test('a 40-day jump with 3 entries emits them in order; empty jumps go straight to now', async (t) => {
  const wheel = productionWheel(midnight_ms + 50);
  t.ok(wheel.schedule(midnight_ms + 39 * day_ms, 3, 30));
  t.ok(wheel.schedule(midnight_ms + 1 * day_ms + 7, 1, 10));
  t.ok(wheel.schedule(midnight_ms + 20 * day_ms + 5 * hour_ms, 2, 20));
  const emitted = advanceAll(wheel, midnight_ms + 40 * day_ms);
  t.same(emitted.map((entry) => entry.offset), [1, 2, 3]);
  t.equal(wheel.current_ms, midnight_ms + 40 * day_ms);
  t.same(advanceAll(wheel, midnight_ms + 400 * day_ms), [], 'empty: nothing');
  t.equal(wheel.current_ms, midnight_ms + 400 * day_ms, 'jumped straight to now');
  t.ok(wheel.schedule(midnight_ms + 1_000 * day_ms, 4, 0), 'overflow after the jump');
  t.same(advanceAll(wheel, midnight_ms + 1_000 * day_ms - 1), []);
  t.same(advanceAll(wheel, midnight_ms + 1_000 * day_ms).map((entry) => entry.offset), [4]);
});

t.test('an entry in the past is due at the next advance(), not before its time', async (t) => {
  const start_ms = 10_050; // not a multiple of the tick: the wheel starts at tick 101
  const wheel = productionWheel(start_ms);
  t.equal(wheel.current_ms, 10_100);
  t.ok(wheel.schedule(5_000, 1, 0));
  t.ok(wheel.schedule(10_080, 2, 0), 'at or before current_ms but after start_ms');
  t.equal(wheel.pending_due, 1);
  t.same(advanceAll(wheel, 10_060).map((entry) => entry.offset), [1], 'the past one at once');
  t.same(advanceAll(wheel, 10_070), [], 'the other not before 10,080');
  t.same(advanceAll(wheel, 10_080).map((entry) => entry.offset), [2]);
  t.ok(wheel.schedule(0, 3, 0));
  t.same(advanceAll(wheel, 10_080).map((entry) => entry.offset), [3], 'due at once, even with the same now');
});

t.test('the clock never goes back: an earlier now_ms acts as the latest', async (t) => {
  const wheel = productionWheel(midnight_ms);
  t.ok(wheel.schedule(midnight_ms + 150, 1, 0));
  t.same(advanceAll(wheel, midnight_ms - 5_000), [], 'before start: nothing');
  t.same(advanceAll(wheel, midnight_ms + 100), []);
  t.same(advanceAll(wheel, midnight_ms + 200, 0), [], 'found due, not emitted (due_max 0)');
  t.equal(wheel.pending_due, 1);
  t.same(advanceAll(wheel, midnight_ms + 50).map((entry) => entry.offset), [1], 'found due at +200: a step back does not hold it');
  t.equal(wheel.current_ms, midnight_ms + 200);
  t.ok(wheel.schedule(midnight_ms + 180, 2, 0));
  t.same(advanceAll(wheel, midnight_ms + 60).map((entry) => entry.offset), [2], 'at or before the latest clock: due at once');
});

t.test('due_max bounds a call; pending_due says to call again at once', async (t) => {
  const wheel = productionWheel(midnight_ms);
  for (let index = 0; index < 5; index++) wheel.schedule(midnight_ms + 100, index, 0);
  wheel.schedule(midnight_ms + 200, 5, 0);
  const first = advanceAll(wheel, midnight_ms + 500, 2);
  t.equal(first.length, 2);
  t.equal(wheel.pending_due, 3);
  t.same(advanceAll(wheel, midnight_ms + 500, 3).length, 3);
  t.equal(wheel.pending_due, 1, 'the next tick is found due');
  t.same(advanceAll(wheel, midnight_ms + 500, 3).map((entry) => entry.offset), [5]);
  t.equal(wheel.pending_due, 0);
  t.same(advanceAll(wheel, midnight_ms + 500, 0), []);
});

t.test('entries_max: schedule answers false when full and true again after emission', async (t) => {
  const wheel = productionWheel(midnight_ms, { entries_max: 3, initial_capacity: 1 });
  t.ok(wheel.schedule(midnight_ms + 100, 1, 0));
  t.ok(wheel.schedule(midnight_ms + 200, 2, 0));
  t.ok(wheel.schedule(midnight_ms + 300, 3, 0));
  t.notOk(wheel.schedule(midnight_ms + 50, 4, 0), 'full');
  t.equal(wheel.size, 3);
  t.same(advanceAll(wheel, midnight_ms + 100).map((entry) => entry.offset), [1]);
  t.ok(wheel.schedule(midnight_ms + 50, 4, 0), 'room again');
  t.notOk(wheel.schedule(midnight_ms + 50, 5, 0));
});

t.test('minOffset, memory_bytes and pool growth', async (t) => {
  const wheel = productionWheel(midnight_ms, { entries_max: 10_000, initial_capacity: 4 });
  t.equal(wheel.minOffset(), undefined);
  const empty_bytes = wheel.memory_bytes;
  for (let index = 0; index < 1_000; index++) wheel.schedule(midnight_ms + 100 * (index % 50) + 100, 2 ** 52 - index, 1);
  t.equal(wheel.minOffset(), 2 ** 52 - 999, 'offsets up to 2^53 kept exactly');
  t.ok(wheel.memory_bytes > empty_bytes, 'the pool grew');
  t.ok(wheel.memory_bytes <= 1_024 * 28 + 4_096, `${wheel.memory_bytes} bytes: 28 per pool entry plus the slot heads`);
  // Index i is due at tick i % 50 + 1: after tick 49 only the indices i % 50 == 49 are left.
  advanceAll(wheel, midnight_ms + 100 * 49);
  t.equal(wheel.size, 20);
  t.equal(wheel.minOffset(), 2 ** 52 - 999, 'the smallest among those left');
  advanceAll(wheel, midnight_ms + 100 * 50);
  t.equal(wheel.minOffset(), undefined, 'none left');
});

t.test('programmer errors are assertions', async (t) => {
  const options = { ...production_shape, start_ms: 0, entries_max: 10 };
  t.throws(() => new HierarchicalWheel({ ...options, tick_ms: 0 }), AssertionFailure);
  t.throws(() => new HierarchicalWheel({ ...options, level_slots: [] }), AssertionFailure);
  t.throws(() => new HierarchicalWheel({ ...options, level_slots: [10, 1] }), AssertionFailure);
  t.throws(() => new HierarchicalWheel({ ...options, entries_max: 0 }), AssertionFailure);
  const wheel = new HierarchicalWheel(options);
  t.throws(() => wheel.schedule(Number.NaN, 1, 0), AssertionFailure);
  t.throws(() => wheel.schedule(0, 2 ** 53, 0), AssertionFailure);
  t.throws(() => wheel.schedule(0, 1, -1), AssertionFailure);
  wheel.schedule(0, 1, 0);
  t.throws(() => wheel.advance(100, () => wheel.advance(200, () => {})), AssertionFailure, 'no re-entrant advance()');
});
