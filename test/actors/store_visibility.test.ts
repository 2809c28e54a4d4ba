import t from 'tap';
import { StoreReader } from '../../src/storage/store_reader.js';
import { store_control } from '../../src/storage/store_control.js';
import { ha_roles } from '../../src/actors/replicator/replicator_messages.js';
import { tempDir } from '../storage/commit_log_helpers.js';
import { openStore, record, small_store, untilDispatched } from './store_helpers.js';

/**
 * What a consumer's reader serves under `replicated` visibility (sync replication), against a
 * real store whose control block the test sets as the replicator would: a master serves up
 * to the replicated end; a slave whose link to its master has streamed serves all it holds;
 * a slave whose link has not — a master that stepped down and may cut its unreplicated tail,
 * or a broker just started — serves no more than the replicated end it last knew. The
 * `written` reader (async replication) serves everything throughout.
 */

const visibility_test = { topic: 'Visible', records: 10, replicated_records: 4 } as const;

t.test('the readable window follows the replicated end, the role and the link', async (t) => {
  const { store } = await openStore(t, { data_dir: tempDir(t), ...small_store });
  await store.append(Array.from({ length: visibility_test.records }, (_, index) => record(visibility_test.topic, 0, Buffer.from(`message ${index}`))));
  await untilDispatched(store.reader, visibility_test.topic, 0, visibility_test.records);
  const written = store.reader.pull(visibility_test.topic, 0, 0, { max_count: 32 }).records;
  t.equal(written.length, visibility_test.records, 'the written reader serves every record');
  const replicated_end = (written[visibility_test.replicated_records - 1]?.physical_offset ?? 0) + (written[visibility_test.replicated_records - 1]?.total_size ?? 0);

  const reader = new StoreReader({ ...store.args, consumer_visibility: 'replicated' });
  t.teardown(() => reader.close());
  const control = store_control.attach(store.args.control);
  const saved = { role: control.load('ha_role'), replicated: control.load('replicated_offset'), aligned: control.load('ha_aligned') };
  t.teardown(() => {
    control.store('ha_role', saved.role);
    control.store('replicated_offset', saved.replicated);
    control.store('ha_aligned', saved.aligned);
  });
  const served = (): string[] => reader.pull(visibility_test.topic, 0, 0, { max_count: 32 }).records.map((view) => view.body.toString());
  const bodies = (count: number): string[] => Array.from({ length: count }, (_, index) => `message ${index}`);

  control.store('ha_role', ha_roles.master);
  control.store('replicated_offset', replicated_end);
  t.same(served(), bodies(visibility_test.replicated_records), 'a master: the records its slaves hold, not the rest');
  t.same(reader.window(visibility_test.topic, 0), { min_offset: 0, max_offset: visibility_test.replicated_records }, 'its window ends there too (long polls and max offsets agree)');

  control.store('ha_role', ha_roles.slave);
  control.store('ha_aligned', 0);
  t.same(served(), bodies(visibility_test.replicated_records), 'stepped down, not yet aligned with the new master: still only what was replicated');
  control.store('ha_aligned', 1);
  t.same(served(), bodies(visibility_test.records), 'a slave whose link streamed: everything it holds');

  control.store('ha_aligned', 0);
  control.store('replicated_offset', 0);
  t.same(served(), [], 'just started, never led: nothing until the link streams');
  t.equal(store.reader.pull(visibility_test.topic, 0, 0, { max_count: 32 }).records.length, visibility_test.records, 'the written reader is not gated');
});
