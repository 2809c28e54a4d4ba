import { appendFileSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { segmentFileName } from '../../src/storage/storage_paths.js';
import { WheelCheckpoint } from '../../src/storage/wheel_checkpoint.js';
import { WheelLog, wheel_log_entry_bytes } from '../../src/storage/wheel_log.js';
import { tempDir } from './commit_log_helpers.js';

/** The timing wheel's entry log and checkpoint: round trips, segments, torn tails. */

interface Entry {
  index: number;
  deliver_at_ms: number;
  offset: number;
  size: number;
}

function loadAll(log: WheelLog): Entry[] {
  const entries: Entry[] = [];
  log.load((index, deliver_at_ms, offset, size) => entries.push({ index, deliver_at_ms, offset, size }));
  return entries;
}

function entryOf(index: number): Entry {
  return { index, deliver_at_ms: 1_800_000_000_000 + index * 7, offset: 2 ** 40 + index * 300, size: 100 + index };
}

t.test('entries come back in order with their index, across segments and reopenings', async (t) => {
  const dir = path.join(tempDir(t), 'log');
  const log = new WheelLog(dir, 4);
  t.same(loadAll(log), [], 'an empty directory is an empty log');
  for (let index = 0; index < 10; index++) {
    const entry = entryOf(index);
    t.equal(log.append(entry.deliver_at_ms, entry.offset, entry.size), index, `append ${index} answers its index`);
    if (index % 3 === 2) log.write();
  }
  t.equal(log.next_index, 10, 'buffered entries count in next_index');
  log.close();
  t.same(readdirSync(dir).sort(), [0, 4, 8].map(segmentFileName), 'segments of 4 entries, named by their first index');
  const reopened = new WheelLog(dir, 4);
  t.same(loadAll(reopened), Array.from({ length: 10 }, (_, index) => entryOf(index)));
  t.equal(reopened.next_index, 10);
  reopened.append(1, 2, 3);
  reopened.close();
  const again = new WheelLog(dir, 4);
  t.same(loadAll(again).at(-1), { index: 10, deliver_at_ms: 1, offset: 2, size: 3 }, 'appends continue after a reopen');
  again.close();
});

t.test('a torn or damaged tail ends the log there, and appends continue from it', async (t) => {
  const dir = path.join(tempDir(t), 'log');
  const log = new WheelLog(dir, 100);
  for (let index = 0; index < 6; index++) log.append(entryOf(index).deliver_at_ms, entryOf(index).offset, entryOf(index).size);
  log.close();
  const file = path.join(dir, segmentFileName(0));
  truncateSync(file, 5 * wheel_log_entry_bytes + 10); // the sixth entry half written
  const torn = new WheelLog(dir, 100);
  t.equal(loadAll(torn).length, 5, 'the half entry is dropped');
  t.equal(statSync(file).size, 5 * wheel_log_entry_bytes, 'and cut from the file');
  t.equal(torn.append(9, 9, 9), 5, 'the next append takes its index');
  torn.close();
  // A flipped byte in entry 3: the CRC catches it; entries after it are not trusted.
  const bytes = readFileSync(file);
  bytes.writeUInt8((bytes.readUInt8(3 * wheel_log_entry_bytes + 9) ^ 0xff), 3 * wheel_log_entry_bytes + 9);
  writeFileSync(file, bytes);
  const damaged = new WheelLog(dir, 100);
  t.same(loadAll(damaged).map((entry) => entry.index), [0, 1, 2]);
  damaged.close();
  // Zeros past the end (a preallocated or zero-filled page) are no entries.
  appendFileSync(file, Buffer.alloc(5 * wheel_log_entry_bytes));
  const zeroed = new WheelLog(dir, 100);
  t.equal(loadAll(zeroed).length, 3);
  zeroed.close();
});

t.test('whole segments are removed once delivered; a later segment after a torn one is dropped', async (t) => {
  const dir = path.join(tempDir(t), 'log');
  const log = new WheelLog(dir, 2);
  for (let index = 0; index < 7; index++) log.append(index + 1, index + 1, 10);
  log.write();
  log.removeSegment(0);
  log.removeSegment(2);
  t.equal(log.first_index, 4, 'the oldest kept segment starts at 4');
  t.throws(() => log.removeSegment(6), /being written/, 'the segment being written stays');
  log.close();
  const reopened = new WheelLog(dir, 2);
  t.same(loadAll(reopened).map((entry) => entry.index), [4, 5, 6], 'a log may start after index 0');
  reopened.close();
  truncateSync(path.join(dir, segmentFileName(4)), wheel_log_entry_bytes); // segment 4 torn after one entry
  const torn = new WheelLog(dir, 2);
  t.same(loadAll(torn).map((entry) => entry.index), [4], 'entries after the tear are gone');
  t.same(readdirSync(dir).sort(), [segmentFileName(4)], 'and so is the segment after it');
  t.equal(torn.next_index, 5);
  torn.close();
});

t.test('the checkpoint round-trips, is absent at first, and refuses another version', async (t) => {
  const dir = tempDir(t);
  const checkpoint = new WheelCheckpoint(path.join(dir, 'wheel', 'checkpoint'), pino({ level: 'silent' }));
  t.equal(checkpoint.read(), undefined);
  checkpoint.write({ delivered_until_ms: 1_795_585_519_100, commit_log_offset: 2 ** 45 + 3 });
  t.same(new WheelCheckpoint(path.join(dir, 'wheel', 'checkpoint'), pino({ level: 'silent' })).read(), { delivered_until_ms: 1_795_585_519_100, commit_log_offset: 2 ** 45 + 3 });
});

t.test('cutTo drops the entries from an index on; the log then ends there and appends continue from it', async (t) => {
  const fill = (dir: string, count: number): void => {
    const log = new WheelLog(dir, 4);
    log.load(() => undefined);
    for (let index = 0; index < count; index++) log.append(entryOf(index).deliver_at_ms, entryOf(index).offset, entryOf(index).size);
    log.close();
  };
  const inside = path.join(tempDir(t), 'inside');
  fill(inside, 10);
  t.equal(new WheelLog(inside, 4).cutTo(6), 4, 'four dropped');
  t.same(readdirSync(inside).sort(), [0, 4].map(segmentFileName), 'the segment after the cut is gone');
  const reopened = new WheelLog(inside, 4);
  t.same(loadAll(reopened), [0, 1, 2, 3, 4, 5].map(entryOf), 'entries 0..5 stay');
  t.equal(reopened.append(1, 2, 3), 6, 'the next append is index 6');
  reopened.close();

  const boundary = path.join(tempDir(t), 'boundary');
  fill(boundary, 10);
  t.equal(new WheelLog(boundary, 4).cutTo(8), 2);
  const at_boundary = new WheelLog(boundary, 4);
  t.same(loadAll(at_boundary).map((entry) => entry.index), [0, 1, 2, 3, 4, 5, 6, 7]);
  t.equal(at_boundary.next_index, 8, 'cut at a segment start: its file stays, empty, and the log ends at 8');
  at_boundary.close();

  const short = path.join(tempDir(t), 'short');
  fill(short, 5);
  t.equal(new WheelLog(short, 4).cutTo(7), 0, 'a cut past the end drops nothing');
  t.equal(loadAll(new WheelLog(short, 4)).length, 5);

  // The oldest segments went (all delivered): a cut below the first kept entry keeps none,
  // and the log starts at its first segment, never again at an index already delivered.
  const delivered = path.join(tempDir(t), 'delivered');
  fill(delivered, 10);
  const pruned = new WheelLog(delivered, 4);
  pruned.load(() => undefined);
  pruned.removeSegment(0);
  pruned.removeSegment(4);
  pruned.close();
  t.equal(new WheelLog(delivered, 4).cutTo(5), 2, 'entries 8 and 9 dropped');
  const after_prune = new WheelLog(delivered, 4);
  t.same(loadAll(after_prune), []);
  t.equal(after_prune.next_index, 8, 'the log continues at 8, its first segment');
});
