import t from 'tap';
import { OffsetTracker } from '../../src/client/consumer/offset_tracker.js';
import { prng } from '../helpers/prng.js';

/** The offset tracker: the committable offset never passes an un-acked message. */

t.test('committable is the lowest un-acked offset, else the next pull offset', async (t) => {
  const tracker = new OffsetTracker(97);
  t.equal(tracker.committable(), 97, 'nothing pulled: where pulling starts');
  tracker.track([97, 98, 99, 100, 101, 102], 103);
  t.equal(tracker.pendingCount, 6);
  t.equal(tracker.committable(), 97);
  for (const offset of [98, 100, 102]) tracker.ack(offset);
  t.equal(tracker.committable(), 97, 'acks above the lowest pending change nothing');
  tracker.ack(97);
  t.equal(tracker.committable(), 99, 'the head skips the acked 98');
  tracker.ack(99);
  t.equal(tracker.committable(), 101);
  tracker.ack(101);
  t.equal(tracker.committable(), 103, 'all acked: the next pull offset');
  t.equal(tracker.pendingCount, 0);
});

t.test('gaps the broker skipped (tag filter) are passed by the next offset', async (t) => {
  const tracker = new OffsetTracker(0);
  tracker.track([3, 7], 10);
  t.equal(tracker.committable(), 3);
  tracker.ack(7);
  t.equal(tracker.committable(), 3);
  tracker.ack(3);
  t.equal(tracker.committable(), 10);
  tracker.track([], 25);
  t.equal(tracker.committable(), 25, 'an empty pull that skipped offsets moves the committable offset');
});

t.test('bugs are assertions: out-of-order tracking, double acks, unknown acks, moving with pending', async (t) => {
  const tracker = new OffsetTracker(10);
  t.throws(() => tracker.track([9], 11), /out of order/);
  tracker.track([10, 11], 12);
  t.throws(() => tracker.track([11], 13), /out of order/);
  t.throws(() => tracker.track([], 11), /not go back/);
  t.throws(() => tracker.ack(5), /not pending/);
  tracker.ack(11);
  t.throws(() => tracker.ack(11), /not pending/);
  t.throws(() => tracker.moveTo(0), /pending/);
  tracker.ack(10);
  tracker.moveTo(4);
  t.equal(tracker.committable(), 4, 'OFFSET_MOVED back (the queue was recreated)');
  t.equal(tracker.nextOffset, 4);
  t.throws(() => new OffsetTracker(-1), /non-negative/);
});

t.test('random acks against a model: committable is always the lowest un-acked', async (t) => {
  const seed = Date.now() >>> 0;
  const random = prng(seed);
  const tracker = new OffsetTracker(0);
  const open = new Set<number>();
  let next = 0;
  let checks = 0;
  for (let step = 0; step < 20_000; step++) {
    if (random() < 0.5 && open.size < 500) {
      const count = 1 + Math.floor(random() * 8);
      const offsets: number[] = [];
      for (let index = 0; index < count; index++) {
        next += 1 + (random() < 0.2 ? Math.floor(random() * 3) : 0);
        offsets.push(next - 1);
      }
      tracker.track(offsets, next);
      for (const offset of offsets) open.add(offset);
    } else if (open.size > 0) {
      const values = [...open];
      const offset = values[Math.floor(random() * values.length)] as number;
      tracker.ack(offset);
      open.delete(offset);
    }
    const expected = open.size === 0 ? next : Math.min(...open);
    if (tracker.committable() !== expected || tracker.pendingCount !== open.size) {
      t.fail(`seed ${seed}, step ${step}: committable ${tracker.committable()} expected ${expected}`);
      return;
    }
    checks++;
  }
  t.equal(checks, 20_000, `model agreed at every step (seed ${seed})`);
});
