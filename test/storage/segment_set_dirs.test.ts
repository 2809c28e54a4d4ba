import { readdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { CommitLog } from '../../src/storage/commit_log.js';
import { recoverCommitLog } from '../../src/storage/commit_log_recovery.js';
import { CommitLogReader } from '../../src/storage/commit_log_reader.js';
import { SegmentSet } from '../../src/storage/segment_set.js';
import { ManualClock } from '../../src/runtime/clock.js';
import { input, patternBody, store_host, tempDir } from './commit_log_helpers.js';

/**
 * A CommitLog over several directories (`--data a,b,c`): segment n lives in directory n mod
 * count; writing rolls through them, a reopen (recovery) finds them all, readers map them by
 * arithmetic, and directories given in another order are refused with a clear error.
 */

const segment_bytes = 64 * 1024;

function segmentsIn(dir: string): number[] {
  return readdirSync(dir).filter((name) => /^[0-9]{20}$/.test(name)).map(Number).sort((a, b) => a - b);
}

t.test('segments rotate over three directories; reopened and read back whole', async (t) => {
  const dirs = [tempDir(t), tempDir(t), tempDir(t)];
  const segments = new SegmentSet(dirs, segment_bytes, 'read-write').load();
  const log = new CommitLog(segments, { write_offset: 0, queue_offsets: new Map() }, store_host, new ManualClock(1_700_000_000_000));
  const count = 2_000;
  const offsets = log.appendBatch(Array.from({ length: count }, (_, index) => input('Spread', index % 3, patternBody(index, 300 + (index % 200))))).map((result) => result.physical_offset);
  const end = log.offset;
  log.close();
  const placed = dirs.map(segmentsIn);
  t.ok(placed.every((starts) => starts.length >= 2), `every directory holds segments (${placed.map((starts) => starts.length).join(', ')})`);
  t.ok(placed.every((starts, index) => starts.every((start) => (start / segment_bytes) % dirs.length === index)), 'segment n is in directory n mod 3');

  const reopened = new SegmentSet(dirs, segment_bytes, 'read-write').load();
  const recovery = recoverCommitLog(reopened, 0, { zero_after_end: true });
  t.equal(recovery.end_offset, end, 'recovery across the directories finds the same end');
  reopened.close();
  const reader = new CommitLogReader(new SegmentSet(dirs, segment_bytes, 'read-only').load());
  let equal = 0;
  reader.scan(0, end, (record, offset) => {
    const index = offsets.indexOf(offset);
    if (index >= 0 && record.body.equals(patternBody(index, 300 + (index % 200)))) equal++;
  });
  t.equal(equal, count, 'every record read back equal, through mappings made by arithmetic');
});

t.test('directories in another order are refused, naming the segment and where it belongs', async (t) => {
  const dirs = [tempDir(t), tempDir(t)];
  const segments = new SegmentSet(dirs, segment_bytes, 'read-write').load();
  const log = new CommitLog(segments, { write_offset: 0, queue_offsets: new Map() }, store_host, new ManualClock(1_700_000_000_000));
  log.appendBatch(Array.from({ length: 400 }, (_, index) => input('Spread', 0, patternBody(index, 400))));
  log.close();
  t.throws(() => new SegmentSet([dirs[1] as string, dirs[0] as string], segment_bytes, 'read-only').load(), {
    message: new RegExp(`belongs in ${path.join(dirs[0] as string).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*another order`),
  });
});
