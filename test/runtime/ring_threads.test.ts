import t from 'tap';
import { createRing, ring_control, RingReader, RingWriter } from '../../src/runtime/ring.js';
import { fixture_progress_block } from './fixtures/ring_test_blocks.js';
import { checkRecord } from './fixtures/ring_records.js';
import { nextMessage, startFixture, waitFor } from './fixtures/ring_test_support.js';
import type { ReaderFixtureInput, ReaderFixtureReport } from './fixtures/ring_reader_worker.js';
import type { WriterFixtureInput, WriterFixtureMessage } from './fixtures/ring_writer_worker.js';

/** The ring across real worker threads: volume, order, integrity, blocking and waking. */

type WriterDone = Extract<WriterFixtureMessage, { kind: 'done' }>;
type WriterError = Extract<WriterFixtureMessage, { kind: 'error' }>;

function writerInput(ring: SharedArrayBuffer, progress: SharedArrayBuffer, fields: Partial<WriterFixtureInput>): WriterFixtureInput {
  return { ring, progress, records: 0, seed: 1, close_when_done: true, timeout_ms: 10_000, ...fields };
}

function readerInput(ring: SharedArrayBuffer, progress: SharedArrayBuffer, fields: Partial<ReaderFixtureInput>): ReaderFixtureInput {
  return { ring, progress, records_max: 2 ** 31 - 1, idle_timeout_ms: 10_000, ...fields };
}

/** Reads the fixture stream on the main thread with async waits; same checks as the reader fixture. */
async function readOnMainThread(reader: RingReader, deadline_ms: number) {
  const seen = { records: 0, checksum_total: 0, out_of_order: 0, corrupt: 0, end: '' };
  while (performance.now() < deadline_ms) {
    const state = await reader.waitForDataAsync(Math.max(1, deadline_ms - performance.now()));
    if (state !== 'data') {
      seen.end = state;
      break;
    }
    reader.drain((view) => {
      const check = checkRecord(view);
      if (!check.intact) seen.corrupt++;
      if (check.seq !== seen.records) seen.out_of_order++;
      seen.checksum_total = (seen.checksum_total + check.checksum) >>> 0;
      seen.records++;
    });
  }
  return seen;
}

t.test('1,000,000 records of 8 B..4 KiB through a 64 KiB ring, worker to worker', async (t) => {
  const records = 1_000_000;
  const ring = createRing({ capacity_bytes: 64 << 10 });
  const progress = fixture_progress_block.create().sab;
  const started_ms = performance.now();
  const reader = startFixture(t, 'ring_reader_worker.js', readerInput(ring, progress, {}));
  const writer = startFixture(t, 'ring_writer_worker.js', writerInput(ring, progress, { records, seed: 20240601 }));
  const [written, read] = await Promise.all([
    nextMessage<WriterDone>(writer, 'done', 60_000),
    nextMessage<ReaderFixtureReport>(reader, 'done', 60_000),
  ]);
  const elapsed_ms = performance.now() - started_ms;
  const bytes = ring_control.attach(ring).load('write_position');
  t.equal(written.records, records);
  t.equal(read.records, records, 'every record arrived');
  t.equal(read.out_of_order, 0, `every sequence number once and in order ${read.first_problem}`);
  t.equal(read.corrupt, 0, 'every record matches its own checksum');
  t.equal(read.checksum_total, written.checksum_total, 'total checksum equal on both sides');
  t.equal(read.end, 'closed');
  t.ok(bytes > 100 * (64 << 10), `the data (${(bytes / 2 ** 20).toFixed(0)} MiB) is far larger than the ring`);
  t.comment(
    `${records} records, ${(bytes / 2 ** 20).toFixed(0)} MiB in ${elapsed_ms.toFixed(0)} ms; ` +
      `writer slept ${written.sleeps}x, reader slept ${read.sleeps}x in ${read.drains} drains`,
  );
});

t.test('200,000 records from a worker to an async reader on the main thread', async (t) => {
  const records = 200_000;
  const ring = createRing({ capacity_bytes: 32 << 10 });
  const progress = fixture_progress_block.create().sab;
  const reader = new RingReader(ring);
  const writer = startFixture(t, 'ring_writer_worker.js', writerInput(ring, progress, { records, seed: 7 }));
  const written_message = nextMessage<WriterDone>(writer, 'done', 30_000);
  const seen = await readOnMainThread(reader, performance.now() + 30_000);
  const written = await written_message;
  t.same(
    seen,
    { records, checksum_total: written.checksum_total, out_of_order: 0, corrupt: 0, end: 'closed' },
    'all records, in order, intact, then closed',
  );
});

t.test('a writer blocks while the ring is full and completes once the reader drains', async (t) => {
  const ring = createRing({ capacity_bytes: 1024 });
  const progress_block = fixture_progress_block.create();
  const control = ring_control.attach(ring);
  const reader = new RingReader(ring);
  // 200-byte payloads make 208-byte records in 212-byte slots: four fit (848 bytes); the
  // fifth needs 212 more, or 176 + 212 with the wrap, and only 176 are free.
  const writer = startFixture(
    t,
    'ring_writer_worker.js',
    writerInput(ring, progress_block.sab, { records: 20, payload_length: 200, seed: 3 }),
  );
  const written_message = nextMessage<WriterDone>(writer, 'done', 10_000);
  await waitFor(() => control.load('writer_waiting') === 1, 'the writer to announce it sleeps', 5_000);
  t.equal(progress_block.load('records_written'), 4, 'four writes completed, the fifth waits');
  t.equal(control.load('write_position') - control.load('read_position'), 848, 'the ring holds those four');
  t.equal(control.load('writer_waiting'), 1, 'still waiting: nothing returned while the reader paused');

  const seen = await readOnMainThread(reader, performance.now() + 10_000);
  const written = await written_message;
  t.same(seen, { records: 20, checksum_total: written.checksum_total, out_of_order: 0, corrupt: 0, end: 'closed' });
  t.ok(written.sleeps >= 1, `the writer slept (${written.sleeps}x)`);
  t.ok(reader.stats.notifies >= 1, `the reader woke it (${reader.stats.notifies}x)`);
});

t.test('a sleeping reader is woken by a write, and by close', async (t) => {
  const ring = createRing({ capacity_bytes: 1024 });
  const progress_block = fixture_progress_block.create();
  const control = ring_control.attach(ring);
  const reader = startFixture(t, 'ring_reader_worker.js', readerInput(ring, progress_block.sab, {}));
  const report_message = nextMessage<ReaderFixtureReport>(reader, 'done', 10_000);
  const writer = new RingWriter(ring);
  const record = new Uint8Array(16);
  new DataView(record.buffer).setUint32(4, 0, true); // seq 0, checksum of an empty payload below

  await waitFor(() => control.load('reader_waiting') === 1, 'the reader to announce it sleeps', 5_000);
  t.equal(writer.tryWrite(record.subarray(0, 8)), true);
  t.equal(writer.stats.notifies, 1, 'the write found the flag set and woke the reader');
  await waitFor(() => progress_block.load('records_read') === 1, 'the reader to take the record', 5_000);
  await waitFor(() => control.load('reader_waiting') === 1, 'the reader to sleep again', 5_000);
  writer.close();
  const report = await report_message;
  t.equal(report.records, 1);
  t.equal(report.end, 'closed', 'close woke it and it stopped');
  t.ok(report.sleeps >= 2, `slept before the write and before the close (${report.sleeps}x)`);
});

t.test('a writer sleeping on a full ring is woken by the reader closing it', async (t) => {
  const ring = createRing({ capacity_bytes: 1024 });
  const progress_block = fixture_progress_block.create();
  const control = ring_control.attach(ring);
  const reader = new RingReader(ring);
  const writer = startFixture(t, 'ring_writer_worker.js', writerInput(ring, progress_block.sab, { records: 20, payload_length: 200 }));
  const error_message = nextMessage<WriterError>(writer, 'error', 10_000);
  await waitFor(() => control.load('writer_waiting') === 1, 'the writer to announce it sleeps', 5_000);
  reader.close();
  const error = await error_message;
  t.equal(error.code, 'SHUTTING_DOWN');
  t.equal(error.records, 4, 'it stopped at the write that could not complete');
  t.match(error.message, /ring is closed/);
});
