import t from 'tap';
import { QueueBuffer } from '../../src/client/consumer/queue_buffer.js';

/** The per-queue buffer: FIFO order, bounds, pause at the maximum and resume at the low mark. */

t.test('FIFO, held until released, put back at the front', async (t) => {
  const buffer = new QueueBuffer<number>({ messages_max: 10, bytes_max: 1_000, resume_fraction: 0.5 });
  for (const value of [1, 2, 3]) buffer.push(value, 10);
  t.equal(buffer.heldCount, 3);
  t.equal(buffer.take(), 1);
  t.equal(buffer.take(), 2);
  t.equal(buffer.waitingCount, 1);
  t.equal(buffer.heldCount, 3, 'taken messages stay held');
  buffer.putBack(2, 10);
  t.equal(buffer.peek(), 2, 'a retry goes before newer messages');
  t.equal(buffer.take(), 2);
  t.equal(buffer.take(), 3);
  t.equal(buffer.take(), undefined);
  buffer.putBack(1, 10);
  t.equal(buffer.take(), 1, 'put back into an empty line');
  for (let index = 0; index < 3; index++) buffer.release(10);
  t.equal(buffer.heldCount, 0);
  t.equal(buffer.heldBytes, 0);
  t.throws(() => buffer.release(10), /without a held message/);
});

t.test('pauses at the message maximum, resumes at the low mark, wakes the puller', async (t) => {
  const buffer = new QueueBuffer<number>({ messages_max: 4, bytes_max: 1_000_000, resume_fraction: 0.5 });
  t.equal(buffer.room(), 4);
  for (let index = 0; index < 4; index++) buffer.push(index, 1);
  t.ok(buffer.paused);
  t.equal(buffer.room(), 0, 'no room while paused');
  t.throws(() => buffer.push(9, 1), /over its 4 messages/);
  let resumed = false;
  const waiting = buffer.whenResumed().then(() => (resumed = true));
  buffer.release(1);
  await Promise.resolve();
  t.notOk(resumed, '3 held: still above the low mark of 2');
  t.ok(buffer.paused);
  buffer.release(1);
  await waiting;
  t.ok(resumed, '2 held: resumed');
  t.equal(buffer.room(), 2);
  await buffer.whenResumed(); // resolves at once when not paused
});

t.test('pauses on bytes too; one message may pass the byte maximum', async (t) => {
  const buffer = new QueueBuffer<string>({ messages_max: 100, bytes_max: 100, resume_fraction: 0.25 });
  buffer.push('small', 60);
  t.equal(buffer.roomBytes(), 40);
  buffer.push('large', 90);
  t.ok(buffer.paused, '150 of 100 bytes: paused');
  t.equal(buffer.roomBytes(), 1, 'a pull may still ask for one message worth');
  buffer.release(90);
  t.ok(buffer.paused, '60 bytes is above the 25-byte low mark');
  buffer.release(60);
  t.notOk(buffer.paused);
});

t.test('clearWaiting drops what waits (no longer held), keeps what is out', async (t) => {
  const buffer = new QueueBuffer<number>({ messages_max: 4, bytes_max: 100, resume_fraction: 0.5 });
  for (let index = 0; index < 4; index++) buffer.push(index, 5);
  buffer.take();
  t.same(buffer.clearWaiting(), [1, 2, 3]);
  t.equal(buffer.heldCount, 1, 'the taken message is still held');
  t.notOk(buffer.paused, 'dropping resumed');
  let woken = false;
  const full = new QueueBuffer<number>({ messages_max: 1, bytes_max: 100, resume_fraction: 0 });
  full.push(1, 1);
  const waiting = full.whenResumed().then(() => (woken = true));
  full.wakeWaiters();
  await waiting;
  t.ok(woken, 'a release of the queue wakes a paused puller');
});

t.test('a long FIFO compacts and keeps its order', async (t) => {
  const buffer = new QueueBuffer<number>({ messages_max: 10_000, bytes_max: 1 << 30, resume_fraction: 0.5 });
  let next_in = 0;
  let next_out = 0;
  for (let round = 0; round < 50; round++) {
    for (let index = 0; index < 150; index++) buffer.push(next_in++, 1);
    for (let index = 0; index < 140; index++) {
      if (buffer.take() !== next_out++) t.fail('out of order');
      buffer.release(1);
    }
  }
  t.equal(buffer.waitingCount, next_in - next_out);
  t.equal(buffer.heldCount, next_in - next_out);
});

t.test('bad limits are assertions', async (t) => {
  t.throws(() => new QueueBuffer({ messages_max: 0, bytes_max: 1, resume_fraction: 0.5 }), /messages_max/);
  t.throws(() => new QueueBuffer({ messages_max: 1, bytes_max: 0, resume_fraction: 0.5 }), /bytes_max/);
  t.throws(() => new QueueBuffer({ messages_max: 1, bytes_max: 1, resume_fraction: 1 }), /resume_fraction/);
});
