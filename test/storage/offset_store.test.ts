import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { MqError } from '../../src/runtime/errors.js';
import { DurableFile, durable_header_bytes } from '../../src/storage/durable_file.js';
import { decodeOffsetTable, encodeOffsetTable, OffsetStore, type OffsetTable } from '../../src/storage/offset_store.js';
import { prng } from '../helpers/prng.js';

/** The offset store's rules in memory, its file round trip and its bounds. The kill -9 test is offset_store_kill.test.ts. */

function tempDir(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mq-offsets-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const quiet_log = pino({ level: 'silent' });


function snapshot(store: OffsetStore): Record<string, unknown> {
  return Object.fromEntries(store.groups().map((group) => [group, store.listGroup(group)]));
}

t.test('commit moves forward only; reset moves anywhere; query is -1 when unknown', async (t) => {
  const store = new OffsetStore({ path: path.join(tempDir(t), 'offsets') });
  t.equal(store.query('g', 'T', 0), -1);
  t.notOk(store.dirty);
  t.equal(store.commit('g', 'T', 0, 5), true);
  t.equal(store.query('g', 'T', 0), 5);
  t.ok(store.dirty);
  t.equal(store.persist(), true);
  t.notOk(store.dirty);

  t.equal(store.commit('g', 'T', 0, 3), false, 'a smaller offset is ignored');
  t.equal(store.commit('g', 'T', 0, 5), false, 'the same offset changes nothing');
  t.notOk(store.dirty, 'ignored commits leave the table clean');
  t.equal(store.persist(), false, 'a clean table writes nothing');
  t.equal(store.commit('g', 'T', 0, 8), true);
  t.equal(store.query('g', 'T', 0), 8);

  store.reset('g', 'T', 0, 2);
  t.equal(store.query('g', 'T', 0), 2, 'reset goes backwards');
  store.reset('g', 'T', 1, 0);
  t.equal(store.query('g', 'T', 1), 0, 'offset 0 is a real offset, not unknown');
  t.equal(store.query('g', 'other', 0), -1);
  t.equal(store.query('other', 'T', 0), -1);
  t.equal(store.commit('g', 'T', 0, Number.MAX_SAFE_INTEGER), true, 'offsets up to 2^53 - 1');
});

t.test('list per group, groups, remove a group', async (t) => {
  const store = new OffsetStore({ path: path.join(tempDir(t), 'offsets') });
  store.commit('g2', 'b', 1, 10);
  store.commit('g1', 'b', 0, 20);
  store.commit('g1', 'a', 3, 30);
  store.commit('g1', 'a', 1, 40);
  t.same(store.groups(), ['g1', 'g2']);
  t.same(store.listGroup('g1'), [
    { topic: 'a', queue_id: 1, offset: 40 },
    { topic: 'a', queue_id: 3, offset: 30 },
    { topic: 'b', queue_id: 0, offset: 20 },
  ]);
  t.same(store.listGroup('none'), []);
  t.equal(store.size, 4);
  store.persist();
  t.equal(store.removeGroup('g1'), true);
  t.ok(store.dirty, 'removing a group is a change to persist');
  t.equal(store.removeGroup('g1'), false);
  t.equal(store.size, 1);
  t.same(store.groups(), ['g2']);
  t.equal(store.query('g1', 'a', 1), -1);
});

t.test('bad input is BAD_REQUEST', async (t) => {
  const store = new OffsetStore({ path: path.join(tempDir(t), 'offsets') });
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['negative offset', () => store.commit('g', 'T', 0, -1), /offset -1 is not a non-negative integer/],
    ['fractional offset', () => store.commit('g', 'T', 0, 1.5), /offset 1.5/],
    ['offset beyond 2^53', () => store.reset('g', 'T', 0, 2 ** 53), /below 2\^53/],
    ['negative queue id', () => store.commit('g', 'T', -1, 0), /queue id -1/],
    ['empty group', () => store.commit('', 'T', 0, 0), /group name "" has 0 UTF-8 bytes/],
    ['long topic', () => store.commit('g', 'x'.repeat(135), 0, 0), /topic name "x+" has 135 UTF-8 bytes; it must have 1..134/],
  ];
  for (const [what, call, message] of cases) {
    const error = t.throws(call, what) as MqError;
    t.equal(error.code, 'BAD_REQUEST', what);
    t.match(error.message, message, what);
  }
  t.equal(store.size, 0, 'nothing was stored');
  t.notOk(store.dirty);
});

t.test('the table is bounded: a new entry past the limit is refused with BUSY, existing ones still move', async (t) => {
  const store = new OffsetStore({ path: path.join(tempDir(t), 'offsets'), entries_max: 3 });
  store.commit('g1', 'T', 0, 1);
  store.commit('g1', 'T', 1, 1);
  store.commit('g2', 'T', 0, 1);
  const error = t.throws(() => store.commit('g2', 'T', 1, 1)) as MqError;
  t.equal(error.code, 'BUSY');
  t.equal(error.retriable, false, 'waiting alone frees nothing');
  t.match(error.message, /offset store full: 3 \(group, topic, queue\) entries tracked, limit 3; cannot track g2\/T\/1\. Remove consumer groups/);
  t.throws(() => store.reset('g3', 'U', 0, 0), { code: 'BUSY' });
  t.equal(store.commit('g1', 'T', 0, 2), true, 'a tracked entry still moves');
  store.removeGroup('g1');
  t.equal(store.commit('g2', 'T', 1, 1), true, 'removing a group makes room');
  t.equal(store.size, 2);
});

t.test('persist then load gives the same table (random tables, large offsets, UTF-8 names)', async (t) => {
  const dir = tempDir(t);
  for (const seed of [1, 2, 3]) {
    const random = prng(seed);
    const file_path = path.join(dir, `offsets-${seed}`);
    const store = new OffsetStore({ path: file_path });
    for (let i = 0; i < 500; i++) {
      const group = `group-${Math.floor(random() * 20)}${seed === 3 ? '-größe' : ''}`;
      const topic = `topic-${Math.floor(random() * 10)}`;
      const offset = random() < 0.1 ? Number.MAX_SAFE_INTEGER - Math.floor(random() * 1000) : Math.floor(random() * 2 ** 40);
      store.reset(group, topic, Math.floor(random() * 64), offset);
    }
    t.equal(store.persist(), true);
    const loaded = new OffsetStore({ path: file_path });
    t.equal(loaded.load(), store.size, `seed ${seed}: every entry loaded`);
    t.same(snapshot(loaded), snapshot(store), `seed ${seed}: equal tables`);
    t.notOk(loaded.dirty, 'a freshly loaded table is clean');
  }
});

t.test('load: no file is an empty table; a damaged file loads the backup and is rewritten', async (t) => {
  const dir = tempDir(t);
  const file_path = path.join(dir, 'config', 'offsets');
  const store = new OffsetStore({ path: file_path, log: quiet_log });
  t.equal(store.load(), 0);
  store.commit('g', 'T', 0, 1);
  store.persist();
  store.commit('g', 'T', 0, 2);
  store.persist();

  const bytes = readFileSync(file_path);
  bytes[durable_header_bytes + 3] = (bytes[durable_header_bytes + 3] ?? 0) ^ 1;
  writeFileSync(file_path, bytes);
  const restarted = new OffsetStore({ path: file_path, log: quiet_log });
  t.equal(restarted.load(), 1);
  t.equal(restarted.query('g', 'T', 0), 1, 'the previous version, from the backup');
  t.ok(restarted.dirty, 'dirty, so that the next persist replaces the damaged file');
  t.equal(restarted.persist(), true);
  t.equal(new OffsetStore({ path: file_path }).load(), 1);
});

t.test('load keeps a table above the limit but refuses new entries', async (t) => {
  const dir = tempDir(t);
  const file_path = path.join(dir, 'offsets');
  const big = new OffsetStore({ path: file_path });
  for (let queue_id = 0; queue_id < 5; queue_id++) big.commit('g', 'T', queue_id, 1);
  big.persist();
  const small = new OffsetStore({ path: file_path, entries_max: 3, log: quiet_log });
  t.equal(small.load(), 5);
  t.equal(small.commit('g', 'T', 4, 2), true);
  t.throws(() => small.commit('g', 'T', 5, 1), { code: 'BUSY' });
});

t.test('codec: exact bytes, every truncation and trailing garbage rejected', async (t) => {
  const table: OffsetTable = new Map([
    ['g', new Map([['T', new Map([[7, 2 ** 32 + 5]])]])],
  ]);
  const bytes = encodeOffsetTable(table);
  t.equal(bytes.toString('hex'), ['00000001', '01', '67', '00000001', '01', '54', '00000001', '00000007', '00000001', '00000005'].join(''), 'the documented layout');
  t.same(decodeOffsetTable(bytes), { table, entries: 1 });
  for (let length = 0; length < bytes.length; length++) {
    t.throws(() => decodeOffsetTable(bytes.subarray(0, length)), { code: 'INTERNAL' }, `truncated to ${length} bytes`);
  }
  t.throws(() => decodeOffsetTable(Buffer.concat([bytes, Buffer.from([0])])), { message: /1 bytes after the last group/ });
  const huge_count = Buffer.from('ffffffff', 'hex');
  t.throws(() => decodeOffsetTable(huge_count), { message: /4294967295 groups announced/ }, 'a count beyond the bytes left fails before looping');
  const twice = Buffer.concat([Buffer.from('00000002', 'hex'), bytes.subarray(4), bytes.subarray(4)]);
  t.throws(() => decodeOffsetTable(twice), { message: /group "g" appears twice/ });
});

t.test('a file in an unknown content version is refused with what to do', async (t) => {
  const dir = tempDir(t);
  const file_path = path.join(dir, 'offsets');
  new DurableFile({ path: file_path, kind: 'OFFS' }).write(Buffer.from('00000000', 'hex'), 9);
  const error = t.throws(() => new OffsetStore({ path: file_path }).load()) as MqError;
  t.match(error.message, /format version 9; this mq-node reads version 1/);
});
