import t from 'tap';
import { AssertionFailure } from '../../src/runtime/assert.js';
import { MqError } from '../../src/runtime/errors.js';
import { createRing, recordBytesMax, recordSlotBytes, ring_control, RingReader, RingWriter } from '../../src/runtime/ring.js';
import { Prng } from './fixtures/ring_records.js';

/** Single-thread tests of the ring's layout and rules; ring_threads.test.ts runs it across threads. */

function bytesOf(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (seed * 31 + i * 7) & 0xff;
  return bytes;
}

/** Drains everything, copying each record (views die with the callback). */
function drainAll(reader: RingReader): Uint8Array[] {
  const records: Uint8Array[] = [];
  reader.drain((view) => records.push(view.slice()), 1_000_000);
  return records;
}

function ringParts(sab: SharedArrayBuffer) {
  const control = ring_control.attach(sab);
  return {
    writePosition: () => control.load('write_position'),
    readPosition: () => control.load('read_position'),
    dataWord: (data_offset: number) => new Uint32Array(sab, ring_control.size_bytes + data_offset, 1)[0],
  };
}

t.test('records come out in order with their exact bytes, lengths 0..9 included', (t) => {
  const sab = createRing({ capacity_bytes: 256 });
  const writer = new RingWriter(sab);
  const reader = new RingReader(sab);
  const sent = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((length) => bytesOf(length, length));
  for (const bytes of sent) t.equal(writer.tryWrite(bytes), true);
  t.equal(writer.usedBytes(), sent.reduce((sum, bytes) => sum + recordSlotBytes(bytes.length), 0));
  t.same(drainAll(reader), sent);
  t.equal(drainAll(reader).length, 0, 'nothing twice');
  t.equal(writer.usedBytes(), 0, 'the reader gave all room back');
  t.end();
});

t.test('record_bytes_max is capacity/2 - 4; one byte more is rejected with a clear error', (t) => {
  const sab = createRing({ capacity_bytes: 256 });
  const writer = new RingWriter(sab);
  t.equal(writer.record_bytes_max, 124);
  t.equal(recordBytesMax(1 << 20), (1 << 19) - 4);
  let rejection: unknown;
  try {
    writer.tryWrite(new Uint8Array(125));
  } catch (error) {
    rejection = error;
  }
  t.ok(rejection instanceof MqError, 'an MqError');
  t.match(rejection, { code: 'MESSAGE_TOO_LARGE', retriable: false });
  t.match((rejection as Error).message, /125 bytes exceeds this ring's record_bytes_max of 124 .*create a larger ring/);
  t.throws(() => writer.tryReserve(125), { code: 'MESSAGE_TOO_LARGE' });
  t.equal(writer.usedBytes(), 0, 'a rejected record leaves no trace');
  t.end();
});

t.test('a largest record fits at every start offset once the ring is drained (the bound is enough)', (t) => {
  const capacity_bytes = 256;
  const sab = createRing({ capacity_bytes });
  const writer = new RingWriter(sab);
  const reader = new RingReader(sab);
  const parts = ringParts(sab);
  const largest = bytesOf(writer.record_bytes_max, 3);
  let checked = 0;
  const failures: string[] = [];
  for (let offset = 0; offset < capacity_bytes; offset += 4) {
    // Move the write offset with empty records, draining so that the ring is empty.
    for (let step = 0; step < capacity_bytes && (parts.writePosition() & (capacity_bytes - 1)) !== offset; step++) {
      writer.tryWrite(new Uint8Array(0));
      drainAll(reader);
    }
    if ((parts.writePosition() & (capacity_bytes - 1)) !== offset) failures.push(`could not reach offset ${offset}`);
    if (!writer.tryWrite(largest)) failures.push(`no room from offset ${offset}`);
    const records = drainAll(reader);
    if (records.length !== 1 || Buffer.compare(records[0]!, largest) !== 0) failures.push(`wrong record from offset ${offset}`);
    checked++;
  }
  t.same(failures, []);
  t.equal(checked, capacity_bytes / 4);
  t.end();
});

t.test('wrap-around at exact boundaries', (t) => {
  const sab = createRing({ capacity_bytes: 512 }); // record_bytes_max 252, largest slot 256
  const writer = new RingWriter(sab);
  const reader = new RingReader(sab);
  const parts = ringParts(sab);
  const advance = () => {
    for (let i = 0; i < 3; i++) writer.tryWrite(bytesOf(100, i)); // three slots of 104
    drainAll(reader);
  };

  advance();
  t.equal(parts.writePosition(), 312);
  // 200 bytes remain before the end: a 196-byte record (slot 200) fills them exactly.
  const exact = bytesOf(196, 2);
  t.equal(writer.tryWrite(exact), true);
  t.equal(parts.writePosition(), 512, 'no wrap marker: the record ends at the end of the buffer');
  t.equal(parts.dataWord(312), 196, 'its length field follows the earlier records');
  t.same(drainAll(reader), [exact]);
  t.equal(parts.readPosition(), 512);

  advance();
  t.equal(parts.writePosition(), 824);
  // Again 200 bytes remain; a 197-byte record needs 204: one byte too big to fit there.
  const too_big = bytesOf(197, 4);
  t.equal(writer.tryWrite(too_big), true);
  t.equal(parts.dataWord(312), 0xffff_ffff, 'a wrap marker covers the tail');
  t.equal(parts.dataWord(0), 197, 'the record starts at the front');
  t.equal(parts.writePosition(), 824 + 200 + 204, 'the skipped tail counts as used');
  t.same(drainAll(reader), [too_big]);
  t.equal(parts.readPosition(), parts.writePosition());
  t.end();
});

t.test('a full ring says no (backpressure) and takes more after a drain', (t) => {
  const sab = createRing({ capacity_bytes: 256 });
  const writer = new RingWriter(sab);
  const reader = new RingReader(sab);
  let written = 0;
  for (let i = 0; i < 100 && writer.tryWrite(bytesOf(60, i)); i++) written++;
  t.equal(written, 4, 'four 64-byte slots fill 256 bytes');
  t.equal(writer.tryWrite(new Uint8Array(0)), false, 'not even an empty record fits');
  t.equal(reader.drain(() => undefined, 1), 1, 'drain one');
  t.equal(writer.tryWrite(bytesOf(60, 99)), true, 'its room is reused');
  t.equal(drainAll(reader).length, 4);
  t.end();
});

t.test('in-place writes: reserve, fill, commit what was used', (t) => {
  const sab = createRing({ capacity_bytes: 256 });
  const writer = new RingWriter(sab);
  const reader = new RingReader(sab);
  const view = writer.tryReserve(100);
  t.ok(view);
  t.equal(view!.length, 100);
  t.throws(() => writer.tryReserve(4), AssertionFailure, 'one reservation at a time');
  view!.set(bytesOf(60, 5));
  t.equal(drainAll(reader).length, 0, 'nothing visible before commit');
  writer.commit(60);
  t.same(drainAll(reader), [bytesOf(60, 5)]);
  t.throws(() => writer.commit(), AssertionFailure, 'commit needs a reservation');
  writer.tryReserve(8)!.set(bytesOf(8, 6));
  writer.cancelReservation();
  t.equal(drainAll(reader).length, 0, 'a cancelled reservation is never seen');
  const again = writer.tryReserve(8)!;
  t.throws(() => writer.commit(9), AssertionFailure, 'cannot commit more than reserved');
  again.set(bytesOf(8, 7));
  writer.commit();
  t.same(drainAll(reader), [bytesOf(8, 7)]);
  t.end();
});

t.test('appended records stay invisible until publish; a full ring publishes them itself', (t) => {
  const sab = createRing({ capacity_bytes: 256 });
  const writer = new RingWriter(sab);
  const reader = new RingReader(sab);
  const parts = ringParts(sab);
  t.equal(writer.tryAppend(bytesOf(60, 1)), true);
  writer.tryReserve(60)!.set(bytesOf(60, 2));
  writer.commitAppend();
  t.equal(parts.writePosition(), 0, 'nothing published yet');
  t.equal(reader.hasData(), false);
  writer.publish();
  t.equal(parts.writePosition(), 128);
  t.same(drainAll(reader), [bytesOf(60, 1), bytesOf(60, 2)]);

  for (let i = 0; i < 4; i++) t.equal(writer.tryAppend(bytesOf(60, 10 + i)), true);
  t.equal(parts.writePosition(), 128, 'a batch of four still unpublished');
  t.equal(writer.tryAppend(bytesOf(60, 14)), false, 'full');
  t.equal(parts.writePosition(), 128 + 256, 'finding the ring full published the batch, so the reader can make room');
  t.equal(drainAll(reader).length, 4);
  writer.publish();
  t.equal(parts.writePosition(), 128 + 256, 'publishing with nothing appended changes nothing');
  t.end();
});

t.test('drain honours records_max and hands a throwing record out again', (t) => {
  const sab = createRing({ capacity_bytes: 1024 });
  const writer = new RingWriter(sab);
  const reader = new RingReader(sab);
  for (let i = 0; i < 10; i++) writer.tryWrite(Uint8Array.of(i));
  const seen: number[] = [];
  t.equal(reader.drain((view) => seen.push(view[0]!), 3), 3);
  t.same(seen, [0, 1, 2]);
  t.throws(() =>
    reader.drain((view) => {
      if (view[0] === 5) throw new Error('handler failed');
      seen.push(view[0]!);
    }),
  );
  t.same(seen, [0, 1, 2, 3, 4]);
  t.equal(reader.drain((view) => seen.push(view[0]!)), 5, 'record 5 comes again, then the rest');
  t.same(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  t.end();
});

t.test('a seeded random mix of writes and drains keeps every record whole and in order', (t) => {
  const sab = createRing({ capacity_bytes: 512 });
  const writer = new RingWriter(sab);
  const reader = new RingReader(sab);
  const prng = new Prng(12345);
  const expected: Uint8Array[] = [];
  let next_expected = 0;
  let mismatches = 0;
  let received = 0;
  for (let step = 0; step < 20_000; step++) {
    if (prng.below(3) !== 0) {
      const bytes = bytesOf(prng.below(writer.record_bytes_max + 1), step);
      if (writer.tryWrite(bytes)) expected.push(bytes);
    } else {
      reader.drain((view) => {
        const want = expected[next_expected++];
        if (want === undefined || Buffer.compare(view, want) !== 0) mismatches++;
        received++;
      }, 1 + prng.below(4));
    }
  }
  reader.drain(() => {
    next_expected++;
    received++;
  }, 1_000_000);
  t.equal(mismatches, 0);
  t.equal(received, expected.length);
  t.ok(expected.length > 5_000, `enough records went through (${expected.length})`);
  t.end();
});

t.test('close: the reader gets what was written, then closed; the writer is refused', async (t) => {
  const sab = createRing({ capacity_bytes: 256 });
  const writer = new RingWriter(sab);
  const reader = new RingReader(sab);
  writer.tryWrite(bytesOf(10, 1));
  writer.close();
  t.equal(await reader.waitForDataAsync(1_000), 'data', 'written before close still comes');
  t.same(drainAll(reader), [bytesOf(10, 1)]);
  t.equal(await reader.waitForDataAsync(1_000), 'closed');
  t.throws(() => writer.tryWrite(bytesOf(1, 1)), { code: 'SHUTTING_DOWN', retriable: false });
  await t.rejects(writer.writeAsync(bytesOf(1, 1), 1_000), { code: 'SHUTTING_DOWN' });
  t.end();
});

t.test('async waits time out when nothing happens', async (t) => {
  const sab = createRing({ capacity_bytes: 64 });
  const writer = new RingWriter(sab);
  const reader = new RingReader(sab);
  t.equal(await reader.waitForDataAsync(5), 'timed-out');
  t.ok(reader.stats.sleeps >= 1, 'it slept rather than spinning for the whole timeout');
  t.equal(writer.tryWrite(new Uint8Array(writer.record_bytes_max)), true);
  t.equal(writer.tryWrite(new Uint8Array(writer.record_bytes_max)), true, 'two largest records fill 64 bytes');
  t.equal(writer.tryWrite(new Uint8Array(0)), false, 'full');
  await t.rejects(writer.writeAsync(new Uint8Array(writer.record_bytes_max), 5), { code: 'TIMEOUT' });
  await t.rejects(writer.reserveAsync(4, 5), { code: 'TIMEOUT' });
  t.equal(await reader.waitForDataAsync(5), 'data');
  t.equal(ring_control.attach(sab).load('writer_waiting'), 0, 'a side that stops waiting lowers its flag');
  t.end();
});

t.test('one writer and one reader per ring; capacity must be a power of two', (t) => {
  const sab = createRing({ capacity_bytes: 64 });
  new RingWriter(sab);
  new RingReader(sab);
  t.throws(() => new RingWriter(sab), /already has a writer/);
  t.throws(() => new RingReader(sab), /already has a reader/);
  t.throws(() => createRing({ capacity_bytes: 100 }), /power of two/);
  t.throws(() => createRing({ capacity_bytes: 32 }), /power of two in \[64/);
  t.throws(() => new RingWriter(new SharedArrayBuffer(1024)), /never initialised/);
  t.end();
});
