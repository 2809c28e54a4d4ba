import { closeSync, openSync, readFileSync, statSync, truncateSync, writeSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { KeyIndexFile } from '../../src/storage/key_index_file.js';
import { KeyIndexFileDamage, checkKeyIndexGeometry, keyIndexFileBytes, key_index_file_limits } from '../../src/storage/key_index_layout.js';
import { tempDir } from './commit_log_helpers.js';

/** Byte positions of the layout drawn in key_index_file.ts, for tests that damage a file. */
const layout = { entry_count: 16, covered_offset: 32, header_bytes: 64, slot_bytes: 4, entry_bytes: 20 } as const;

function lookupAll(file: KeyIndexFile, hash: number, limit = 1_000, begin_ms = 0, end_ms = Number.MAX_SAFE_INTEGER): number[] {
  const out: number[] = [];
  file.lookup({ hash, limit, begin_ms, end_ms, out, budget: { entries: 1_000_000 } });
  return out;
}

function writeU32At(file_path: string, position: number, value: number): void {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value >>> 0);
  const fd = openSync(file_path, 'r+');
  writeSync(fd, bytes, 0, 4, position);
  closeSync(fd);
}

t.test('entries chain per slot, newest first; a full file says so', async (t) => {
  const dir = tempDir(t);
  const file = KeyIndexFile.create(path.join(dir, '00000000000000001000'), { first_commit_offset: 1_000, slots: 7, entries_max: 500 });
  t.equal(statSync(file.path).size, keyIndexFileBytes(7, 500), 'the file has the size of its geometry');
  t.equal(keyIndexFileBytes(7, 500), 64 + 7 * 4 + 500 * 20, '64-byte header, 4 bytes a slot, 20 an entry');
  const expected = new Map<number, number[]>();
  const statuses = new Set<string>();
  for (let index = 0; index < 500; index++) {
    const hash = (index * 2_654_435_761) % 40; // 40 hashes over 7 slots: chains mix hashes
    const offset = 1_000 + index * 100;
    statuses.add(file.add(hash, offset, 1_700_000_000_000 + index));
    expected.set(hash, [offset, ...(expected.get(hash) ?? [])]);
  }
  t.same([...statuses], ['added'], '500 entries added');
  t.equal(file.add(1, 999_999, 1_700_000_000_000), 'full', 'entry 501 does not fit');
  t.equal(file.entry_count, 500);
  let mismatches = 0;
  for (const [hash, offsets] of expected) if (JSON.stringify(lookupAll(file, hash)) !== JSON.stringify(offsets)) mismatches++;
  t.equal(mismatches, 0, `each of ${expected.size} hashes finds exactly its offsets, newest first, though 7 slots mix them`);
  t.same(lookupAll(file, 12_345), [], 'a hash never added finds nothing');
  const some = expected.get(3) as number[];
  t.same(lookupAll(file, 3, 2), some.slice(0, 2), 'a limit keeps the newest');
  t.equal(file.last_commit_offset, 1_000 + 499 * 100);
  t.same(file.trailingHashes(1_000 + 499 * 100), [(499 * 2_654_435_761) % 40], 'the newest entry\'s hash');
  file.close();
});

t.test('one slot: every key collides, the hash tells them apart; the time range filters; the time span is bounded', async (t) => {
  const dir = tempDir(t);
  const file = KeyIndexFile.create(path.join(dir, '00000000000000000000'), { first_commit_offset: 0, slots: 1, entries_max: 100 });
  const base_ms = 1_700_000_000_000;
  const statuses = new Set(Array.from({ length: 60 }, (_, index) => file.add(index % 3, index * 10, base_ms + index * 1_000)));
  t.same([...statuses], ['added'], '60 entries added');
  t.same(lookupAll(file, 1), Array.from({ length: 20 }, (_, index) => (58 - index * 3) * 10), 'hash 1 gets its 20 offsets, newest first, out of a chain of 60');
  t.same(lookupAll(file, 2, 1_000, base_ms + 20_000, base_ms + 29_000), [290, 260, 230, 200], 'inclusive store-time bounds');
  t.same(lookupAll(file, 0, 1_000, base_ms + 100_000, base_ms + 200_000), [], 'a range after the file\'s end finds nothing');
  t.equal(file.add(0, 1_000, base_ms + key_index_file_limits.store_time_delta_ms_max + 1), 'time_span_exceeded', 'a store time past a u32 delta from the first is refused');
  t.equal(file.add(0, 1_000, base_ms - 5_000), 'added', 'a store time before the first (the clock went back) is kept, at delta 0');
  t.same(lookupAll(file, 0, 1, base_ms, base_ms), [1_000], 'and found at the file\'s begin time');
  file.close();
});

t.test('undoFrom takes entries back newest first and restores each slot\'s head', async (t) => {
  const dir = tempDir(t);
  const file = KeyIndexFile.create(path.join(dir, '00000000000000000000'), { first_commit_offset: 0, slots: 5, entries_max: 1_000 });
  for (let index = 0; index < 300; index++) file.add(index % 17, index * 10, 1_700_000_000_000);
  const before = Array.from({ length: 17 }, (_, hash) => lookupAll(file, hash).filter((offset) => offset < 2_000));
  t.equal(file.undoFrom(2_000), 100, 'the 100 entries at or past offset 2000 go');
  t.equal(file.entry_count, 200);
  t.same(Array.from({ length: 17 }, (_, hash) => lookupAll(file, hash)), before, 'every chain is what it was before they were added');
  for (let index = 200; index < 250; index++) file.add(index % 17, index * 10, 1_700_000_000_000);
  t.same(lookupAll(file, 4)[0], 242 * 10, 'adding goes on after an undo');
  t.equal(file.undoFrom(0), 250, 'undo to the start empties the file');
  t.same(lookupAll(file, 4), [], 'nothing is found');
  file.close();
});

t.test('reopened, a file answers the same; its geometry is its own', async (t) => {
  const dir = tempDir(t);
  const file_path = path.join(dir, '00000000000000004096');
  const file = KeyIndexFile.create(file_path, { first_commit_offset: 4_096, slots: 11, entries_max: 64 });
  for (let index = 0; index < 64; index++) file.add(index % 5, 4_096 + index, 1_700_000_000_000 + index);
  file.setCovered(9_999);
  const answers = Array.from({ length: 5 }, (_, hash) => lookupAll(file, hash));
  t.equal(file.durable_covered_offset, 4_096, 'the covered offset reaches the header only at a flush');
  file.seal();
  t.equal(file.durable_covered_offset, 9_999, 'after the flush the header has it');
  file.close();
  const again = KeyIndexFile.open(file_path);
  t.equal(again.slots, 11);
  t.equal(again.entries_max, 64);
  t.equal(again.entry_count, 64);
  t.equal(again.covered_offset, 9_999);
  t.same(Array.from({ length: 5 }, (_, hash) => lookupAll(again, hash)), answers, 'every hash finds the same offsets');
  t.same(again.repairTail(), { entries_dropped: 0, slots_rebuilt: false }, 'a cleanly closed file needs no repair');
  again.close();
});

t.test('damaged headers are reported as KeyIndexFileDamage, never a crash', async (t) => {
  const dir = tempDir(t);
  const make = (name: string): string => {
    const file_path = path.join(dir, name);
    const file = KeyIndexFile.create(file_path, { first_commit_offset: 0, slots: 3, entries_max: 10 });
    file.add(1, 5, 1_700_000_000_000);
    file.seal();
    file.close();
    return file_path;
  };
  const cases: Array<[string, (file_path: string) => void, RegExp]> = [
    ['bad magic', (file_path) => writeU32At(file_path, 0, 0xdeadbeef), /bad magic/],
    ['truncated', (file_path) => truncateSync(file_path, 100), /bytes, its header/],
    ['empty (killed between create and sizing)', (file_path) => truncateSync(file_path, 0), /less than a header/],
    ['count past capacity', (file_path) => writeU32At(file_path, layout.entry_count, 11), /entry count 11/],
    ['zero slots', (file_path) => writeU32At(file_path, 8, 0), /header geometry/],
  ];
  for (const [name, damage, reason] of cases) {
    const file_path = make(name.replace(/[^a-z]/g, '_'));
    damage(file_path);
    let thrown: unknown;
    try {
      KeyIndexFile.open(file_path).close();
    } catch (error) {
      thrown = error;
    }
    t.ok(thrown instanceof KeyIndexFileDamage, `${name}: KeyIndexFileDamage`);
    t.match((thrown as KeyIndexFileDamage | undefined)?.reason, reason, `${name}: the reason says what is wrong`);
  }
  t.throws(() => checkKeyIndexGeometry(50_000_000, 100_000_000), { code: 'BAD_REQUEST', message: /2 GiB/ }, 'a geometry over 2 GiB is refused with the option names');
  t.doesNotThrow(() => checkKeyIndexGeometry(key_index_file_limits.slots_per_file_default, key_index_file_limits.entries_per_file_default), 'RocketMQ\'s default geometry fits');
});

t.test('repairTail: a kill between the slot and the count, and zeros a power loss left', async (t) => {
  const dir = tempDir(t);
  const file_path = path.join(dir, '00000000000000000000');
  const slots = 3;
  const file = KeyIndexFile.create(file_path, { first_commit_offset: 0, slots, entries_max: 50 });
  for (let index = 0; index < 20; index++) file.add(index % 4, index * 8, 1_700_000_000_000);
  const answers = Array.from({ length: 4 }, (_, hash) => lookupAll(file, hash));
  // Entry 21 (hash 2) written and its slot pointed at it, but the count not yet bumped.
  file.add(2, 20 * 8, 1_700_000_000_000);
  file.seal();
  file.close();
  writeU32At(file_path, layout.entry_count, 20);
  const killed = KeyIndexFile.open(file_path);
  t.equal(killed.entry_count, 20, 'the header says 20');
  t.same(killed.repairTail(), { entries_dropped: 0, slots_rebuilt: true }, 'the slot pointing past the count is found; the slots are rebuilt');
  t.same(Array.from({ length: 4 }, (_, hash) => lookupAll(killed, hash)), answers, 'the answers are those of the 20 entries');
  killed.close();

  // A count that ran ahead of its entries: entries 16..20 are zeros.
  const bytes = readFileSync(file_path);
  const entries_at = layout.header_bytes + slots * layout.slot_bytes;
  bytes.fill(0, entries_at + 15 * layout.entry_bytes, entries_at + 21 * layout.entry_bytes);
  const fd = openSync(file_path, 'r+');
  writeSync(fd, bytes, 0, bytes.length, 0);
  closeSync(fd);
  const torn = KeyIndexFile.open(file_path);
  const repair = torn.repairTail();
  t.equal(repair.entries_dropped, 5, 'the five zeroed entries are dropped');
  t.equal(torn.entry_count, 15);
  t.equal(torn.last_commit_offset, 14 * 8, 'the last whole entry is the newest');
  t.same(
    Array.from({ length: 4 }, (_, hash) => lookupAll(torn, hash)),
    answers.map((offsets) => offsets.filter((offset) => offset < 15 * 8)),
    'lookups see the first 15 entries, nothing else',
  );
  torn.close();

  // A count that ran ahead of entries never written, after the two keys of the log's first
  // record (offset 0): zeros pass the order checks there, and are dropped as holes all the same.
  const zero_path = path.join(dir, 'zero-start');
  const zero_file = KeyIndexFile.create(zero_path, { first_commit_offset: 0, slots, entries_max: 50 });
  zero_file.add(1, 0, 1_700_000_000_000);
  zero_file.add(2, 0, 1_700_000_000_000);
  zero_file.seal();
  zero_file.close();
  writeU32At(zero_path, layout.entry_count, 6);
  const holes = KeyIndexFile.open(zero_path);
  t.same(holes.repairTail(), { entries_dropped: 4, slots_rebuilt: true }, 'the four zero entries past the two written are dropped');
  t.same([lookupAll(holes, 1), lookupAll(holes, 2), lookupAll(holes, 0)], [[0], [0], []], 'the written entries answer; nothing answers for hash 0');
  holes.close();
});
