import { copyFileSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { RegistryJournal } from '../../src/actors/registry/registry_journal.js';
import { RegistryLog } from '../../src/actors/registry/registry_log.js';
import type { RegistrySnapshot } from '../../src/actors/registry/registry_snapshot.js';
import type { NsLogEntry } from '../../src/protocol/index.js';
import { AssertionFailure } from '../../src/runtime/assert.js';
import { MqError } from '../../src/runtime/errors.js';
import { tempDir } from '../storage/commit_log_helpers.js';

/**
 * The registry's log in memory (the window an upstream serves followers from) and on disk
 * (the journal a restarted nameserver resumes from): positions and terms through appends,
 * drops and resets; entries back whole after a reopen; torn and corrupt tails cut off.
 */

const quiet = pino({ level: 'silent' });

/** Entry `seq` of `term`: a command of `size_bytes` bytes unique to the seq. */
function entry(seq: number, term: number, size_bytes = 10): NsLogEntry {
  return { seq, term, command: Buffer.alloc(size_bytes, seq & 0xff) };
}

/** Entries as plain strings, so a mismatch shows which seq, term or byte differs. */
function shown(entries: readonly NsLogEntry[]): string[] {
  return entries.map((one) => `${one.seq}/${one.term}/${one.command.toString('hex')}`);
}

function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  return undefined;
}

// ---- RegistryLog ------------------------------------------------------------------------

t.test('an empty log ends at (0, 0); appends move its end and termAt answers inside it', async (t) => {
  const log = new RegistryLog(100);
  t.same([log.lastSeq, log.lastTerm, log.termAt(0), log.termAt(1)], [0, 0, 0, undefined]);
  const terms = [1, 1, 2, 2, 3];
  terms.forEach((term, index) => log.append(entry(index + 1, term)));
  t.same([log.lastSeq, log.lastTerm], [5, 3]);
  t.same([0, 1, 2, 3, 4, 5, 6].map((seq) => log.termAt(seq)), [0, 1, 1, 2, 2, 3, undefined]);
});

t.test('from() stops before bytes_max, yet always returns the first entry', async (t) => {
  const log = new RegistryLog(100);
  for (let seq = 1; seq <= 6; seq++) log.append(entry(seq, 1, 10));
  t.same(log.from(2, 25).map((one) => one.seq), [2, 3], 'a third entry would make 30 bytes');
  t.same(log.from(2, 30).map((one) => one.seq), [2, 3, 4], 'exactly bytes_max fits');
  t.same(log.from(2, 0).map((one) => one.seq), [2], 'one entry even over the limit');
  t.same(log.from(5, 1_000).map((one) => one.seq), [5, 6]);
  t.same(log.from(7, 1_000), [], 'nothing past the end');
  t.same(shown(log.from(3, 10)), shown([entry(3, 1, 10)]), 'the entry itself, bytes and all');
});

t.test('past entries_max the oldest entries drop and the base moves to the last one dropped', async (t) => {
  const log = new RegistryLog(3);
  for (let seq = 1; seq <= 7; seq++) log.append(entry(seq, seq < 5 ? 1 : 2));
  t.same([log.lastSeq, log.lastTerm], [7, 2]);
  t.equal(log.termAt(3), undefined, 'a dropped seq has no term');
  t.equal(log.termAt(4), 1, 'the base seq keeps the term of the entry dropped there');
  t.same(log.from(5, 1_000).map((one) => one.seq), [5, 6, 7]);
  t.type(thrown(() => log.from(4, 1_000)), AssertionFailure, 'from the base itself is before the window');
});

t.test('the window stays right through many drops (the dropped prefix is compacted)', async (t) => {
  const entries_max = 4;
  const log = new RegistryLog(entries_max);
  const term_of = (seq: number): number => 1 + Math.floor(seq / 5);
  const wrong: string[] = [];
  for (let seq = 1; seq <= 40; seq++) {
    log.append(entry(seq, term_of(seq)));
    const base = Math.max(0, seq - entries_max);
    const window = log.from(base + 1, 1_000).map((one) => one.seq);
    const expected = Array.from({ length: seq - base }, (_, index) => base + 1 + index);
    if (window.join() !== expected.join()) wrong.push(`after ${seq}: window ${window.join()}`);
    if (base > 0 && log.termAt(base) !== term_of(base)) wrong.push(`after ${seq}: term of base ${base} is ${log.termAt(base)}`);
    if (base > 1 && log.termAt(base - 1) !== undefined) wrong.push(`after ${seq}: ${base - 1} still has a term`);
    if (log.termAt(seq) !== term_of(seq)) wrong.push(`after ${seq}: term of last is ${log.termAt(seq)}`);
  }
  t.same(wrong, []);
  t.same([log.lastSeq, log.lastTerm], [40, term_of(40)]);
});

t.test('reset() forgets every entry and continues after the given position', async (t) => {
  const log = new RegistryLog(100);
  for (let seq = 1; seq <= 3; seq++) log.append(entry(seq, 1));
  log.reset(10, 4);
  t.same([log.lastSeq, log.lastTerm, log.termAt(10), log.termAt(3), log.termAt(11)], [10, 4, 4, undefined, undefined]);
  log.append(entry(11, 4));
  t.same(shown(log.from(11, 1_000)), shown([entry(11, 4)]));
  t.type(thrown(() => log.from(10, 1_000)), AssertionFailure, 'the entries before the reset are gone');
});

t.test('an entry that does not follow the last, or goes back a term, is a bug: assert', async (t) => {
  const log = new RegistryLog(100);
  log.append(entry(1, 2));
  const gap = thrown(() => log.append(entry(3, 2)));
  t.type(gap, AssertionFailure);
  t.match((gap as Error).message, /entry 3 does not follow 1/);
  t.type(thrown(() => log.append(entry(1, 2))), AssertionFailure, 'a repeated seq');
  t.type(thrown(() => log.append(entry(2, 1))), AssertionFailure, 'an older term');
  t.same([log.lastSeq, log.lastTerm], [1, 2], 'the refused entries left no trace');
});

// ---- RegistryJournal --------------------------------------------------------------------

function openJournal(t: Test, dir: string): { journal: RegistryJournal; opened: ReturnType<RegistryJournal['open']> } {
  const journal = new RegistryJournal(dir, quiet);
  t.teardown(() => journal.close());
  return { journal, opened: journal.open() };
}

function snapshotAt(seq: number, term: number): RegistrySnapshot {
  return {
    seq,
    term,
    state: {
      dataVersion: 7,
      eventSeq: 21,
      groups: [{
        cluster: 'C', brokerName: 'broker-a', epoch: 2, inSyncSlaves: [1], candidate: -1,
        members: [{ brokerId: 0, address: '127.0.0.1:10911', haAddress: '', epoch: 2, dataVersion: 3, maxOffset: 4096, connectionId: 'n1/c1', heardMonotonicMs: 1_000.5, heardWallMs: 1_700_000_000_000 }],
        topics: [{ topic: 'Orders', readQueues: 4, writeQueues: 4, perm: 6 }],
      }],
      topics: [{ topic: 'Orders', routeVersion: 7, groups: ['broker-a'] }],
    },
  };
}

const log_file = 'registry.log';
const snapshot_file = 'registry.snapshot';

t.test('appended entries come back equal after a reopen', async (t) => {
  const dir = tempDir(t);
  const written = [entry(1, 1, 3), entry(2, 1, 0), entry(3, 2, 300), entry(4, 5, 17)];
  const first = openJournal(t, dir);
  t.same([first.opened.snapshot, first.opened.entries], [undefined, []], 'a new directory holds nothing');
  first.journal.append(written.slice(0, 2));
  first.journal.append(written.slice(2));
  first.journal.close();
  const again = openJournal(t, dir).opened;
  t.equal(again.snapshot, undefined);
  t.same(shown(again.entries), shown(written));
});

/** A journal of entries 1..5 whose last frame starts at `last_frame_at`. */
function fiveEntries(t: Test, dir: string): { written: NsLogEntry[]; last_frame_at: number } {
  const written = [1, 2, 3, 4, 5].map((seq) => entry(seq, 1, 20));
  const { journal } = openJournal(t, dir);
  journal.append(written.slice(0, 4));
  const last_frame_at = journal.logBytes();
  journal.append(written.slice(4));
  journal.close();
  return { written, last_frame_at };
}

t.test('a torn last frame is dropped and the file cut back to the last whole frame', async (t) => {
  const dir = tempDir(t);
  const { written, last_frame_at } = fiveEntries(t, dir);
  const path = join(dir, log_file);
  truncateSync(path, statSync(path).size - 3);
  const { journal, opened } = openJournal(t, dir);
  t.same(shown(opened.entries), shown(written.slice(0, 4)));
  t.equal(statSync(path).size, last_frame_at, 'the torn bytes are gone from the file');
  journal.append([entry(5, 1, 8)]);
  journal.close();
  t.same(shown(openJournal(t, dir).opened.entries), shown([...written.slice(0, 4), entry(5, 1, 8)]), 'a new entry follows the good ones');
});

t.test('a flipped byte in the last frame\'s payload fails its checksum: dropped, file cut back', async (t) => {
  const dir = tempDir(t);
  const { written, last_frame_at } = fiveEntries(t, dir);
  const path = join(dir, log_file);
  const bytes = readFileSync(path);
  const in_payload = last_frame_at + 8 + 5;
  bytes[in_payload] = (bytes[in_payload] as number) ^ 0x40;
  writeFileSync(path, bytes);
  const { opened } = openJournal(t, dir);
  t.same(shown(opened.entries), shown(written.slice(0, 4)));
  t.equal(statSync(path).size, last_frame_at);
});

t.test('writeSnapshot empties the log; a reopen returns the snapshot and the entries after it', async (t) => {
  const dir = tempDir(t);
  const first = openJournal(t, dir);
  first.journal.append([entry(1, 1), entry(2, 1), entry(3, 2)]);
  first.journal.writeSnapshot(snapshotAt(3, 2));
  t.equal(first.journal.logBytes(), 0, 'the log file is empty');
  first.journal.close();
  const second = openJournal(t, dir);
  t.same(second.opened.snapshot, snapshotAt(3, 2));
  t.same(second.opened.entries, []);
  second.journal.append([entry(4, 2), entry(5, 3)]);
  second.journal.close();
  const third = openJournal(t, dir).opened;
  t.same(third.snapshot, snapshotAt(3, 2));
  t.same(shown(third.entries), shown([entry(4, 2), entry(5, 3)]));
});

t.test('entries the snapshot already holds are skipped (a crash between the rename and the log truncation)', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, log_file);
  const first = openJournal(t, dir);
  first.journal.append([entry(1, 1), entry(2, 1), entry(3, 1)]);
  copyFileSync(path, `${path}.before`);
  first.journal.writeSnapshot(snapshotAt(2, 1));
  first.journal.close();
  copyFileSync(`${path}.before`, path);
  const opened = openJournal(t, dir).opened;
  t.equal(opened.snapshot?.seq, 2);
  t.same(shown(opened.entries), shown([entry(3, 1)]), 'only the entry after the snapshot');
});

/** The error open() throws on the directory, or undefined. */
function openError(t: Test, dir: string): unknown {
  const journal = new RegistryJournal(dir, quiet);
  t.teardown(() => journal.close());
  return thrown(() => journal.open());
}

t.test('a snapshot file with a wrong magic or a wrong checksum: open() throws an MqError naming the file', async (t) => {
  for (const damage of ['magic', 'checksum', 'short'] as const) {
    const dir = tempDir(t);
    const { journal } = openJournal(t, dir);
    journal.writeSnapshot(snapshotAt(3, 2));
    journal.close();
    const path = join(dir, snapshot_file);
    const bytes = readFileSync(path);
    if (damage === 'magic') bytes[0] = (bytes[0] as number) ^ 0xff;
    if (damage === 'checksum') bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0x01;
    writeFileSync(path, damage === 'short' ? bytes.subarray(0, 6) : bytes);
    const error = openError(t, dir);
    t.type(error, MqError, `${damage}: an MqError`);
    t.ok(error instanceof MqError && error.message.includes(path), `${damage}: the message names ${path}`);
    t.match((error as Error).message, damage === 'checksum' ? /fails its checksum/ : /is not a registry snapshot/, damage);
  }
});

t.test('a log file that is not frames at all is dropped whole, and new entries start at seq 1', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, log_file);
  writeFileSync(path, Buffer.from('not a registry log, just some text here'));
  const { journal, opened } = openJournal(t, dir);
  t.same(opened.entries, []);
  t.equal(statSync(path).size, 0);
  journal.append([entry(1, 1)]);
  journal.close();
  t.same(shown(openJournal(t, dir).opened.entries), shown([entry(1, 1)]));
});
