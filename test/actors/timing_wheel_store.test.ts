import t from 'tap';
import { type ActorSystem } from '../../src/runtime/actor_system.js';
import { startActorSystem } from '../helpers/actor_systems.js';
import { Store } from '../../src/actors/store/store.js';
import { scheduledRecordOf } from '../../src/actors/timing_wheel/scheduled_record.js';
import { schedule_topic, system_properties } from '../../src/protocol/index.js';
import { decodeMessageProperties } from '../../src/storage/message_properties.js';
import { encodeMessageId } from '../../src/storage/message_id.js';
import type { RecordView } from '../../src/storage/record.js';
import { store_control } from '../../src/storage/store_control.js';
import { wheelLogDir } from '../../src/storage/storage_paths.js';
import { WheelLog } from '../../src/storage/wheel_log.js';
import type { StoreReader } from '../../src/storage/store_reader.js';
import { patternBody, tempDir } from '../storage/commit_log_helpers.js';
import { openStore, record, small_store } from './store_helpers.js';

/** The timing wheel inside a store (in-process actors): delivery, restart, retention floor. */

const topic = 'Later';

function scheduled(index: number, deliver_at_ms: number, queue_id = 0) {
  const message = { tag: `tag-${index % 3}`, keys: [`key-${index}`], properties: { index: String(index) } };
  return scheduledRecordOf({ ...record(topic, queue_id, patternBody(index, 200 + index)), properties: Buffer.alloc(0) }, message, deliver_at_ms);
}

interface Delivered {
  index: number;
  store_timestamp: number;
  properties: Record<string, string>;
  view_ok: boolean;
}

function delivered(reader: StoreReader, queue_id = 0): Delivered[] {
  const found: Delivered[] = [];
  let next = 0;
  for (let page = 0; page < 1_000; page++) {
    const result = reader.pull(topic, queue_id, next, { max_count: 512 });
    if (result.status !== 'found') break;
    for (const view of result.records) found.push(describe(view));
    next = result.next_queue_offset;
  }
  return found;
}

function describe(view: RecordView): Delivered {
  const message = decodeMessageProperties(view.properties);
  const index = Number(message.properties['index']);
  const view_ok = view.body.equals(patternBody(index, 200 + index)) && message.tag === `tag-${index % 3}` && message.keys[0] === `key-${index}`;
  return { index, store_timestamp: view.store_timestamp, properties: message.properties, view_ok };
}

async function until(condition: () => boolean, what: string, timeout_ms = 20_000): Promise<void> {
  const deadline = performance.now() + timeout_ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`${what} did not happen within ${timeout_ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

t.test('due messages go to their topic in order of time, not before it, with their content', async (t) => {
  const { store } = await openStore(t, { data_dir: tempDir(t), ...small_store });
  const now_ms = Date.now();
  const due = [now_ms + 900, now_ms + 300, now_ms - 5_000, now_ms + 600];
  const appended = await store.append(due.map((at, index) => scheduled(index, at)));
  await until(() => delivered(store.reader).length === due.length, 'four deliveries');
  const found = delivered(store.reader);
  t.same(found.map((item) => item.index), [2, 1, 3, 0], 'in order of due time (the past one first)');
  for (const item of found) {
    const due_ms = due[item.index] as number;
    t.ok(item.view_ok, `message ${item.index}: body, tag and keys are the sent ones`);
    t.ok(item.store_timestamp >= due_ms, `message ${item.index} stored at or after its time`);
    t.equal(item.properties[system_properties.deliver_at_ms], String(due_ms));
    const placement = appended.results[item.index];
    t.equal(item.properties[system_properties.schedule_offset], String(placement?.physical_offset), 'names its scheduled copy');
    t.equal(item.properties[system_properties.origin_message_id], encodeMessageId({ store_timestamp: placement?.store_timestamp ?? 0, store_ipv4: store.args.store_ipv4, store_port: store.args.store_port, commit_log_offset: placement?.physical_offset ?? 0 }), 'keeps the id the producer got');
    t.notOk(system_properties.real_topic in item.properties, 'REAL_TOPIC is not carried on');
  }
  const status = await store.wheel.ask({ kind: 'status' });
  t.match(status, { scheduled: 0, delivered: 4, read_queue_offset: 4, failed: 0 });
  t.equal(store.reader.window(schedule_topic, 0)?.max_offset, 4, 'the scheduled copies stay in the schedule queue');
});

t.test('a clean restart keeps what is scheduled and delivers each message once', async (t) => {
  const data_dir = tempDir(t);
  const system = await startActorSystem({ threads: 2 });
  t.teardown(() => system.stop());
  let store = await Store.open(system, { data_dir, ...small_store });
  const now_ms = Date.now();
  // Half due at once (delivered before the close), half after the restart.
  const count = 200;
  await store.append(Array.from({ length: count }, (_, index) => scheduled(index, index % 2 === 0 ? now_ms - 1 : now_ms + 1_500)));
  await until(() => delivered(store.reader).length >= count / 2, 'the due half');
  await store.close();
  store = await Store.open(system, { data_dir, ...small_store });
  t.teardown(() => store.close());
  await until(() => delivered(store.reader).length >= count, 'the other half after the restart');
  const status = await store.wheel.ask({ kind: 'status' });
  t.equal(status.scheduled, 0, 'nothing left in the wheel');
  await until(() => Date.now() > now_ms + 2_500, 'a moment past every due time');
  const found = delivered(store.reader);
  t.equal(found.length, count, 'each message delivered exactly once');
  t.same([...new Set(found.map((item) => item.index))].sort((a, b) => a - b), Array.from({ length: count }, (_, index) => index));
  const early = found.filter((item) => item.store_timestamp < (item.index % 2 === 0 ? now_ms - 1 : now_ms + 1_500));
  t.same(early.map((item) => [item.index, item.store_timestamp - now_ms]), [], 'none before its time');
});

t.test('retention keeps the segment of an undelivered scheduled message and deletes older ones', async (t) => {
  const data_dir = tempDir(t);
  const { store } = await openStore(t, { data_dir, ...small_store, retention_ms: 1, retention_check_interval_ms: 50 });
  const fill = async (first: number): Promise<void> => {
    for (let start = first; start < first + 2_500; start += 100) {
      await store.append(Array.from({ length: 100 }, (_, i) => record('Filler', 0, patternBody(start + i, 1_000))));
    }
  };
  await fill(0); // ~2.6 MiB: two whole 1 MiB segments before the scheduled message
  const later = await store.append([scheduled(0, Date.now() + 3_600_000)]);
  const scheduled_offset = later.results[0]?.physical_offset as number;
  await fill(2_500);
  const control = store_control.attach(store.args.control);
  const segment_bytes = small_store.commit_log_segment_bytes;
  const kept_from = scheduled_offset - (scheduled_offset % segment_bytes);
  t.ok(kept_from >= 2 * segment_bytes, 'whole segments lie before the scheduled message');
  // Retention (1 ms old is expired) deletes up to the segment holding the floor...
  await until(() => control.load('min_offset') === kept_from, 'retention of the segments before the scheduled message');
  // The floor the wheel published before it read the scheduled copy is lower (the log's end
  // then), never higher: it becomes the copy's offset once the wheel holds it.
  await until(() => control.load('retention_floor') === scheduled_offset, 'the floor at the scheduled copy');
  t.equal(control.load('retention_floor'), scheduled_offset, 'the floor is the scheduled copy');
  // ...and, over the next ten retention checks, nothing after it, though all of it is expired.
  const observe_until = performance.now() + 10 * 50;
  while (performance.now() < observe_until) {
    if (control.load('min_offset') !== kept_from) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  t.equal(control.load('min_offset'), kept_from, 'the segment holding it and those after it are kept');
  t.equal(store.reader.readRecord(scheduled_offset).topic, schedule_topic, 'the scheduled copy is readable');
});

t.test('a delivery the store refuses (disk full) is retried, not lost, and not doubled', async (t) => {
  const data_dir = tempDir(t);
  const system = await startActorSystem({ threads: 2 });
  t.teardown(() => system.stop());
  let store = await Store.open(system, { data_dir, ...small_store });
  await store.append([scheduled(0, Date.now() + 800)]);
  await store.close();
  // A high-water mark below what this disk uses: every append is refused, the delivery too.
  store = await Store.open(system, { data_dir, ...small_store, disk_high_water_ratio: 0.01, retention_check_interval_ms: 50 });
  let status = await store.wheel.ask({ kind: 'status' });
  for (let attempt = 0; attempt < 500 && status.failed === 0; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    status = await store.wheel.ask({ kind: 'status' });
  }
  t.equal(status.failed, 1, 'the due message waits as failed');
  t.equal(status.delivered, 0);
  t.equal(delivered(store.reader).length, 0, 'nothing reached the topic');
  await store.close();
  store = await Store.open(system, { data_dir, ...small_store });
  t.teardown(() => store.close());
  await until(() => delivered(store.reader).length === 1, 'the delivery once the disk has room');
  status = await store.wheel.ask({ kind: 'status' });
  t.match(status, { failed: 0, scheduled: 0, delivered: 1 });
  t.equal(delivered(store.reader)[0]?.index, 0);
});

t.test('a cut of the log cuts the wheel\'s log with the schedule queue: what the next mastership schedules is delivered', async (t) => {
  const data_dir = tempDir(t);
  const { store } = await openStore(t, { data_dir, ...small_store });
  const later_ms = Date.now() + 600_000;
  const appended = await store.append(Array.from({ length: 10 }, (_, index) => scheduled(index, later_ms)));
  await until(() => store.reader.window(schedule_topic, 0)?.max_offset === 10, 'ten in the schedule queue');
  const read = async (): Promise<number> => (await store.wheel.ask({ kind: 'status' })).read_queue_offset;
  const deadline_ms = performance.now() + 20_000;
  while ((await read()) < 10 && performance.now() < deadline_ms) await new Promise((resolve) => setTimeout(resolve, 10));
  t.equal(await read(), 10, 'the wheel logged all ten');

  // As a master that stepped down and rejoins: its log is cut before the sixth.
  await store.demote('', 1);
  await store.truncateTo(appended.results[5]?.physical_offset as number);
  t.equal(store.reader.window(schedule_topic, 0)?.max_offset, 5, 'the schedule queue ends at 5');
  const entries: number[] = [];
  new WheelLog(wheelLogDir(data_dir)).load((index) => entries.push(index));
  t.same(entries, [0, 1, 2, 3, 4], 'and so does the wheel\'s log');

  // Promoted again: three due now take schedule queue offsets 5..7 and are delivered.
  await store.promote(1);
  await store.append([100, 101, 102].map((index) => scheduled(index, Date.now() - 1)));
  await until(() => delivered(store.reader).length === 3, 'the three due ones delivered');
  t.same(delivered(store.reader).map((item) => item.index).sort(), [100, 101, 102]);
  t.match(await store.wheel.ask({ kind: 'status' }), { scheduled: 5, read_queue_offset: 8 }, 'the five before the cut still wait for their time');
});
