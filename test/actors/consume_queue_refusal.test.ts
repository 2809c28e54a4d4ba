import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Store } from '../../src/actors/store/store.js';
import { consume_queue_entry_bytes } from '../../src/storage/consume_queue_entry.js';
import { consumeQueueDir } from '../../src/storage/storage_paths.js';
import { startActorSystem } from '../helpers/actor_systems.js';
import { tempDir } from '../storage/commit_log_helpers.js';
import { openStore, pullAll, record, small_store, untilDispatched } from './store_helpers.js';

/**
 * A ConsumeQueue whose entries disagree with the CommitLog takes no more entries, says so in
 * the store's count (the node's health), and keeps serving what it holds; the other queues go
 * on. Here the disagreement is made by hand: one entry's tag hash changed on disk, which the
 * dispatch actor's re-sent entries after a restart no longer match.
 */

const topic = 'Audit';

function bodyOf(index: number): Buffer {
  return Buffer.from(`audit record ${index} `.repeat(1 + (Math.abs(index) % 5)));
}

t.test('a queue that disagrees with the CommitLog refuses entries, counted, and serves what it holds; the other queues go on', async (t) => {
  const dir = tempDir(t);
  {
    const system = await startActorSystem({ threads: 2 });
    const store = await Store.open(system, { data_dir: dir, ...small_store });
    // Queue 1's only record comes first: after a restart dispatch resumes at its end, and so
    // sends queue 0's entries again, each checked against what queue 0 holds.
    await store.append([record(topic, 1, bodyOf(-1))]);
    await store.append(Array.from({ length: 10 }, (_, index) => record(topic, 0, bodyOf(index))));
    await untilDispatched(store.reader, topic, 0, 10);
    t.equal(store.queuesRefusing(), 0, 'no queue refuses while they agree');
    await store.close();
    await system.stop();
  }
  const queue_file = path.join(consumeQueueDir(dir, topic, 0), '0'.repeat(20));
  const bytes = fs.readFileSync(queue_file);
  const tag_hash_at = 5 * consume_queue_entry_bytes + 12;
  bytes.writeUInt32LE(bytes.readUInt32LE(tag_hash_at) ^ 0x5a5a5a5a, tag_hash_at);
  fs.writeFileSync(queue_file, bytes);

  const { store } = await openStore(t, { data_dir: dir, ...small_store });
  const deadline = performance.now() + 20_000;
  while (store.queuesRefusing() === 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  t.equal(store.queuesRefusing(), 1, 'queue 0 refuses: its entry 5 differs from the record dispatch sends again');

  const appended = await store.append([record(topic, 0, bodyOf(10)), record(topic, 1, bodyOf(-2))]);
  t.same(appended.results.map((result) => result.queue_offset), [10, 1], 'the CommitLog still takes records of both queues');
  await untilDispatched(store.reader, topic, 1, 2);
  t.same(pullAll(store.reader, topic, 1).bodies, [bodyOf(-1), bodyOf(-2)], 'queue 1 goes on');
  t.equal(store.reader.window(topic, 0)?.max_offset, 10, 'queue 0 took no entry after the disagreement');
  t.same(pullAll(store.reader, topic, 0).bodies, Array.from({ length: 10 }, (_, index) => bodyOf(index)), 'and serves the ten it holds, bytes equal');
  t.equal(store.queuesRefusing(), 1, 'still counted');
});
