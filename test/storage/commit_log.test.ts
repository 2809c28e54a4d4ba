import { openSync, closeSync, ftruncateSync, readdirSync, writeSync, statSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { CommitLogReader } from '../../src/storage/commit_log_reader.js';
import { blank_bytes_min, record_header_bytes, recordSize } from '../../src/storage/record.js';
import { SegmentSet } from '../../src/storage/segment_set.js';
import { input, openCommitLog, patternBody, prng, tempDir } from './commit_log_helpers.js';

t.test('1,000,000 records of random sizes across many segment rolls: all read back equal, every queue in order', async (t) => {
  const dir = tempDir(t);
  const segment_bytes = 16 << 20;
  const { log } = openCommitLog(dir, segment_bytes);
  const random = prng(20261125);
  const record_count = 1_000_000;
  const queue_count = 8;
  // Sizes from 1 B to 64 KiB, most small: 1 in 100 is 4..64 KiB, 1 in 10 is 256 B..4 KiB.
  const sizeOf = (): number => {
    const roll = random();
    if (roll < 0.01) return 4096 + Math.floor(random() * (65536 - 4096 + 1));
    if (roll < 0.1) return 256 + Math.floor(random() * (4096 - 256));
    return 1 + Math.floor(random() * 255);
  };
  const sizes = new Uint32Array(record_count);
  const offsets = new Float64Array(record_count);
  const batch: ReturnType<typeof input>[] = [];
  let written = 0;
  let wrong_queue_offsets = 0;
  // The topic follows from the queue id, so each (topic, queue) is fed by every 8th record.
  const topicOf = (index: number): string => `topic-${(index % queue_count) % 3}`;
  const flushBatch = (): void => {
    const results = log.appendBatch(batch);
    results.forEach((result, index) => {
      offsets[written + index] = result.physical_offset;
      if (result.queue_offset !== Math.floor((written + index) / queue_count)) wrong_queue_offsets++;
    });
    written += batch.length;
    batch.length = 0;
  };
  for (let index = 0; index < record_count; index++) {
    sizes[index] = sizeOf();
    batch.push(input(topicOf(index), index % queue_count, patternBody(index, sizes[index] as number)));
    if (batch.length === 32) flushBatch();
  }
  flushBatch();
  t.equal(wrong_queue_offsets, 0, 'queue offsets count up per queue');
  const segment_files = readdirSync(dir).length;
  t.ok(segment_files > 30, `rolled across ${segment_files} segments`);
  log.close();

  // Read back on a separate read-only mapping, as another thread would.
  const reader = new CommitLogReader(new SegmentSet(dir, segment_bytes, 'read-only').load());
  let mismatches = 0;
  const next_queue_offset = new Array<number>(queue_count).fill(0);
  let index = 0;
  const end = reader.scan(0, log.offset, (record, offset) => {
    const queue_id = index % queue_count;
    if (offset !== offsets[index] || record.queue_id !== queue_id || record.queue_offset !== next_queue_offset[queue_id]
      || record.topic !== topicOf(index) || !record.body.equals(patternBody(index, sizes[index] as number))) mismatches++;
    next_queue_offset[queue_id] = (next_queue_offset[queue_id] as number) + 1;
    index++;
  });
  t.equal(index, record_count, 'every record scanned back');
  t.equal(mismatches, 0, 'every record at its offset, with its queue, queue offset, topic and body bytes');
  t.equal(end, log.offset);
  // Random access by offset too.
  for (let probe = 0; probe < 10_000; probe++) {
    const at = Math.floor(random() * record_count);
    const record = reader.read(offsets[at] as number, log.offset);
    if (!record.body.equals(patternBody(at, sizes[at] as number))) mismatches++;
  }
  t.equal(mismatches, 0, '10,000 random reads by offset equal');
});

t.test('blank marker at exact segment boundaries', async (t) => {
  const segment_bytes = 64 * 1024;
  const topic = 'T';
  const bodyFor = (record_bytes: number): Buffer => Buffer.alloc(record_bytes - recordSize(1, 0, 0), 7);

  t.test('a record that fits exactly (leaving just the 8-byte end marker)', async (t) => {
    const dir = tempDir(t);
    const { log } = openCommitLog(dir, segment_bytes);
    const [first] = log.appendBatch([input(topic, 0, bodyFor(segment_bytes - blank_bytes_min))]);
    t.equal(first?.physical_offset, 0);
    const [second] = log.appendBatch([input(topic, 0, Buffer.from('next'))]);
    t.equal(second?.physical_offset, segment_bytes, 'the next record opens the next segment');
    const reader = new CommitLogReader(new SegmentSet(dir, segment_bytes, 'read-only').load());
    const seen: number[] = [];
    reader.scan(0, log.offset, (_, offset) => void seen.push(offset));
    t.same(seen, [0, segment_bytes], 'the scan skips the 8-byte blank');
    log.close();
  });

  t.test('a record one byte too big for the rest of the segment', async (t) => {
    const dir = tempDir(t);
    const { log } = openCommitLog(dir, segment_bytes);
    const [small] = log.appendBatch([input(topic, 0, Buffer.alloc(100))]);
    const room = segment_bytes - (small?.size as number);
    const [moved] = log.appendBatch([input(topic, 0, bodyFor(room - blank_bytes_min + 1))]);
    t.equal(moved?.physical_offset, segment_bytes, 'it went to the next segment');
    t.equal(moved?.queue_offset, 1);
    const reader = new CommitLogReader(new SegmentSet(dir, segment_bytes, 'read-only').load());
    t.equal(reader.read(segment_bytes, log.offset).body.length, room - blank_bytes_min + 1 - recordSize(1, 0, 0));
    log.close();
  });

  t.test('a record the size of a segment is refused, the largest that fits is accepted', async (t) => {
    const dir = tempDir(t);
    const { log } = openCommitLog(dir, segment_bytes);
    t.throws(() => log.appendBatch([input(topic, 0, bodyFor(segment_bytes))]), { code: 'MESSAGE_TOO_LARGE' });
    t.throws(() => log.appendBatch([input(topic, 0, Buffer.alloc(1)), input(topic, 0, bodyFor(segment_bytes - blank_bytes_min + 1))]), { code: 'MESSAGE_TOO_LARGE' }, 'a batch with one bad record...');
    t.equal(log.offset, 0, '...writes nothing');
    log.appendBatch([input(topic, 0, Buffer.alloc(10))]);
    const [largest] = log.appendBatch([input(topic, 0, bodyFor(segment_bytes - blank_bytes_min))]);
    t.equal(largest?.physical_offset, segment_bytes, 'the largest record takes a whole fresh segment');
    t.equal(log.offset, 2 * segment_bytes - blank_bytes_min);
    log.close();
  });
});

t.test('torn or damaged tail: recovery cuts at the first bad record and the log continues', async (t) => {
  const segment_bytes = 256 * 1024;
  const write = (dir: string): number[] => {
    const { log } = openCommitLog(dir, segment_bytes);
    const offsets = log.appendBatch(Array.from({ length: 300 }, (_, index) => input('T', index % 2, patternBody(index, 1000 + index)))).map((r) => r.physical_offset);
    log.close();
    return offsets;
  };
  const segmentPathOf = (dir: string, offset: number): string => path.join(dir, String(offset - (offset % segment_bytes)).padStart(20, '0'));

  for (const damage of ['flip a body byte', 'flip a header byte', 'zero the last bytes', 'garbage after the end'] as const) {
    t.test(damage, async (t) => {
      const dir = tempDir(t);
      const offsets = write(dir);
      const victim = offsets[290] as number;
      const file = segmentPathOf(dir, victim);
      const fd = openSync(file, 'r+');
      const at = victim % segment_bytes;
      switch (damage) {
        case 'flip a body byte': writeSync(fd, Buffer.from([0xff]), 0, 1, at + record_header_bytes + 500); break;
        case 'flip a header byte': writeSync(fd, Buffer.from([0x55]), 0, 1, at + 20); break;
        case 'zero the last bytes': writeSync(fd, Buffer.alloc(600), 0, 600, at + 600); break;
        case 'garbage after the end': {
          const last = offsets[299] as number;
          const end = last + recordSize(1, 1299, 0);
          writeSync(fd, Buffer.from('not a record, just noise'), 0, 24, (end % segment_bytes) + 64);
          break;
        }
      }
      closeSync(fd);
      const { log, recovery } = openCommitLog(dir, segment_bytes, { crashed: true });
      const expected_end = damage === 'garbage after the end' ? (offsets[299] as number) + recordSize(1, 1299, 0) : victim;
      t.equal(recovery.end_offset, expected_end, 'cut exactly at the damaged record');
      t.equal(recovery.damage === undefined, damage === 'garbage after the end', 'damage reported when a record failed its check');
      const reader = new CommitLogReader(new SegmentSet(dir, segment_bytes, 'read-only').load());
      let good = 0;
      reader.scan(0, recovery.end_offset, (record, offset) => {
        const index = offsets.indexOf(offset);
        if (record.body.equals(patternBody(index, 1000 + index))) good++;
      });
      t.equal(good, damage === 'garbage after the end' ? 300 : 290, 'everything before the cut is served whole');
      const [next] = log.appendBatch([input('T', 0, Buffer.from('after recovery'))]);
      t.equal(next?.physical_offset, expected_end, 'appends continue at the cut');
      const count_before = damage === 'garbage after the end' ? 150 : 145;
      t.equal(next?.queue_offset, count_before, 'queue offsets continue from what survived');
      t.equal(reader.read(expected_end, log.offset).body.toString(), 'after recovery');
      log.close();
      const again = openCommitLog(dir, segment_bytes, { crashed: true });
      t.equal(again.recovery.end_offset, log.offset, 'a second recovery finds the new end, no stale bytes after it');
      t.equal(again.recovery.damage, undefined);
      again.log.close();
    });
  }

  t.test('a truncated last segment file is refused with a clear error', async (t) => {
    const dir = tempDir(t);
    const offsets = write(dir);
    const file = segmentPathOf(dir, offsets[299] as number);
    const fd = openSync(file, 'r+');
    ftruncateSync(fd, 1000);
    closeSync(fd);
    t.throws(() => openCommitLog(dir, segment_bytes), /is 1000 bytes, the configured segment size is 262144/);
    t.equal(statSync(file).size, 1000, 'nothing was changed');
  });
});
