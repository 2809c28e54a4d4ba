import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { ManualClock } from '../../src/runtime/clock.js';
import type { MqError } from '../../src/runtime/errors.js';
import { decodeCheckpoint, emptyCheckpointState, encodeCheckpoint, StoreCheckpoint, type CheckpointState } from '../../src/storage/checkpoint.js';
import { DurableFile, durable_header_bytes } from '../../src/storage/durable_file.js';

/** The store checkpoint: round trip, dirty tracking, named positions, versions, damage. */

function tempDir(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mq-checkpoint-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const quiet_log = pino({ level: 'silent' });

/** Positions as a plain object, so that tap compares states by value. */
function plain(state: CheckpointState): Record<string, unknown> {
  return { ...state, positions: Object.fromEntries(state.positions) };
}

t.test('no file: undefined and an all-zero state', async (t) => {
  const checkpoint = new StoreCheckpoint({ path: path.join(tempDir(t), 'checkpoint') });
  t.equal(checkpoint.load(), undefined);
  t.same(plain(checkpoint.state), plain(emptyCheckpointState()));
  t.notOk(checkpoint.dirty);
  t.equal(checkpoint.persist(), false, 'nothing to write');
});

t.test('round trip: fixed fields, named positions, write time from the clock', async (t) => {
  const file_path = path.join(tempDir(t), 'checkpoint');
  const clock = new ManualClock(1_700_000_000_123);
  const checkpoint = new StoreCheckpoint({ path: file_path, clock });
  checkpoint.update({ commit_log_flushed_offset: 3 * 2 ** 32 + 17, consume_queue_flushed_offset: 1_048_576 });
  checkpoint.update({ last_flushed_store_timestamp_ms: 1_700_000_000_000 });
  checkpoint.setPosition('timing_wheel_flushed_offset', 42);
  checkpoint.setPosition('replica_confirmed_offset', Number.MAX_SAFE_INTEGER);
  t.ok(checkpoint.dirty);
  t.equal(checkpoint.persist(), true);
  t.notOk(checkpoint.dirty);

  const loaded = new StoreCheckpoint({ path: file_path }).load();
  t.same(loaded && plain(loaded), {
    commit_log_flushed_offset: 3 * 2 ** 32 + 17,
    consume_queue_flushed_offset: 1_048_576,
    last_flushed_store_timestamp_ms: 1_700_000_000_000,
    written_at_ms: 1_700_000_000_123,
    positions: { timing_wheel_flushed_offset: 42, replica_confirmed_offset: Number.MAX_SAFE_INTEGER },
  });
});

t.test('dirty only on change', async (t) => {
  const checkpoint = new StoreCheckpoint({ path: path.join(tempDir(t), 'checkpoint') });
  checkpoint.update({ commit_log_flushed_offset: 10 });
  checkpoint.setPosition('x', 1);
  checkpoint.persist();
  checkpoint.update({ commit_log_flushed_offset: 10 });
  checkpoint.setPosition('x', 1);
  t.notOk(checkpoint.dirty, 'the same values change nothing');
  checkpoint.update({ consume_queue_flushed_offset: 4 });
  t.ok(checkpoint.dirty);
  t.throws(() => checkpoint.update({ commit_log_flushed_offset: -1 }), { name: 'AssertionFailure' }, 'a negative position is a bug');
  t.throws(() => checkpoint.setPosition('Bad-Name', 1), { name: 'AssertionFailure' });
});

t.test('a position this version does not know is kept and written back', async (t) => {
  const file_path = path.join(tempDir(t), 'checkpoint');
  const newer = new StoreCheckpoint({ path: file_path });
  newer.setPosition('feature_from_the_future', 99);
  newer.update({ commit_log_flushed_offset: 5 });
  newer.persist();

  const older = new StoreCheckpoint({ path: file_path });
  older.load();
  older.update({ commit_log_flushed_offset: 6 });
  older.persist();
  const reloaded = new StoreCheckpoint({ path: file_path }).load();
  t.equal(reloaded?.positions.get('feature_from_the_future'), 99);
  t.equal(reloaded?.commit_log_flushed_offset, 6);
});

t.test('versions: version 1 bytes are fixed; a newer version is refused with what to do', async (t) => {
  const state = { ...emptyCheckpointState(), commit_log_flushed_offset: 1, consume_queue_flushed_offset: 2, last_flushed_store_timestamp_ms: 3, written_at_ms: 4, positions: new Map([['ab', 5]]) };
  const bytes = encodeCheckpoint(state);
  t.equal(
    bytes.toString('hex'),
    ['0000000000000001', '0000000000000002', '0000000000000003', '0000000000000004', '0001', '02', '6162', '0000000000000005'].join(''),
    'the documented version 1 layout',
  );
  t.same(plain(decodeCheckpoint(1, bytes)), plain(state));

  const file_path = path.join(tempDir(t), 'checkpoint');
  new DurableFile({ path: file_path, kind: 'CKPT' }).write(bytes, 2);
  const error = t.throws(() => new StoreCheckpoint({ path: file_path }).load()) as MqError;
  t.equal(error.code, 'INTERNAL');
  t.match(error.message, /checkpoint format version 2; this mq-node reads up to version 1\. It was written by a newer mq-node/);

  for (let length = 0; length < bytes.length; length++) {
    t.throws(() => decodeCheckpoint(1, bytes.subarray(0, length)), { code: 'INTERNAL' }, `truncated to ${length} bytes`);
  }
  t.throws(() => decodeCheckpoint(1, Buffer.concat([bytes, Buffer.from([7])])), { message: /1 bytes after the last position/ });
});

t.test('corruption is detected: the backup is used, or an error when both are damaged', async (t) => {
  const file_path = path.join(tempDir(t), 'checkpoint');
  const checkpoint = new StoreCheckpoint({ path: file_path });
  checkpoint.update({ commit_log_flushed_offset: 100 });
  checkpoint.persist();
  checkpoint.update({ commit_log_flushed_offset: 200 });
  checkpoint.persist();

  const damage = (file: string): void => {
    const bytes = readFileSync(file);
    bytes[durable_header_bytes + 7] = (bytes[durable_header_bytes + 7] ?? 0) ^ 0x80;
    writeFileSync(file, bytes);
  };
  damage(file_path);
  const restarted = new StoreCheckpoint({ path: file_path, log: quiet_log });
  t.equal(restarted.load()?.commit_log_flushed_offset, 100, 'the previous checkpoint, from the backup');
  t.ok(restarted.dirty, 'rewritten at the next persist');

  damage(file_path + '.bak');
  const error = t.throws(() => new StoreCheckpoint({ path: file_path, log: quiet_log }).load()) as MqError;
  t.equal(error.code, 'INTERNAL');
  t.match(error.message, /is damaged \(CRC mismatch.*its backup is damaged too \(CRC mismatch/);
});
