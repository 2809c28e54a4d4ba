import { readdirSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { type ActorSystem } from '../../src/runtime/actor_system.js';
import { startActorSystem } from '../helpers/actor_systems.js';
import { Store } from '../../src/actors/store/store.js';
import { store_control } from '../../src/storage/store_control.js';
import { patternBody, tempDir } from '../storage/commit_log_helpers.js';
import { openStore, pullAll, record, small_store, untilDispatched } from './store_helpers.js';

const record_bytes = 1_000;
const records = 5_000; // ~5.4 MiB: five or six 1 MiB CommitLog segments

async function fill(store: Store): Promise<void> {
  for (let start = 0; start < records; start += 100) {
    await store.append(Array.from({ length: 100 }, (_, i) => record('R', 0, patternBody(start + i, record_bytes))));
  }
  await untilDispatched(store.reader, 'R', 0, records);
}

async function until(condition: () => boolean, what: string, timeout_ms = 20_000): Promise<void> {
  const deadline = performance.now() + timeout_ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`${what} did not happen within ${timeout_ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function segmentFiles(dir: string): string[] {
  return readdirSync(path.join(dir, 'commitlog')).filter((name) => /^\d{20}$/.test(name)).sort();
}

/** What is still served from `min` on must be exactly the records from there, bytes equal. */
function checkServedFrom(t: Test, store: Store, min_offset: number): void {
  const too_small = store.reader.pull('R', 0, 0, { max_count: 10 });
  t.equal(too_small.status, 'offset_too_small', 'a pull below the new min says so');
  t.equal(too_small.next_queue_offset, min_offset, '...and where to resume');
  const rest = pullAll(store.reader, 'R', 0, min_offset);
  t.equal(rest.bodies.length, records - min_offset, 'every record from the min on is served');
  t.ok(rest.bodies.every((body, i) => body.equals(patternBody(min_offset + i, record_bytes))), 'bytes equal');
}

t.test('retention deletes expired CommitLog segments, oldest first, and the queues follow', async (t) => {
  const dir = tempDir(t);
  const { system, store } = await openStore(t, { data_dir: dir, ...small_store, retention_ms: 60 * 60 * 1000, retention_check_interval_ms: 50 });
  await fill(store);
  const before = segmentFiles(dir);
  t.ok(before.length >= 5, `${before.length} segments written`);
  t.equal(store_control.attach(store.args.control).load('min_offset'), 0, 'nothing is an hour old: nothing deleted');
  await store.close();
  // Reopen with a retention every finished segment has outlived.
  const reopened = await Store.open(system, { data_dir: dir, ...small_store, retention_ms: 1, retention_check_interval_ms: 50 });
  t.teardown(() => reopened.close());
  const control = store_control.attach(reopened.args.control);
  await until(() => control.load('min_offset') > 0, 'retention');
  const after = segmentFiles(dir);
  t.same(after, before.slice(before.length - after.length), 'the oldest segments went, the newest stayed');
  t.ok(after.includes(before[before.length - 1] as string), 'the segment being written is kept');
  await until(() => (reopened.reader.window('R', 0)?.min_offset ?? 0) > 0, 'the queue following retention');
  checkServedFrom(t, reopened, reopened.reader.window('R', 0)?.min_offset as number);
});

t.test('a full disk refuses appends, keeps serving reads, and deletes the oldest segments', async (t) => {
  const dir = tempDir(t);
  {
    const system = await startActorSystem({ threads: 2 });
    const store = await Store.open(system, { data_dir: dir, ...small_store });
    await fill(store);
    await store.close();
    await system.stop();
  }
  const segments_before = segmentFiles(dir).length;
  // A high-water mark below what this disk uses: the disk is "full" for the broker.
  const { store } = await openStore(t, { data_dir: dir, ...small_store, disk_high_water_ratio: 0.01, retention_check_interval_ms: 50 });
  const refused = await store.append([record('R', 0, Buffer.from('no room'))]).then(() => null, (error: { code: string; message: string }) => error);
  t.equal(refused?.code, 'BROKER_UNAVAILABLE', 'the append is refused with a retriable contract code');
  t.match(refused?.message ?? '', /appends refused, reads continue/);
  const control = store_control.attach(store.args.control);
  // Under pressure one segment goes per check until only the one being written is left.
  await until(() => segmentFiles(dir).length === 1, 'deletions under disk pressure');
  t.ok(segments_before > 1, `${segments_before - 1} older segments deleted`);
  const last_segment_start = Number(segmentFiles(dir)[0]);
  t.equal(control.load('min_offset'), last_segment_start, 'the min offset is the start of the kept segment');
  await until(() => {
    const min = store.reader.window('R', 0)?.min_offset ?? 0;
    return min > 0 && store.reader.pull('R', 0, min, { max_count: 1 }).status === 'found';
  }, 'the queue following');
  checkServedFrom(t, store, store.reader.window('R', 0)?.min_offset as number);
});
