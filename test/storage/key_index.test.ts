import { closeSync, openSync, readdirSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Logger } from '../../src/runtime/log.js';
import { KeyIndex, keyIndexHash, key_index_limits } from '../../src/storage/key_index.js';
import { keyIndexFileBytes } from '../../src/storage/key_index_layout.js';
import { parseSegmentFileName, segmentFileName } from '../../src/storage/storage_paths.js';
import { prng, tempDir } from './commit_log_helpers.js';

/** A logger that keeps what was logged at warn and above, for tests that expect a log line. */
function recordingLog(): { log: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const keep = (fields: unknown, message?: string): void => {
    warnings.push(`${message ?? ''} ${JSON.stringify(fields)}`);
  };
  const log = { warn: keep, error: keep, info: () => undefined, debug: () => undefined } as unknown as Logger;
  return { log, warnings };
}

interface SyntheticRecord {
  offset: number;
  topic: string;
  keys: string[];
  store_ms: number;
}

const topics = ['orders', 'payments'];
const base_ms = 1_700_000_000_000;

/**
 * `count` records back to back (sizes 100..299 bytes) from `first_offset`, each with 0 to 3
 * keys from a pool of `pool` keys, so every key recurs; store times one second apart.
 */
function syntheticLog(seed: number, count: number, pool: number, first_offset = 0): SyntheticRecord[] {
  const random = prng(seed);
  const records: SyntheticRecord[] = [];
  let offset = first_offset;
  for (let index = 0; index < count; index++) {
    const keys = Array.from({ length: Math.floor(random() * 4) }, () => `key-${Math.floor(random() * pool)}`);
    records.push({ offset, topic: topics[Math.floor(random() * topics.length)] as string, keys, store_ms: base_ms + index * 1_000 });
    offset += 100 + Math.floor(random() * 200);
  }
  return records;
}

/** What a lookup must answer: offsets of the records of (topic, key), newest first. */
function expectedOffsets(records: readonly SyntheticRecord[], topic: string, key: string, limit: number, range?: { begin_ms: number; end_ms: number }): number[] {
  return records
    .filter((record) => record.topic === topic && record.keys.includes(key) && (range === undefined || (record.store_ms >= range.begin_ms && record.store_ms <= range.end_ms)))
    .map((record) => record.offset)
    .reverse()
    .slice(0, Math.min(limit, key_index_limits.lookup_results_max));
}

function indexAll(index: KeyIndex, records: readonly SyntheticRecord[]): number {
  let added = 0;
  for (const record of records) added += index.addRecord(record.topic, record.keys, record.offset, record.store_ms);
  if (records.length > 0) {
    const last = records[records.length - 1] as SyntheticRecord;
    index.setCovered(last.offset + 100);
  }
  return added;
}

/** Every (topic, key) of the pool looked up; returns the pairs whose answer differs. */
function wrongAnswers(index: KeyIndex, records: readonly SyntheticRecord[], pool: number, limit: number, range?: { begin_ms: number; end_ms: number }): string[] {
  const wrong: string[] = [];
  for (const topic of topics) {
    for (let key_number = 0; key_number < pool; key_number++) {
      const key = `key-${key_number}`;
      const got = index.lookup(topic, key, limit, range);
      const want = expectedOffsets(records, topic, key, limit, range);
      if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push(`${topic}/${key}: got ${JSON.stringify(got.slice(0, 5))}..., want ${JSON.stringify(want.slice(0, 5))}...`);
    }
  }
  return wrong.slice(0, 5);
}

function indexFiles(dir: string): number[] {
  return readdirSync(dir)
    .map((name) => parseSegmentFileName(name))
    .filter((start): start is number => start !== undefined)
    .sort((a, b) => a - b);
}

const geometry = { slots_per_file: 61, entries_per_file: 500 } as const;
const pool = 150;

t.test('the pool\'s hashes do not collide, topic is part of the hash', async (t) => {
  const hashes = new Set<number>();
  for (const topic of topics) for (let key = 0; key < pool; key++) hashes.add(keyIndexHash(topic, `key-${key}`));
  t.equal(hashes.size, topics.length * pool, 'every (topic, key) of the pool has its own 32-bit hash: expected answers are exact');
  t.not(keyIndexHash('a', 'bc'), keyIndexHash('ab', 'c'), 'the topic and key do not run into each other');
  t.equal(keyIndexHash('orders', 'clé-é'), keyIndexHash('orders', 'clé-é'), 'non-ASCII keys hash (as UTF-8)');
});

t.test('many keys over many files: every lookup exact, newest first, bounded by its limit and time range', async (t) => {
  const dir = tempDir(t);
  const { log, warnings } = recordingLog();
  const records = syntheticLog(1, 6_000, pool);
  const index = new KeyIndex({ dir, ...geometry, log }).load();
  const started = performance.now();
  const added = indexAll(index, records);
  const elapsed_ms = performance.now() - started;
  const key_count = records.reduce((sum, record) => sum + new Set(record.keys).size, 0);
  t.equal(added, key_count, `${key_count} entries: one per distinct key of each record`);
  t.equal(index.entry_count, key_count);
  const files = indexFiles(dir);
  t.ok(files.length >= Math.ceil(key_count / geometry.entries_per_file), `${files.length} files of ${geometry.entries_per_file} entries`);
  t.ok(
    files.every((start) => records.some((record) => record.offset === start && record.keys.length > 0)),
    'each file is named by the CommitLog offset of the first record it holds',
  );
  t.same(wrongAnswers(index, records, pool, 64), [], 'limit 64 (above most keys\' count): each answer is exactly the key\'s records, newest first, across files');
  t.same(wrongAnswers(index, records, pool, 3), [], 'limit 3: the 3 newest');
  const range = { begin_ms: base_ms + 1_000_000, end_ms: base_ms + 2_500_000 };
  t.same(wrongAnswers(index, records, pool, 64, range), [], 'a time range: only records stored within it (inclusive)');
  t.same(index.lookup('orders', 'key-1', 1_000).length, Math.min(64, expectedOffsets(records, 'orders', 'key-1', 1_000).length), 'a limit above the named max returns at most lookup_results_max');
  t.same(index.lookup('orders', 'never-added', 10), [], 'an unknown key finds nothing');
  t.same(index.lookup('refunds', 'key-1', 10), [], 'a known key under another topic finds nothing');
  t.same(warnings, [], 'nothing was logged');
  t.comment(`${key_count} keys added in ${elapsed_ms.toFixed(0)} ms (${Math.round(key_count / (elapsed_ms / 1000))}/s, including ${files.length} file creations)`);
  index.close();
});

t.test('one slot per file: every key collides; answers stay exact', async (t) => {
  const dir = tempDir(t);
  const records = syntheticLog(2, 800, 40);
  const index = new KeyIndex({ dir, slots_per_file: 1, entries_per_file: 300, log: recordingLog().log }).load();
  indexAll(index, records);
  t.same(wrongAnswers(index, records, 40, 64), [], 'chains of up to 300 entries of 80 hashes: each lookup finds exactly its key');
  index.close();
});

t.test('re-adding what is indexed adds nothing; a record cut off after some keys gets only the rest', async (t) => {
  const dir = tempDir(t);
  const records = syntheticLog(3, 2_000, pool);
  const index = new KeyIndex({ dir, ...geometry, log: recordingLog().log }).load();
  const added = indexAll(index, records);
  t.equal(indexAll(index, records.slice(1_200)), 0, 're-indexing the last 800 records (a restart from an older covered offset) adds nothing');
  t.equal(index.entry_count, added, 'the entry count is unchanged');
  t.same(wrongAnswers(index, records, pool, 64), [], 'and no answer has a duplicate');

  const offset = (records[records.length - 1] as SyntheticRecord).offset + 1_000;
  t.equal(index.add('orders', 'partial-a', offset, base_ms), 1, 'a kill after the first key of a record');
  t.equal(index.addRecord('orders', ['partial-a', 'partial-b', 'partial-c', 'partial-b'], offset, base_ms), 2, 're-indexing the record adds its two missing keys only (duplicates in KEYS count once)');
  for (const key of ['partial-a', 'partial-b', 'partial-c']) t.same(index.lookup('orders', key, 10), [offset], `${key} found once`);
  t.equal(index.add('orders', 'late', offset - 1, base_ms), 0, 'a record below the newest indexed one is taken as indexed');
  index.close();
});

t.test('reopened after close: the same answers, and it goes on where it was', async (t) => {
  const dir = tempDir(t);
  const records = syntheticLog(4, 4_000, pool);
  const first = new KeyIndex({ dir, ...geometry, log: recordingLog().log }).load();
  indexAll(first, records.slice(0, 3_000));
  const covered = first.covered_offset;
  first.close();
  const { log, warnings } = recordingLog();
  const second = new KeyIndex({ dir, ...geometry, log }).load();
  t.equal(second.covered_offset, covered, 'the covered offset survives a close');
  t.same(wrongAnswers(second, records.slice(0, 3_000), pool, 64), [], 'every answer as before');
  indexAll(second, records.slice(3_000));
  t.same(wrongAnswers(second, records, pool, 64), [], 'after more records: every answer exact');
  t.same(warnings, [], 'a clean reopen logs nothing');
  second.close();
  const third = new KeyIndex({ dir, slots_per_file: 7, entries_per_file: 50, log }).load();
  t.same(wrongAnswers(third, records, pool, 64), [], 'opened with another geometry: old files keep theirs and answer the same');
  third.close();
});

t.test('retention deletes whole files whose records all lie below the min offset, never the newest', async (t) => {
  const dir = tempDir(t);
  const records = syntheticLog(5, 5_000, pool);
  const index = new KeyIndex({ dir, ...geometry, log: recordingLog().log }).load();
  indexAll(index, records);
  const before = indexFiles(dir);
  t.ok(before.length >= 5, `${before.length} files`);
  const min_offset = before[3] as number; // the first record of the fourth file
  t.equal(index.removeBefore(min_offset), 3, 'the three files whose records all lie below it go');
  t.same(indexFiles(dir), before.slice(3), 'exactly those');
  const kept = records.filter((record) => record.offset >= min_offset);
  t.same(wrongAnswers(index, kept, pool, 64), [], 'lookups find exactly the records of the kept files');
  t.equal(index.removeBefore(min_offset + 1), 0, 'a file with one record at or past the min offset is kept');
  t.equal(index.removeBefore(Number.MAX_SAFE_INTEGER), before.length - 4, 'with everything below, all files but the newest go');
  t.same(indexFiles(dir), before.slice(-1), 'the newest stays: it holds the covered offset');
  index.close();
});

t.test('truncateTo takes back entries past a cut CommitLog, durably', async (t) => {
  const dir = tempDir(t);
  const records = syntheticLog(6, 3_000, pool);
  const index = new KeyIndex({ dir, ...geometry, log: recordingLog().log }).load();
  indexAll(index, records);
  const files_before = indexFiles(dir);
  const cut = (records[1_000] as SyntheticRecord).offset;
  const kept = records.slice(0, 1_000);
  const removed = index.truncateTo(cut);
  t.equal(removed, records.slice(1_000).reduce((sum, record) => sum + new Set(record.keys).size, 0), 'every entry of a record at or past the cut');
  t.equal(index.covered_offset, cut, 'the covered offset moves back to the cut');
  t.ok(indexFiles(dir).length < files_before.length, 'files left empty past the cut are deleted');
  t.same(wrongAnswers(index, kept, pool, 64), [], 'lookups answer as for the records before the cut');
  index.close();
  const reopened = new KeyIndex({ dir, ...geometry, log: recordingLog().log }).load();
  t.equal(reopened.covered_offset, cut, 'the moved-back covered offset was made durable');
  const rewritten = syntheticLog(7, 500, pool, cut);
  indexAll(reopened, rewritten);
  t.same(wrongAnswers(reopened, [...kept, ...rewritten], pool, 64), [], 'the log written again after the cut is indexed in its place');
  reopened.close();
});

t.test('a store time span past a u32 delta rolls to a new file', async (t) => {
  const dir = tempDir(t);
  const index = new KeyIndex({ dir, ...geometry, log: recordingLog().log }).load();
  index.add('orders', 'a', 0, base_ms);
  index.add('orders', 'a', 100, base_ms + 2 ** 32);
  t.same(indexFiles(dir), [0, 100], 'the second record starts a new file');
  t.same(index.lookup('orders', 'a', 10), [100, 0], 'both found, newest first');
  t.same(index.lookup('orders', 'a', 10, { begin_ms: base_ms + 2 ** 32, end_ms: base_ms + 2 ** 32 }), [100], 'the time range tells them apart');
  index.close();
});

t.test('torn and damaged files: dropped with a log line, never a crash; a dropped newest file is re-indexed from where the one before it rolled', async (t) => {
  const dir = tempDir(t);
  const records = syntheticLog(8, 3_000, pool);
  const writer = new KeyIndex({ dir, ...geometry, log: recordingLog().log }).load();
  indexAll(writer, records);
  writer.close();
  const files = indexFiles(dir);
  t.ok(files.length >= 4, `${files.length} files`);
  const newest = files[files.length - 1] as number;
  const older = files[1] as number;
  // The newest torn to half its size; the second one's magic overwritten; a stray empty file
  // with a segment name past the newest (a kill between create and sizing).
  truncateSync(path.join(dir, segmentFileName(newest)), Math.floor(keyIndexFileBytes(geometry.slots_per_file, geometry.entries_per_file) / 2));
  const fd = openSync(path.join(dir, segmentFileName(older)), 'r+');
  writeSync(fd, Buffer.from('garbage!'), 0, 8, 0);
  closeSync(fd);
  writeFileSync(path.join(dir, segmentFileName(newest + 1)), '');
  writeFileSync(path.join(dir, 'not-an-index-file'), 'x');

  const { log, warnings } = recordingLog();
  const index = new KeyIndex({ dir, ...geometry, log }).load();
  t.equal(warnings.length, 3, 'one log line per damaged file');
  t.ok(warnings.every((line) => line.includes('damaged')), 'each says the file was damaged and dropped');
  t.same(indexFiles(dir), files.filter((start) => start !== newest && start !== older), 'the damaged files are gone, the others kept; other names are left alone');
  t.equal(index.covered_offset, newest, 'covered: where the file before the dropped newest one rolled');
  const older_end = files[2] as number;
  const lost = (record: SyntheticRecord): boolean => record.offset >= older && record.offset < older_end;
  const reindexed = records.filter((record) => record.offset >= newest);
  t.equal(indexAll(index, reindexed), reindexed.reduce((sum, record) => sum + new Set(record.keys).size, 0), 're-indexing from there adds the dropped newest file\'s entries');
  t.same(wrongAnswers(index, records.filter((record) => !lost(record)), pool, 64), [], 'every answer exact but for the records of the dropped older file, and no duplicates');
  index.close();
});
