import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, truncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { Store, type StoreOptions } from '../../src/actors/store/store.js';
import { type ActorSystem } from '../../src/runtime/actor_system.js';
import { keyIndexHash } from '../../src/storage/key_index.js';
import { encodeMessageProperties } from '../../src/storage/message_properties.js';
import type { RecordInput } from '../../src/storage/record.js';
import { keyIndexDir, parseSegmentFileName, segmentFileName } from '../../src/storage/storage_paths.js';
import { store_control } from '../../src/storage/store_control.js';
import { tagHash } from '../../src/storage/tag_hash.js';
import { startActorSystem } from '../helpers/actor_systems.js';
import { small_store } from './store_helpers.js';

/**
 * The key index through the Store: records appended with keys are found by `lookupByKey`,
 * exactly (bodies equal, newest first, no other topic, no hash collision), and the index
 * comes back complete and without duplicates after it lost its files, its covered offset or
 * its newest file's tail.
 */

const topics = ['orders', 'payments', 'refunds'];
const customers = 40;
/** Small files, so that a few thousand keys roll over several. */
const index_options = { key_index_slots_per_file: 101, key_index_entries_per_file: 1_000 } as const;

interface Sent {
  offset: number;
  topic: string;
  keys: string[];
  body: Buffer;
  store_ms: number;
}

function keyedRecord(topic: string, body: Buffer, keys: string[]): RecordInput {
  return {
    topic,
    queue_id: 0,
    body,
    properties: encodeMessageProperties({ tag: 'tag-a', keys, properties: { origin: 'test' } }),
    tag_hash: tagHash('tag-a'),
    flags: 0,
    sys_flags: 0,
    born_timestamp: Date.now(),
    born_host: { ipv4: 0x7f000001, port: 40000 },
    reconsume_times: 0,
    prepared_transaction_offset: 0,
  };
}

/** Record i: a unique key `order-i`, a customer key shared with others, a key shared by every
 *  topic, and one record in seven with no keys at all. */
function keysOf(index: number): string[] {
  if (index % 7 === 3) return [];
  return [`order-${index}`, `customer-${index % customers}`, ...(index % 5 === 0 ? ['common'] : [])];
}

async function appendAll(store: Store, first: number, count: number, batch = 50): Promise<Sent[]> {
  const sent: Sent[] = [];
  for (let start = first; start < first + count; start += batch) {
    const indexes = Array.from({ length: Math.min(batch, first + count - start) }, (_, offset) => start + offset);
    const inputs = indexes.map((index) => keyedRecord(topics[index % topics.length] as string, Buffer.from(`body of record ${index} `.repeat(1 + (index % 9))), keysOf(index)));
    const reply = await store.append(inputs);
    if (reply.status !== 'PUT_OK') throw new Error(`append answered ${reply.status}`);
    inputs.forEach((input, position) => {
      const result = reply.results[position];
      if (result === undefined) throw new Error('a result is missing');
      sent.push({ offset: result.physical_offset, topic: input.topic, keys: keysOf(indexes[position] as number), body: Buffer.from(input.body), store_ms: result.store_timestamp });
    });
  }
  return sent;
}

/** Waits (bounded) until the key index covers everything written. */
async function untilIndexed(store: Store, timeout_ms = 20_000): Promise<number> {
  const deadline = performance.now() + timeout_ms;
  const write_offset = store_control.attach(store.args.control).load('write_offset');
  for (;;) {
    const status = await store.key_index.ask({ kind: 'status' });
    if (status.covered_offset >= write_offset) return status.entries;
    if (performance.now() > deadline) throw new Error(`the key index covered ${status.covered_offset} of ${write_offset} within ${timeout_ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function expected(sent: readonly Sent[], topic: string, key: string, limit: number, range?: { begin_ms: number; end_ms: number }): Sent[] {
  return sent
    .filter((record) => record.topic === topic && record.keys.includes(key) && (range === undefined || (record.store_ms >= range.begin_ms && record.store_ms <= range.end_ms)))
    .reverse()
    .slice(0, limit);
}

/** Looks up every key sent (unique and shared ones) and returns what differs from the model. */
async function wrongLookups(store: Store, sent: readonly Sent[], limit = 64, range?: { begin_ms: number; end_ms: number }): Promise<string[]> {
  const wrong: string[] = [];
  const pairs = new Set<string>();
  for (const record of sent) for (const key of record.keys) pairs.add(`${record.topic}\u0000${key}`);
  for (const pair of pairs) {
    const [topic, key] = pair.split('\u0000') as [string, string];
    const found = await store.lookupByKey(topic, key, limit, range);
    const want = expected(sent, topic, key, limit, range);
    const same = found.length === want.length && found.every((view, index) => view.physical_offset === want[index]?.offset && view.body.equals(want[index].body) && view.topic === topic);
    if (!same && wrong.length < 5) wrong.push(`${topic}/${key}: found ${JSON.stringify(found.map((view) => view.physical_offset))}, want ${JSON.stringify(want.map((record) => record.offset))}`);
  }
  return wrong;
}

function entriesOf(sent: readonly Sent[]): number {
  return sent.reduce((sum, record) => sum + new Set(record.keys).size, 0);
}

function indexFiles(data_dir: string): number[] {
  return readdirSync(keyIndexDir(data_dir))
    .map((name) => parseSegmentFileName(name))
    .filter((start): start is number => start !== undefined)
    .sort((a, b) => a - b);
}

/** One store at a time on one actor system; `reopen` closes it and opens the dir again. */
async function openStore(t: Test, data_dir: string, extra: Partial<StoreOptions> = {}): Promise<{ system: ActorSystem; store: () => Store; reopen: () => Promise<Store>; close: () => Promise<void> }> {
  const system = await startActorSystem({ threads: 2 });
  const options: StoreOptions = { data_dir, ...small_store, ...index_options, ...extra };
  let store: Store | undefined = await Store.open(system, options);
  t.teardown(async () => {
    await store?.close().catch(() => undefined);
    await system.stop();
  });
  return {
    system,
    store: () => store as Store,
    close: async () => {
      await store?.close();
      store = undefined;
    },
    reopen: async () => {
      await store?.close();
      store = await Store.open(system, options);
      return store;
    },
  };
}

function tempDataDir(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mq-key-index-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('lookupByKey finds exactly the records that carry a key: newest first, bounded, in a time range, per topic', async (t) => {
  const data_dir = tempDataDir(t);
  const { store: current } = await openStore(t, data_dir);
  const store = current();
  const sent = await appendAll(store, 0, 3_000);
  // Records of an internal topic (here the transaction log, which nothing reads without its
  // decision flag) are not indexed: clients never read them.
  await store.append([keyedRecord('%TRANS_OP%', Buffer.from('an operation record'), ['order-1'])]);
  const entries = await untilIndexed(store);
  t.equal(entries, entriesOf(sent), `the index holds one entry per distinct key of each record: ${entriesOf(sent)}, none of the internal topic`);
  t.ok(indexFiles(data_dir).length > 3, `${indexFiles(data_dir).length} index files of ${index_options.key_index_entries_per_file} entries`);

  t.same(await wrongLookups(store, sent), [], 'every (topic, key) sent: exactly its records, newest first, bodies equal');
  const one = await store.lookupByKey('orders', 'order-42', 10);
  t.equal(one.length, 1, 'a unique key: one record');
  t.equal(one[0]?.body.toString(), sent[42]?.body.toString(), 'its body');
  t.same(await wrongLookups(store, sent, 3), [], 'limit 3: the three newest of each key');
  const middle = sent[1_500] as Sent;
  const range = { begin_ms: middle.store_ms - 50, end_ms: middle.store_ms + 50 };
  t.same(await wrongLookups(store, sent, 64, range), [], 'a time range: only the records stored within it');
  t.ok(expected(sent, 'orders', 'common', 1_000).length > 64, 'orders/common has more than 64 records');
  t.equal((await store.lookupByKey('orders', 'common', 1_000)).length, 64, 'a limit above the max returns 64 (lookup_results_max)');
  t.same(await store.lookupByKey('%TRANS_OP%', 'order-1', 10), [], 'the internal topic\'s record is not found');
  t.same(await store.lookupByKey('orders', 'order-1', 10), [], 'order-1 went to payments: not found under orders');
  t.same(await store.lookupByKey('orders', 'nobody', 10), [], 'an unknown key: nothing');
  await t.rejects(store.lookupByKey('orders', 'a b', 10), { code: 'BAD_REQUEST' }, 'a key with a space is refused');
  await t.rejects(store.lookupByKey('orders', 'order-3', 0), { code: 'BAD_REQUEST' }, 'a limit below 1 is refused');
  await t.rejects(store.lookupByKey('orders', 'order-3', 5, { begin_ms: 10, end_ms: 5 }), { code: 'BAD_REQUEST' }, 'a range that ends before it begins is refused');

  // Two keys of one 32-bit hash: the index answers the other's record; the store drops it.
  const seen = new Map<number, string>();
  let pair: [string, string] | undefined;
  for (let number = 0; number < 2_000_000 && pair === undefined; number++) {
    const key = `collide-${number}`;
    const hash = keyIndexHash('orders', key);
    const earlier = seen.get(hash);
    if (earlier !== undefined) pair = [earlier, key];
    else seen.set(hash, key);
  }
  t.ok(pair !== undefined, `two keys of one hash: ${JSON.stringify(pair)}`);
  if (pair === undefined) return;
  const [stored_key, other_key] = pair;
  const reply = await store.append([keyedRecord('orders', Buffer.from('collision'), [stored_key])]);
  await untilIndexed(store);
  const candidates = await store.key_index.ask({ kind: 'lookup', topic: 'orders', key: other_key, limit: 10 });
  t.same(candidates.offsets, [reply.results[0]?.physical_offset], 'the index gives the colliding record as a candidate');
  t.same(await store.lookupByKey('orders', other_key, 10), [], 'lookupByKey checks its keys and drops it');
  t.equal((await store.lookupByKey('orders', stored_key, 10))[0]?.body.toString(), 'collision', 'the key it carries finds it');
});

t.test('recovery: lost files, a covered offset behind the entries, a torn newest file — complete, no duplicates', async (t) => {
  const data_dir = tempDataDir(t);
  const opened = await openStore(t, data_dir);
  let store = opened.store();
  const sent = await appendAll(store, 0, 2_500);
  t.equal(await untilIndexed(store), entriesOf(sent), 'indexed');

  // 1. Every index file deleted while the store was down: rebuilt from the whole CommitLog.
  await opened.close();
  rmSync(keyIndexDir(data_dir), { recursive: true, force: true });
  store = await opened.reopen();
  t.equal(await untilIndexed(store), entriesOf(sent), 'with no index files: re-indexed from the CommitLog, one entry per key');
  t.same(await wrongLookups(store, sent), [], 'and every lookup exact');

  // 2. The newest file's covered offset set back to its start (a kill before the flush that
  //    would have recorded it): what is re-read is indexed already and adds nothing.
  const more = await appendAll(store, 2_500, 500);
  const all = [...sent, ...more];
  await untilIndexed(store);
  await opened.close();
  const files = indexFiles(data_dir);
  const newest = files[files.length - 1] as number;
  const newest_path = path.join(keyIndexDir(data_dir), segmentFileName(newest));
  const covered_back = Buffer.alloc(8);
  covered_back.writeUInt32LE(newest >>> 0, 0);
  covered_back.writeUInt32LE(Math.floor(newest / 2 ** 32), 4);
  const fd = openSync(newest_path, 'r+');
  writeSync(fd, covered_back, 0, 8, 32);
  closeSync(fd);
  store = await opened.reopen();
  t.equal(await untilIndexed(store), entriesOf(all), 'covered offset behind: re-read, no entry added twice');
  t.same(await wrongLookups(store, all), [], 'every lookup exact, no duplicates');

  // 3. The newest file torn (half its size): dropped with a log line, re-indexed from where the
  //    file before it rolled.
  await opened.close();
  truncateSync(newest_path, 1_000);
  store = await opened.reopen();
  t.equal(await untilIndexed(store), entriesOf(all), 'a torn newest file: dropped and re-indexed, one entry per key');
  t.same(await wrongLookups(store, all), [], 'every lookup exact');

  // 4. Records appended after all this are indexed as usual.
  const last = await appendAll(store, 3_000, 200);
  t.equal(await untilIndexed(store), entriesOf([...all, ...last]), 'new records are indexed after the recoveries');
  t.same(await wrongLookups(store, [...all, ...last]), [], 'and found');
});

t.test('under sync flush the index follows the flush offset; a clean restart keeps it', async (t) => {
  const data_dir = tempDataDir(t);
  const opened = await openStore(t, data_dir, { flush_mode: 'sync' });
  let store = opened.store();
  const sent = await appendAll(store, 0, 600, 20);
  t.equal(await untilIndexed(store), entriesOf(sent), 'indexed under sync flush');
  t.same(await wrongLookups(store, sent), [], 'every lookup exact');
  const listed = (await opened.system.listActors()).find((actor) => actor.address === 'store/key-index');
  t.equal(listed?.thread, 2, 'the key index actor runs at store/key-index, on the service thread');
  const inspected = (await opened.system.inspect('store/key-index'))?.['state'] as Record<string, unknown> | undefined;
  t.match(inspected, { covered_offset: store_control.attach(store.args.control).load('write_offset'), entries: entriesOf(sent), files: indexFiles(data_dir).length }, 'the inspector sees its covered offset, entries and files');
  t.ok(Array.isArray(inspected?.['newest_files']), 'and its newest files');
  store = await opened.reopen();
  const status = await store.key_index.ask({ kind: 'status' });
  t.equal(status.entries, entriesOf(sent), 'after a clean restart the entries are there at once');
  t.same(await wrongLookups(store, sent), [], 'and every lookup exact');
});

t.test('a CommitLog cut (a slave rejoining its master) takes the index back with it; what is written after is indexed in its place', async (t) => {
  const data_dir = tempDataDir(t);
  const opened = await openStore(t, data_dir);
  const store = opened.store();
  const sent = await appendAll(store, 0, 1_500);
  await untilIndexed(store);
  const cut = (sent[900] as Sent).offset;
  const kept = sent.slice(0, 900);
  await store.truncateTo(cut);
  t.equal(store_control.attach(store.args.control).load('write_offset'), cut, 'the log ends at the cut');
  const status = await store.key_index.ask({ kind: 'status' });
  t.equal(status.entries, entriesOf(kept), 'the index holds exactly the entries of the records before the cut');
  t.equal(status.covered_offset, cut, 'and covers up to the cut');
  t.same(await wrongLookups(store, kept), [], 'lookups find only records before the cut');
  t.same(await store.lookupByKey('orders', 'order-1200', 10), [], 'a record past the cut is not found');
  // Records written again at the same offsets must be indexed as themselves, not shadowed.
  const rewritten = await appendAll(store, 10_000, 300);
  t.equal(rewritten[0]?.offset, cut, 'the log goes on at the cut');
  const all = [...kept, ...rewritten];
  t.equal(await untilIndexed(store), entriesOf(all), 'the new records are indexed, nothing of the old tail');
  t.same(await wrongLookups(store, all), [], 'every lookup exact');
});
