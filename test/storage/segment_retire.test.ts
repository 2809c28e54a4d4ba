import { closeSync, existsSync, fstatSync, openSync } from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import t from 'tap';
import { MappedFile, page_bytes } from '../../src/storage/mapped_file.js';
import { SegmentSet } from '../../src/storage/segment_set.js';
import { patternBody, tempDir } from './commit_log_helpers.js';

/**
 * Retention in two steps (SegmentSet.retireBefore, then releaseRetired), on real files: the
 * retired segments lose their names at once but keep their pages, so a reader's mapping made
 * before still reads them; after the grace, and only below the floor, their disk blocks are
 * given back (MappedFile.releaseBlocks: MADV_REMOVE punches a hole through the file), which
 * every mapping sees as zeros. An fd held open on each file lets the test fstat a file after
 * its name is gone: `nlink` says it was unlinked, `blocks` whether its space came back.
 */

const limits = {
  /** A page multiple (a hole is punched in whole pages) and small: the test writes every byte. */
  segment_bytes: 16 * page_bytes,
  segments: 4,
  grace_ms: 1_000,
  /** Any start time: the set only compares the times it is given. */
  start_ms: 1_700_000_000_000,
} as const;

/** What releaseBlocks gives back on this platform (false elsewhere, by its contract). */
const punches_holes = process.platform === 'linux';

/** The bytes segment `index` is filled with: an 8-byte pattern unique to it. */
function contentOf(index: number): Buffer {
  return patternBody(index, limits.segment_bytes);
}

function isAllZero(buffer: Buffer): boolean {
  return buffer.equals(Buffer.alloc(buffer.length));
}

interface Written {
  dir: string;
  set: SegmentSet;
  /** The writer's MappedFile of each segment, by index (the set hides retired ones). */
  segments: MappedFile[];
  /** An fd on each file, opened before anything is unlinked. */
  fds: number[];
}

/**
 * A read-write set of `limits.segments` segments, each filled whole with its own bytes and
 * flushed (so that its disk blocks are allocated and counted in `st_blocks`).
 */
function writeSegments(t: Test): Written {
  const dir = tempDir(t);
  const set = new SegmentSet(dir, limits.segment_bytes, 'read-write').load();
  const segments: MappedFile[] = [];
  const fds: number[] = [];
  for (let index = 0; index < limits.segments; index++) {
    const segment = set.createNext(index * limits.segment_bytes);
    contentOf(index).copy(segment.buffer);
    segment.flush();
    segments.push(segment);
    const fd = openSync(segment.path, 'r');
    fds.push(fd);
    t.teardown(() => closeSync(fd));
  }
  // Runs before tempDir's removal (teardowns run last-in first-out).
  t.teardown(() => set.close());
  return { dir, set, segments, fds };
}

/** A read-only set over the same files with every segment mapped, as a reader thread holds it. */
function mapForReading(t: Test, written: Written): { reader: SegmentSet; views: MappedFile[] } {
  const reader = new SegmentSet(written.dir, limits.segment_bytes, 'read-only').load();
  t.teardown(() => reader.close());
  const views = written.segments.map((segment) => {
    const view = reader.find(segment.start_offset);
    if (view === undefined) throw new Error(`the reader found no segment at ${segment.start_offset}`);
    return view;
  });
  return { reader, views };
}

t.test('retireBefore unlinks the segments below the offset, keeps their pages mapped, and answers the new min offset', async (t) => {
  const written = writeSegments(t);
  const { set, segments, fds } = written;
  const { views } = mapForReading(t, written);
  const blocks_before = fds.map((fd) => fstatSync(fd).blocks);
  t.ok(blocks_before.every((blocks) => blocks * 512 >= limits.segment_bytes), `every segment has its blocks allocated (${blocks_before.join(', ')} blocks of 512 bytes)`);

  // An offset inside segment 2: segments 0 and 1 end at or before it, segment 2 does not.
  const offset = 2 * limits.segment_bytes + 100;
  const min_offset = set.retireBefore(offset, limits.start_ms);
  t.equal(min_offset, 2 * limits.segment_bytes, 'the new min offset is the start of the segment holding the offset');
  t.equal(set.min_offset, min_offset, '...and the set says so');
  t.same(segments.map((segment) => existsSync(segment.path)), [false, false, true, true], 'the names of segments 0 and 1 are gone, 2 and 3 kept');
  t.same(fds.map((fd) => fstatSync(fd).nlink), [0, 0, 1, 1], 'the files under the held fds: 0 and 1 unlinked');
  t.equal(set.find(0), undefined, 'the writer no longer finds a retired segment');
  t.equal(set.find(limits.segment_bytes), undefined, '...either of them');
  t.same(segments.map((segment) => segment.closed), [false, false, false, false], 'the retired segments stay mapped (released later)');
  t.same(fds.map((fd) => fstatSync(fd).blocks), blocks_before, 'no disk block given back yet');
  t.ok(views.every((view, index) => view.buffer.equals(contentOf(index))), 'a reader\'s mappings made before still read every original byte');
  t.ok(segments.slice(0, 2).every((segment, index) => segment.buffer.equals(contentOf(index))), '...and so do the writer\'s');

  t.equal(set.retireBefore(offset, limits.start_ms), min_offset, 'retiring again below the same offset changes nothing');
  t.equal(set.retireBefore(3 * limits.segment_bytes - 1, limits.start_ms), min_offset, 'nor does an offset short of the next segment\'s end');
  t.equal(existsSync(segments[2]?.path ?? ''), true, 'segment 2 is kept');

  const to_end = set.retireBefore(Number.MAX_SAFE_INTEGER, limits.start_ms);
  t.equal(to_end, 3 * limits.segment_bytes, 'an offset past the end retires all but the last segment');
  t.same(segments.map((segment) => existsSync(segment.path)), [false, false, false, true], 'the last segment is kept: the writer appends to it');
  t.equal(set.last, segments[3], 'and it is still the set\'s last');
});

t.test('releaseRetired waits for the grace and the floor, oldest first; then the blocks come back and every mapping reads zeros', async (t) => {
  const written = writeSegments(t);
  const { set, segments, fds } = written;
  const { views } = mapForReading(t, written);
  // A mapping made outside any set, as another thread's reader would hold one.
  const lone_view = MappedFile.open(segments[0]?.path ?? '', 0, limits.segment_bytes, 'read-only');
  t.teardown(() => lone_view.close());
  const blocks_before = fds.map((fd) => fstatSync(fd).blocks);
  const floor_max = Number.MAX_SAFE_INTEGER;

  t.equal(set.retireBefore(2 * limits.segment_bytes, limits.start_ms), 2 * limits.segment_bytes, 'segments 0 and 1 retired at the start time');
  t.equal(set.retireBefore(3 * limits.segment_bytes, limits.start_ms + limits.grace_ms / 2), 3 * limits.segment_bytes, 'segment 2 retired half a grace later');

  t.same(set.releaseRetired(limits.start_ms, limits.grace_ms, floor_max), { released: 0, waiting: 3 }, 'at once: nothing released, three waiting');
  t.same(set.releaseRetired(limits.start_ms + limits.grace_ms - 1, limits.grace_ms, floor_max), { released: 0, waiting: 3 }, 'a millisecond short of the grace: still nothing');
  t.same(fds.map((fd) => fstatSync(fd).blocks), blocks_before, 'no block given back');
  t.ok(views.every((view, index) => view.buffer.equals(contentOf(index))), 'the readers still read the original bytes');

  // Past the grace of segments 0 and 1, but the floor (what a slave's stream may still read)
  // is below the end of segment 0: it waits, and segment 1 waits behind it, though its own
  // grace has passed too.
  const after_grace_ms = limits.start_ms + limits.grace_ms;
  t.same(set.releaseRetired(after_grace_ms, limits.grace_ms, limits.segment_bytes - 1), { released: 0, waiting: 3 }, 'a floor below segment 0\'s end: nothing released');
  t.same(fds.map((fd) => fstatSync(fd).blocks), blocks_before, 'no block given back, segment 1\'s neither');
  t.equal(segments[0]?.closed, false, 'segment 0 is still mapped by the writer');

  // The floor at segment 0's end: segment 0 goes; segment 1 ends above the floor and waits.
  const first = set.releaseRetired(after_grace_ms, limits.grace_ms, limits.segment_bytes);
  t.same(first, { released: punches_holes ? 1 : 0, waiting: 2 }, 'a floor at segment 0\'s end: segment 0 released, 1 and 2 wait');
  t.equal(segments[0]?.closed, true, 'the released segment is closed by the writer');
  if (punches_holes) {
    t.equal(fstatSync(fds[0] as number).blocks, 0, 'segment 0\'s blocks are given back (fstat through the held fd)');
    t.ok(isAllZero(views[0]?.buffer ?? Buffer.alloc(0)), 'a reader\'s mapping made before now reads zeros: the documented effect of a release');
    t.ok(isAllZero(lone_view.buffer), '...and so does a mapping outside any set');
  }
  t.equal(fstatSync(fds[0] as number).size, limits.segment_bytes, 'the file keeps its size (a hole, not a truncation)');
  t.same(fds.slice(1).map((fd) => fstatSync(fd).blocks), blocks_before.slice(1), 'the others keep their blocks');
  t.ok(views.slice(1).every((view, index) => view.buffer.equals(contentOf(index + 1))), '...and their bytes');

  // The floor lifted (no slave connected): segment 1 is past its grace, segment 2 not yet.
  t.same(set.releaseRetired(after_grace_ms, limits.grace_ms, floor_max), { released: punches_holes ? 1 : 0, waiting: 1 }, 'the floor lifted: segment 1 released, segment 2 waits for its grace');
  t.ok(views[2]?.buffer.equals(contentOf(2)), 'segment 2 still reads its bytes');
  t.same(set.releaseRetired(limits.start_ms + (limits.grace_ms * 3) / 2, limits.grace_ms, floor_max), { released: punches_holes ? 1 : 0, waiting: 0 }, 'its grace passed: segment 2 released, none waiting');
  t.same(set.releaseRetired(limits.start_ms + 10 * limits.grace_ms, limits.grace_ms, floor_max), { released: 0, waiting: 0 }, 'a later call finds nothing to do');
  t.same(segments.map((segment) => segment.closed), [true, true, true, false], 'the released segments are closed, the last one is not');
  if (punches_holes) {
    t.same(fds.map((fd) => fstatSync(fd).blocks), [0, 0, 0, blocks_before[3]], 'segments 0..2 hold no block; the last keeps its own');
    t.ok(views.slice(0, 3).every((view) => isAllZero(view.buffer)), 'every released segment reads zeros through the reader\'s mappings');
  }
  t.ok(views[3]?.buffer.equals(contentOf(3)), 'the kept segment reads its bytes');
});

t.test('close() with retired segments still waiting closes them without releasing their blocks', async (t) => {
  const { set, segments, fds } = writeSegments(t);
  const blocks_before = fds.map((fd) => fstatSync(fd).blocks);
  set.retireBefore(Number.MAX_SAFE_INTEGER, limits.start_ms);
  t.same(set.releaseRetired(limits.start_ms, limits.grace_ms, Number.MAX_SAFE_INTEGER), { released: 0, waiting: 3 }, 'three retired segments waiting');
  t.doesNotThrow(() => set.close(), 'close does not throw');
  t.ok(segments.every((segment) => segment.closed), 'the retired segments are closed with the kept one');
  t.same(fds.map((fd) => fstatSync(fd).blocks), blocks_before, 'their blocks were not released (they come back with the last fd and mapping)');
  t.same(set.releaseRetired(limits.start_ms + 10 * limits.grace_ms, limits.grace_ms, Number.MAX_SAFE_INTEGER), { released: 0, waiting: 0 }, 'nothing is left to release after close');
  t.doesNotThrow(() => set.close(), 'a second close does not throw either');
});

t.test('MappedFile: unlink keeps the mapping and the blocks; releaseBlocks gives the blocks back under every mapping', async (t) => {
  const file = MappedFile.create(path.join(tempDir(t), 'segment'), 0, limits.segment_bytes);
  t.teardown(() => file.close());
  contentOf(7).copy(file.buffer);
  file.flush();
  const fd = openSync(file.path, 'r');
  t.teardown(() => closeSync(fd));
  const reader = MappedFile.open(file.path, 0, limits.segment_bytes, 'read-only');
  t.teardown(() => reader.close());
  const blocks_before = fstatSync(fd).blocks;
  t.ok(blocks_before * 512 >= limits.segment_bytes, `the written file holds its blocks (${blocks_before})`);

  file.unlink();
  t.equal(existsSync(file.path), false, 'unlink removes the name');
  t.equal(fstatSync(fd).nlink, 0, '...of the file under the held fd');
  t.equal(file.closed, false, 'the mapping stays');
  t.equal(fstatSync(fd).blocks, blocks_before, 'the blocks stay');
  t.ok(file.buffer.equals(contentOf(7)) && reader.buffer.equals(contentOf(7)), 'both mappings read the bytes');
  t.doesNotThrow(() => file.unlink(), 'unlinking again is harmless');

  t.throws(() => reader.releaseBlocks(), { name: 'AssertionFailure' }, 'a read-only mapping may not release: only the writer decides');
  t.equal(file.releaseBlocks(), punches_holes, `releaseBlocks answers ${String(punches_holes)} on ${process.platform}`);
  if (punches_holes) {
    t.equal(fstatSync(fd).blocks, 0, 'the blocks are given back while both mappings and the fd live');
    t.ok(isAllZero(file.buffer), 'the writer\'s mapping reads zeros');
    t.ok(isAllZero(reader.buffer), 'the reader\'s mapping reads zeros');
  }
  t.equal(fstatSync(fd).size, limits.segment_bytes, 'the size is unchanged');
  file.close();
  t.equal(file.releaseBlocks(), false, 'a closed file has nothing to release');
});
