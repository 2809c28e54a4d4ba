import { readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ConsumeQueue } from '../../src/storage/consume_queue.js';
import { consume_queue_entry_bytes, packEntries, type ConsumeQueueEntry } from '../../src/storage/consume_queue_entry.js';
import { consume_queue_read_limits, ConsumeQueueReader } from '../../src/storage/consume_queue_reader.js';
import { consumeQueueDir, segmentFileName } from '../../src/storage/storage_paths.js';
import { parseSubscription, tagHash } from '../../src/storage/tag_hash.js';
import { tempDir } from './commit_log_helpers.js';

const topic = 'orders';
const queue_id = 3;

function openQueue(data_dir: string, entries_per_segment: number): ConsumeQueue {
  return new ConsumeQueue({ data_dir, topic, queue_id, entries_per_segment }).load();
}

function openReader(data_dir: string, entries_per_segment: number): ConsumeQueueReader {
  return new ConsumeQueueReader({ data_dir, topic, queue_id, entries_per_segment });
}

/** Entry `index` of the synthetic queues below: records of 100 + index % 50 bytes, back to back. */
function recordSizeOf(index: number): number {
  return 100 + (index % 50);
}

function segmentFiles(data_dir: string): string[] {
  return readdirSync(consumeQueueDir(data_dir, topic, queue_id)).sort();
}

/** Appends `count` entries from queue offset `first` with records back to back from `commit_log_offset`. */
function appendEntries(queue: ConsumeQueue, first: number, count: number, commit_log_offset: number, tagOf: (index: number) => number = () => 0): number {
  let offset = commit_log_offset;
  for (let index = first; index < first + count; index++) {
    queue.append(index, offset, recordSizeOf(index), tagOf(index));
    offset += recordSizeOf(index);
  }
  return offset;
}

/** Reads every entry of [from, window.max) through the reader, in bounded chunks. */
function readAll(reader: ConsumeQueueReader, from: number, window: { min_offset: number; max_offset: number }): ConsumeQueueEntry[] {
  const all: ConsumeQueueEntry[] = [];
  let next = from;
  for (let round = 0; round < 1_000_000 && next < window.max_offset; round++) {
    const read = reader.read(next, window, { max_count: consume_queue_read_limits.read_entries_max });
    all.push(...read.entries);
    next = read.next_queue_offset;
  }
  return all;
}

t.test('1,000,000 entries across many segment rolls: every one read back equal and in order', async (t) => {
  const data_dir = tempDir(t);
  const entries_per_segment = 4096;
  const queue = openQueue(data_dir, entries_per_segment);
  const count = 1_000_000;
  const tagOf = (index: number): number => tagHash(`tag-${index % 5}`);
  const append_started = process.hrtime.bigint();
  let commit_log_offset = 0;
  for (let index = 0; index < count; index++) {
    queue.append(index, commit_log_offset, recordSizeOf(index), tagOf(index));
    commit_log_offset += recordSizeOf(index);
  }
  const append_ms = Number(process.hrtime.bigint() - append_started) / 1e6;
  t.equal(queue.max_offset, count);
  t.equal(queue.coverage_end, commit_log_offset, 'coverage ends after the last record');
  t.equal(segmentFiles(data_dir).length, Math.ceil(count / entries_per_segment), 'rolled into fixed-size segments');

  const reader = openReader(data_dir, entries_per_segment);
  const window = { min_offset: queue.min_offset, max_offset: queue.max_offset };
  const read_started = process.hrtime.bigint();
  let next = 0;
  let expected_offset = 0;
  let mismatches = 0;
  let seen = 0;
  for (let round = 0; round < count && next < count; round++) {
    const read = reader.read(next, window, { max_count: consume_queue_read_limits.read_entries_max });
    for (const entry of read.entries) {
      if (entry.queue_offset !== seen || entry.commit_log_offset !== expected_offset || entry.size !== recordSizeOf(seen) || entry.tag_hash !== tagOf(seen)) mismatches++;
      expected_offset += recordSizeOf(seen);
      seen++;
    }
    next = read.next_queue_offset;
  }
  const read_ms = Number(process.hrtime.bigint() - read_started) / 1e6;
  t.equal(seen, count, 'every entry read');
  t.equal(mismatches, 0, 'every entry equal, in queue-offset order');
  t.comment(`append: ${Math.round(count / (append_ms / 1000)).toLocaleString('en')} entries/s; read: ${Math.round(count / (read_ms / 1000)).toLocaleString('en')} entries/s`);

  const flush_started = process.hrtime.bigint();
  t.equal(await queue.flushAsync(), count, 'flushAsync covers every entry');
  t.comment(`flushAsync of ${segmentFiles(data_dir).length} segments: ${(Number(process.hrtime.bigint() - flush_started) / 1e6).toFixed(1)} ms`);
  t.equal(queue.flush(), count, 'a second flush has nothing to do');
  reader.close();
  queue.close();
});

t.test('reads stop at the published max offset', async (t) => {
  const data_dir = tempDir(t);
  const queue = openQueue(data_dir, 64);
  const reader = openReader(data_dir, 64);
  appendEntries(queue, 0, 500, 0);
  const published = { min_offset: 0, max_offset: 300 };
  const read = reader.read(290, published, { max_count: 100 });
  t.equal(read.status, 'found');
  t.same(read.entries.map((entry) => entry.queue_offset), [290, 291, 292, 293, 294, 295, 296, 297, 298, 299], 'nothing past the published max, though more is written');
  t.equal(read.next_queue_offset, 300);
  t.match(reader.read(300, published, { max_count: 10 }), { status: 'no_new_message', next_queue_offset: 300, entries: [] });
  t.match(reader.read(301, published, { max_count: 10 }), { status: 'offset_overflow', next_queue_offset: 300 });

  // The writer rolls into segments the reader never saw; once published, they are read.
  appendEntries(queue, 500, 500, queue.coverage_end);
  const later = readAll(reader, 300, { min_offset: 0, max_offset: queue.max_offset });
  t.equal(later.length, 700, 'segments created after the reader started are mapped on use');
  t.equal(later[699]?.queue_offset, 999);

  const bytes = reader.read(0, published, { max_count: 100, max_bytes: 250 });
  t.same(bytes.entries.map((entry) => entry.size), [100, 101], 'max bytes: stops before the record that would pass it');
  t.equal(bytes.next_queue_offset, 2);
  t.equal(reader.read(0, published, { max_count: 100, max_bytes: 1 }).entries.length, 1, 'the first record is returned even when larger than max bytes');
  t.throws(() => reader.read(0, published, { max_count: 0 }), { code: 'BAD_REQUEST' });
  t.throws(() => reader.read(995, { min_offset: 0, max_offset: 1010 }, { max_count: 100 }), { code: 'INTERNAL', message: /queue offset 1000 is below the published end 1010 but holds no entry/ }, 'a hole below the published end is damage, never served as an entry');
  reader.close();
  queue.close();
});

t.test('tag filter', async (t) => {
  const data_dir = tempDir(t);
  const queue = openQueue(data_dir, 128);
  const tags = ['red', 'green', 'blue', 'black'];
  const tagOf = (index: number): number => (index < 20_000 ? tagHash(tags[index % 4] as string) : tagHash('rare'));
  appendEntries(queue, 0, 40_000, 0, tagOf);
  queue.append(40_000, queue.coverage_end, 100, tagHash('red'));
  const reader = openReader(data_dir, 128);
  const window = { min_offset: 0, max_offset: queue.max_offset };
  const subscription = parseSubscription(' green || black ');
  const read = reader.read(0, window, { max_count: 10, tag_filter: subscription.filter });
  t.equal(read.status, 'found');
  t.same(read.entries.map((entry) => entry.queue_offset), [1, 3, 5, 7, 9, 11, 13, 15, 17, 19], 'only entries with a subscribed tag');
  t.equal(read.next_queue_offset, 20, 'the next read starts after the last returned entry');
  t.equal(reader.read(0, window, { max_count: 10, tag_filter: '*' }).entries.length, 10, '* takes everything');

  // From 20,000 on, nothing matches for 20,000 entries: a read examines a bounded number.
  const none = reader.read(20_000, window, { max_count: 10, tag_filter: subscription.filter });
  t.equal(none.status, 'no_matched_message');
  t.equal(none.next_queue_offset, 20_000 + consume_queue_read_limits.read_scan_entries_max, 'the scan stops at its bound and says where to go on');
  const reds: number[] = [];
  let next = 20_000;
  for (let round = 0; round < 10 && next < window.max_offset; round++) {
    const more = reader.read(next, window, { max_count: 10, tag_filter: parseSubscription('red').filter });
    reds.push(...more.entries.map((entry) => entry.queue_offset));
    next = more.next_queue_offset;
  }
  t.same(reds, [40_000], 'following next_queue_offset reaches the match past the scan bound');
  reader.close();
  queue.close();
});

t.test('re-appending the same entries is a no-op; a conflict or a gap is a clear error', async (t) => {
  const data_dir = tempDir(t);
  const queue = openQueue(data_dir, 16);
  const end = appendEntries(queue, 0, 100, 5000, (index) => index);
  const files = segmentFiles(data_dir);
  t.equal(queue.append(40, 5000 + sumSizes(0, 40), recordSizeOf(40), 40), 'already_present', 'an equal entry is skipped');
  t.equal(queue.max_offset, 100);

  // A batch overlapping written entries: the old ones are compared, the new ones appended.
  const overlap = new ConsumeQueue({ data_dir: tempDir(t), topic, queue_id, entries_per_segment: 16 }).load();
  appendEntries(overlap, 0, 60, 5000, (index) => index);
  const batch = packedRange(30, 100, 5000, (index) => index);
  t.equal(overlap.appendBatch(30, batch), 40, '30 compared, 40 new');
  t.equal(overlap.appendBatch(30, batch), 0, 'the same batch again adds nothing');
  t.same(overlap.entryAt(99), queue.entryAt(99));
  t.equal(overlap.coverage_end, end);
  overlap.close();

  t.throws(() => queue.append(40, 5000 + sumSizes(0, 40), recordSizeOf(40), 41), {
    code: 'INTERNAL',
    message: /queue offset 40 holds .*tag hash 40.* but the CommitLog's record gives .*tag hash 41.*disagree/,
  }, 'a different entry at a written offset: the queue and the CommitLog disagree');
  const conflicting = packedRange(90, 110, 5000, (index) => index);
  conflicting.writeUInt32LE(7, (95 - 90) * consume_queue_entry_bytes + 8);
  t.throws(() => queue.appendBatch(90, conflicting), { code: 'INTERNAL', message: /queue offset 95 holds/ });
  t.equal(queue.max_offset, 100, 'a batch with a conflict writes nothing, not even its new entries');
  t.throws(() => queue.append(105, end + 10, 100, 0), { code: 'INTERNAL', message: /queue offset 105 came while the queue ends at 100.*without gaps/ });
  t.equal(queue.max_offset, 100);
  t.same(segmentFiles(data_dir), files, 'no file was added by the refused appends');
  t.equal(queue.append(100, end, 100, 0), 'appended', 'the next offset is still accepted');
  queue.close();
});

t.test('truncateToCommitLog drops entries past the CommitLog end; the queue continues from there', async (t) => {
  const data_dir = tempDir(t);
  const queue = openQueue(data_dir, 16);
  appendEntries(queue, 0, 100, 0);
  queue.flush();
  const cut_entry = 50;
  const commit_log_end = sumSizes(0, cut_entry) + 10; // entry 50's record is torn: it ends past the log
  t.equal(queue.truncateToCommitLog(commit_log_end), 50, '50 entries dropped');
  t.equal(queue.max_offset, cut_entry);
  t.equal(queue.coverage_end, sumSizes(0, cut_entry), 're-dispatch starts where entry 49 ends');
  t.ok(queue.flushed_offset <= cut_entry);
  t.same(segmentFiles(data_dir), [0, 1, 2, 3].map((index) => segmentFileName(index * 16 * consume_queue_entry_bytes)), 'segments after the cut are deleted');
  t.equal(queue.truncateToCommitLog(commit_log_end), 0, 'a second truncation drops nothing');

  queue.append(cut_entry, sumSizes(0, cut_entry), 64, 9);
  t.same(queue.entryAt(cut_entry), { queue_offset: cut_entry, commit_log_offset: sumSizes(0, cut_entry), size: 64, tag_hash: 9 }, 'a new entry where the dropped one was');
  queue.close();
  const reopened = openQueue(data_dir, 16);
  t.equal(reopened.max_offset, cut_entry + 1, 'reopened, the queue ends after the new entry (the dropped ones stay zero)');
  t.equal(reopened.truncateToCommitLog(0), cut_entry + 1, 'truncating to an empty CommitLog empties the queue');
  t.equal(reopened.max_offset, 0);
  t.equal(reopened.coverage_end, 0);
  t.equal(reopened.append(0, 0, 100, 0), 'appended');
  reopened.close();
});

t.test('retention: removeBefore deletes only whole old segments and moves the min offset', async (t) => {
  const data_dir = tempDir(t);
  const entries_per_segment = 10;
  const queue = openQueue(data_dir, entries_per_segment);
  // Entry i's record starts at i × 100.
  for (let index = 0; index < 100; index++) queue.append(index, index * 100, 100, 0);
  t.equal(queue.removeBefore(2550), 2, 'segments [0, 10) and [10, 20) point below 2550 only; [20, 30) still has live entries');
  t.equal(queue.min_offset, 26, 'min moves to the first entry whose record is at or after 2550');
  t.equal(segmentFiles(data_dir).length, 8);
  t.equal(queue.removeBefore(2550), 0, 'again: nothing more');

  const reader = openReader(data_dir, entries_per_segment);
  const window = { min_offset: queue.min_offset, max_offset: queue.max_offset };
  t.match(reader.read(0, window, { max_count: 5 }), { status: 'offset_too_small', next_queue_offset: 26 });
  t.same(reader.read(26, window, { max_count: 2 }).entries.map((entry) => entry.commit_log_offset), [2600, 2700]);

  t.equal(queue.removeBefore(1e9), 7, 'every record gone: all but the segment with the last entry are deleted');
  t.equal(queue.min_offset, 100, 'the queue is empty: min = max');
  t.equal(queue.max_offset, 100);
  t.same(segmentFiles(data_dir), [segmentFileName(90 * consume_queue_entry_bytes)]);
  t.match(reader.read(26, { min_offset: 100, max_offset: 100 }, { max_count: 5 }), { status: 'offset_too_small', next_queue_offset: 100 });
  // A window published before retention ran: the segment is gone by the time it is read.
  const late = openReader(data_dir, entries_per_segment);
  t.match(late.read(45, { min_offset: 26, max_offset: 100 }, { max_count: 5 }), { status: 'offset_too_small', next_queue_offset: 50, entries: [] }, 'the next read starts at the next segment');
  late.close();
  queue.append(100, 10_000, 100, 0);
  queue.close();

  const reopened = openQueue(data_dir, entries_per_segment);
  t.equal(reopened.min_offset, 90, 'a reopened queue knows its first kept entry...');
  reopened.removeBefore(10_000);
  t.equal(reopened.min_offset, 100, '...and removeBefore with the CommitLog min corrects it');
  t.equal(reopened.max_offset, 101);
  reader.close();
  reopened.close();
});

t.test('reopen after close: load finds the same ends', async (t) => {
  const data_dir = tempDir(t);
  for (const count of [0, 1, 15, 16, 17, 160, 1000]) {
    const dir = path.join(data_dir, `count-${count}`);
    const queue = openQueue(dir, 16);
    const end = appendEntries(queue, 0, count, 777, (index) => index * 3);
    queue.close();
    const reopened = openQueue(dir, 16);
    t.equal(reopened.max_offset, count, `${count} entries: max offset`);
    t.equal(reopened.min_offset, 0);
    t.equal(reopened.coverage_end, count === 0 ? 0 : end, `${count} entries: coverage end`);
    t.equal(reopened.flushed_offset, 0, 'loaded entries are flushed again before they count as durable');
    if (count > 0) t.same(reopened.entryAt(count - 1), { queue_offset: count - 1, commit_log_offset: end - recordSizeOf(count - 1), size: recordSizeOf(count - 1), tag_hash: (count - 1) * 3 });
    t.equal(reopened.append(count, end, 100, 0), 'appended', 'appends continue at the end');
    t.equal(reopened.flush(), count + 1);
    reopened.close();
  }
});

t.test('a fresh queue starts at its first entry offset (rebuilt after CommitLog retention)', async (t) => {
  const data_dir = tempDir(t);
  const queue = openQueue(data_dir, 16);
  appendEntries(queue, 1234, 40, 90_000);
  t.equal(queue.min_offset, 1234);
  t.equal(queue.max_offset, 1274);
  t.equal(queue.append(1000, 1, 100, 0), 'below_min', 'an offset below the min is skipped');
  queue.close();
  const reopened = openQueue(data_dir, 16);
  t.equal(reopened.min_offset, 1234, 'reopened: zeros before the first entry are not entries');
  t.equal(reopened.max_offset, 1274);
  const reader = openReader(data_dir, 16);
  t.same(readAll(reader, 1234, { min_offset: 1234, max_offset: 1274 }).map((entry) => entry.queue_offset), Array.from({ length: 40 }, (_, index) => 1234 + index));
  reader.close();
  reopened.close();

  // A crash between creating a segment and writing into it leaves an all-zero segment: the
  // queue is still fresh, and the first entry may land elsewhere.
  const crashed = path.join(data_dir, 'crashed');
  mkdirSync(consumeQueueDir(crashed, topic, queue_id), { recursive: true });
  writeFileSync(path.join(consumeQueueDir(crashed, topic, queue_id), segmentFileName(0)), Buffer.alloc(16 * consume_queue_entry_bytes));
  const fresh = openQueue(crashed, 16);
  t.equal(fresh.max_offset, 0);
  appendEntries(fresh, 500, 3, 0);
  t.same(segmentFiles(crashed), [segmentFileName(496 * consume_queue_entry_bytes)], 'the empty segment was replaced by the one holding the first entry');
  fresh.close();
});

function sumSizes(from: number, to: number): number {
  let sum = 0;
  for (let index = from; index < to; index++) sum += recordSizeOf(index);
  return sum;
}

/** Entries [from, to) of the synthetic queue whose first record starts at `base`, packed. */
function packedRange(from: number, to: number, base: number, tagOf: (index: number) => number): Buffer {
  const entries: { commit_log_offset: number; size: number; tag_hash: number }[] = [];
  let offset = base + sumSizes(0, from);
  for (let index = from; index < to; index++) {
    entries.push({ commit_log_offset: offset, size: recordSizeOf(index), tag_hash: tagOf(index) });
    offset += recordSizeOf(index);
  }
  return packEntries(entries);
}

t.test('firstAtOrAfter: the first entry at or past a CommitLog offset, by binary search over segments', async (t) => {
  const data_dir = tempDir(t);
  const entries_per_segment = 64;
  const queue = openQueue(data_dir, entries_per_segment);
  const count = 1_000;
  const ends: number[] = [];
  let commit_log_offset = 0;
  for (let index = 0; index < count; index++) {
    ends.push(commit_log_offset);
    queue.append(index, commit_log_offset, recordSizeOf(index), 0);
    commit_log_offset += recordSizeOf(index);
  }
  const reader = openReader(data_dir, entries_per_segment);
  const window = { min_offset: queue.min_offset, max_offset: queue.max_offset };
  let wrong = 0;
  for (let index = 0; index < count; index += 7) {
    const start = ends[index] as number;
    // Exactly at a record, and one byte into it (the first at or past is the next record).
    if (reader.firstAtOrAfter(start, 0, window) !== index) wrong++;
    if (reader.firstAtOrAfter(start + 1, 0, window) !== index + 1) wrong++;
  }
  t.equal(wrong, 0, 'every record found from queue offset 0');
  t.equal(reader.firstAtOrAfter(0, 500, window), 500, 'never before the queue offset it starts from');
  t.equal(reader.firstAtOrAfter(commit_log_offset, 0, window), count, 'past the last entry: the queue end');
  t.equal(reader.firstAtOrAfter(0, 0, { min_offset: 200, max_offset: count }), 200, 'never before the window');
  reader.close();
});
