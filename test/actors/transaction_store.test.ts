import t from 'tap';
import { type ActorSystem } from '../../src/runtime/actor_system.js';
import { startActorSystem } from '../helpers/actor_systems.js';
import { Store } from '../../src/actors/store/store.js';
import { halfRecordOf } from '../../src/actors/transaction/transaction_records.js';
import { system_properties, transaction_half_topic } from '../../src/protocol/index.js';
import { decodeMessageProperties } from '../../src/storage/message_properties.js';
import { store_control } from '../../src/storage/store_control.js';
import type { StoreReader } from '../../src/storage/store_reader.js';
import { patternBody, tempDir } from '../storage/commit_log_helpers.js';
import { openStore, record, small_store } from './store_helpers.js';

/** The transaction actor inside a store (in-process actors): decisions, check-backs, restarts. */

const topic = 'Paid';

function half(index: number) {
  return halfRecordOf({ ...record(topic, 0, patternBody(index, 100 + index)), properties: Buffer.alloc(0) }, { tag: 'paid', keys: [`order-${index}`], properties: { index: String(index) } }, 'payments');
}

/** The indices of the committed messages in the real topic, in queue order. */
function committed(reader: StoreReader): number[] {
  const found: number[] = [];
  let next = 0;
  for (let page = 0; page < 1_000; page++) {
    const result = reader.pull(topic, 0, next, { max_count: 512 });
    if (result.status !== 'found') break;
    for (const view of result.records) found.push(Number(decodeMessageProperties(view.properties).properties['index']));
    next = result.next_queue_offset;
  }
  return found;
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeout_ms = 20_000): Promise<void> {
  const deadline = performance.now() + timeout_ms;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`${what} did not happen within ${timeout_ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

t.test('commit re-puts the message once; rollback drops it; a second answer changes nothing', async (t) => {
  const { store } = await openStore(t, { data_dir: tempDir(t), ...small_store });
  const appended = await store.append([half(0), half(1), half(2)]);
  const offsets = appended.results.map((result) => result.physical_offset);
  const end = async (index: number, outcome: 'COMMIT' | 'ROLLBACK' | 'UNKNOWN') => (await store.transactions.ask({ kind: 'end', half_offset: offsets[index] as number, outcome })).result;
  t.equal(await end(0, 'COMMIT'), 'COMMITTED', 'committed at once, before the half queue was read');
  t.equal(await end(1, 'ROLLBACK'), 'ROLLED_BACK');
  t.equal(await end(2, 'UNKNOWN'), 'UNDECIDED');
  t.equal(await end(0, 'ROLLBACK'), 'ALREADY_DECIDED', 'a rollback after the commit is refused');
  t.equal(await end(1, 'COMMIT'), 'ALREADY_DECIDED', 'a commit after the rollback is refused');
  await until(() => committed(store.reader).length === 1, 'the commit in its topic');
  const view = store.reader.pull(topic, 0, 0, { max_count: 1 }).records[0];
  const properties = decodeMessageProperties(view?.properties ?? Buffer.alloc(0));
  t.equal(properties.properties[system_properties.transaction_half_offset], String(offsets[0]));
  t.same(properties.keys, ['order-0']);
  t.ok(view?.body.equals(patternBody(0, 100)), 'the body of the half message');
  await until(async () => (await store.transactions.ask({ kind: 'status' })).read_queue_offset === 3, 'the half queue read');
  const status = await store.transactions.ask({ kind: 'status' });
  t.match(status, { undecided: 1, committed: 1, rolled_back: 1 });
  t.equal(await end(0, 'COMMIT'), 'ALREADY_DECIDED', 'still refused once the half queue was read');
  await t.rejects(store.transactions.ask({ kind: 'end', half_offset: 5, outcome: 'COMMIT' }), { code: 'BAD_REQUEST' }, 'an offset that is no half message');
  t.same(committed(store.reader), [0], 'exactly one message in the topic');
});

t.test('check-backs come due after the interval, count, and end in a rollback', async (t) => {
  const { store } = await openStore(t, { data_dir: tempDir(t), ...small_store, transaction_check_interval_ms: 300, transaction_check_max: 2 });
  const [placement] = (await store.append([half(0)])).results;
  const offset = placement?.physical_offset as number;
  t.same((await store.transactions.ask({ kind: 'due_checks', max: 10 })).checks, [], 'nothing due before the interval');
  const seen: number[] = [];
  await until(async () => {
    for (const check of (await store.transactions.ask({ kind: 'due_checks', max: 10 })).checks) {
      t.equal(check.half_offset, offset);
      t.equal(check.producer_group, 'payments');
      seen.push(check.check_times);
    }
    return (await store.transactions.ask({ kind: 'status' })).rolled_back === 1;
  }, 'the rollback after the maximum checks');
  t.same(seen, [1, 2], 'checked twice, counted');
  t.equal((await store.transactions.ask({ kind: 'end', half_offset: offset, outcome: 'COMMIT' })).result, 'ALREADY_DECIDED', 'a late commit is refused');
  t.same(committed(store.reader), []);
});

t.test('a restart keeps undecided half messages and their check counts, and every decision', async (t) => {
  const data_dir = tempDir(t);
  const system = await startActorSystem({ threads: 2 });
  t.teardown(() => system.stop());
  let store = await Store.open(system, { data_dir, ...small_store });
  const count = 300;
  const offsets = (await store.append(Array.from({ length: count }, (_, index) => half(index)))).results.map((result) => result.physical_offset);
  // A third committed and a third rolled back before the restart; a third undecided.
  for (let index = 0; index < count; index++) {
    if (index % 3 === 2) continue;
    await store.transactions.ask({ kind: 'end', half_offset: offsets[index] as number, outcome: index % 3 === 0 ? 'COMMIT' : 'ROLLBACK' });
  }
  await store.close();
  store = await Store.open(system, { data_dir, ...small_store });
  t.teardown(() => store.close());
  await until(async () => (await store.transactions.ask({ kind: 'status' })).undecided === count / 3, 'the undecided third restored');
  for (let index = 0; index < count; index++) {
    const result = (await store.transactions.ask({ kind: 'end', half_offset: offsets[index] as number, outcome: 'COMMIT' })).result;
    t.equal(result, index % 3 === 2 ? 'COMMITTED' : 'ALREADY_DECIDED', `half message ${index}`);
  }
  await until(() => committed(store.reader).length === (2 * count) / 3, 'every commit in the topic');
  const found = committed(store.reader);
  t.same([...found].sort((a, b) => a - b), Array.from({ length: count }, (_, index) => index).filter((index) => index % 3 !== 1), 'committed ones once each, rolled-back ones never');
  t.equal(store_control.attach(store.args.control).load('transaction_floor') > 0, true, 'the floor is published');
  t.equal(store.reader.readRecord(offsets[0] as number).topic, transaction_half_topic);
});

t.test('decisions in flight together (sync flush): each stored once; a second answer while the first is stored is ALREADY_DECIDED; a restart finds them all', async (t) => {
  const data_dir = tempDir(t);
  const system = await startActorSystem({ threads: 2 });
  t.teardown(() => system.stop());
  let store = await Store.open(system, { data_dir, ...small_store, flush_mode: 'sync' });
  const count = 200;
  const offsets = (await store.append(Array.from({ length: count }, (_, index) => half(index)))).results.map((result) => result.physical_offset);
  // Every answer at once, and for the first ten a contradicting second answer right behind
  // the first: it reaches the actor while the first one's append is still in flight.
  const end = (index: number, outcome: 'COMMIT' | 'ROLLBACK') => store.transactions.ask({ kind: 'end', half_offset: offsets[index] as number, outcome }).then((reply) => reply.result);
  const first = offsets.map((_, index) => end(index, index % 2 === 0 ? 'COMMIT' : 'ROLLBACK'));
  const second = Array.from({ length: 10 }, (_, index) => end(index, index % 2 === 0 ? 'ROLLBACK' : 'COMMIT'));
  const results = await Promise.all(first);
  t.same(results, offsets.map((_, index) => (index % 2 === 0 ? 'COMMITTED' : 'ROLLED_BACK')), 'each first answer recorded');
  t.same(await Promise.all(second), Array.from({ length: 10 }, () => 'ALREADY_DECIDED'), 'each second answer refused');
  t.match(await store.transactions.ask({ kind: 'status' }), { committed: count / 2, rolled_back: count / 2 });
  await store.close();
  store = await Store.open(system, { data_dir, ...small_store, flush_mode: 'sync' });
  t.teardown(() => store.close());
  await until(async () => (await store.transactions.ask({ kind: 'status' })).read_queue_offset === count, 'the half queue read after the restart');
  t.equal((await store.transactions.ask({ kind: 'status' })).undecided, 0, 'nothing undecided after the restart');
  await until(() => committed(store.reader).length === count / 2, 'every commit in the topic');
  t.same(committed(store.reader).sort((a, b) => a - b), Array.from({ length: count / 2 }, (_, index) => 2 * index), 'the committed ones, once each');
});
