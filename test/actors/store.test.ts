import t from 'tap';
import { type ActorSystem } from '../../src/runtime/actor_system.js';
import { startActorSystem } from '../helpers/actor_systems.js';
import { Store } from '../../src/actors/store/store.js';
import { patternBody, tempDir } from '../storage/commit_log_helpers.js';
import { openStore, pullAll, record, small_store, untilDispatched } from './store_helpers.js';


const topics = ['orders', 'payments'];
const queues = 4;

function bodyOf(index: number): Buffer {
  return patternBody(index, 16 + (index % 300));
}

t.test('append through the writer actor, read back through ConsumeQueues on the main thread', async (t) => {
  const dir = tempDir(t);
  const { store } = await openStore(t, { data_dir: dir, ...small_store });
  const total = 20_000;
  const expected = new Map<string, Buffer[]>();
  for (let start = 0; start < total; start += 50) {
    const batch = [];
    for (let index = start; index < start + 50; index++) {
      const topic = topics[index % 2] as string;
      const queue_id = index % queues;
      batch.push(record(topic, queue_id, bodyOf(index)));
      const key = `${topic}/${queue_id}`;
      expected.set(key, [...(expected.get(key) ?? []), bodyOf(index)]);
    }
    const reply = await store.append(batch);
    if (reply.status !== 'PUT_OK' || reply.results.length !== 50) t.fail(`batch at ${start}: ${reply.status}`);
  }
  for (const [key, bodies] of expected) {
    const [topic, queue] = key.split('/') as [string, string];
    await untilDispatched(store.reader, topic, Number(queue), bodies.length);
    const pulled = pullAll(store.reader, topic, Number(queue));
    t.equal(pulled.bodies.length, bodies.length, `${key}: every record pulled`);
    t.ok(pulled.bodies.every((body, index) => body.equals(bodies[index] as Buffer)), `${key}: bytes equal, in order`);
    t.same(pulled.offsets, bodies.map((_, index) => index), `${key}: queue offsets 0..n-1`);
  }
});

t.test('a clean restart serves the same data and continues the queue offsets', async (t) => {
  const dir = tempDir(t);
  {
    const system = await startActorSystem({ threads: 2 });
    const store = await Store.open(system, { data_dir: dir, ...small_store });
    for (let start = 0; start < 3_000; start += 100) {
      await store.append(Array.from({ length: 100 }, (_, i) => record('T', (start + i) % 2, bodyOf(start + i))));
    }
    await untilDispatched(store.reader, 'T', 1, 1_500);
    await store.close();
    await system.stop();
  }
  const { store } = await openStore(t, { data_dir: dir, ...small_store });
  await untilDispatched(store.reader, 'T', 0, 1_500);
  const before = pullAll(store.reader, 'T', 0);
  t.equal(before.bodies.length, 1_500);
  t.ok(before.bodies.every((body, i) => body.equals(bodyOf(i * 2))), 'bytes equal after restart');
  const reply = await store.append([record('T', 0, Buffer.from('after restart'))]);
  t.equal(reply.results[0]?.queue_offset, 1_500, 'queue offsets continue');
  await untilDispatched(store.reader, 'T', 0, 1_501);
  t.equal(store.reader.pull('T', 0, 1_500, { max_count: 1 }).records[0]?.body.toString(), 'after restart');
});

t.test('sync flush: the acknowledgement comes after the flush covers the batch', async (t) => {
  const dir = tempDir(t);
  const { store } = await openStore(t, { data_dir: dir, ...small_store, flush_mode: 'sync' });
  const replies = await Promise.all(Array.from({ length: 64 }, (_, writer) => store.append([record('S', writer % 4, bodyOf(writer))])));
  t.ok(replies.every((reply) => reply.status === 'PUT_OK'), '64 concurrent writers all acknowledged PUT_OK');
  const { store_control } = await import('../../src/storage/store_control.js');
  const control = store_control.attach(store.args.control);
  const last_end = Math.max(...replies.map((reply) => reply.write_offset));
  t.ok(control.load('flush_offset') >= last_end, 'the flush offset covers every acknowledged byte');
  await untilDispatched(store.reader, 'S', 0, 16);
  t.equal(pullAll(store.reader, 'S', 0).bodies.length, 16);
});
