import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { LocalOffsetStore } from '../../src/client/consumer/local_offset_store.js';

/** A broadcasting member's offset file: round trip, atomic rewrite, the lock, damaged files. */

function tempDir(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mq-local-offsets-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const queue = (queueId: number) => ({ topic: 'T', brokerName: 'broker-a', queueId });

t.test('offsets round-trip through the file; unchanged tables are not rewritten', async (t) => {
  const dir = tempDir(t);
  const store = new LocalOffsetStore(dir, 'G', 'member-1');
  await store.open();
  t.equal(await store.read(queue(0)), -1, 'a new member has no offset');
  store.update(queue(0), 5);
  store.update(queue(1), 9);
  t.same((await store.persist()).map((entry) => entry.offset), [5, 9], 'persist reports what it wrote');
  t.same(await store.persist(), [], 'nothing changed: nothing written');
  store.update(queue(1), 9);
  t.same(await store.persist(), [], 'the same offset again is no change');
  await store.close();
  t.notOk(existsSync(`${store.file}.lock`), 'close removes the lock');
  t.same(JSON.parse(readFileSync(store.file, 'utf8')), { version: 1, group: 'G', offsets: { 'T@broker-a@0': 5, 'T@broker-a@1': 9 } });

  const again = new LocalOffsetStore(dir, 'G', 'member-1');
  await again.open();
  t.equal(await again.read(queue(1)), 9, 'a restarted member reads its file');
  await again.close();
});

t.test('the lock: refused while a live process holds it, taken over from a dead one', async (t) => {
  const dir = tempDir(t);
  const first = new LocalOffsetStore(dir, 'G', 'shared');
  await first.open();
  await t.rejects(new LocalOffsetStore(dir, 'G', 'shared').open(), { code: 'BAD_REQUEST', message: /in this process/ });
  await first.close();

  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  const dead_pid = Number(dead.stdout.toString());
  writeFileSync(`${first.file}.lock`, String(dead_pid));
  const taker = new LocalOffsetStore(dir, 'G', 'shared');
  await taker.open();
  t.equal(readFileSync(`${first.file}.lock`, 'utf8'), String(process.pid), "a dead process's lock is taken over");
  await taker.close();

  writeFileSync(`${first.file}.lock`, String(process.ppid));
  await t.rejects(new LocalOffsetStore(dir, 'G', 'shared').open(), { code: 'BAD_REQUEST', message: new RegExp(`process ${process.ppid}`) }, 'a live process keeps its lock');
  rmSync(`${first.file}.lock`);
});

t.test('a damaged file is a clear error, not offsets made up', async (t) => {
  const dir = tempDir(t);
  const store = new LocalOffsetStore(dir, 'G', 'm');
  await store.open();
  await store.close();
  writeFileSync(store.file, '{"version":1,"offs');
  await t.rejects(new LocalOffsetStore(dir, 'G', 'm').open(), { code: 'BAD_REQUEST', message: /not JSON; move it away/ });
  writeFileSync(store.file, '{"version":7,"offsets":{}}');
  await t.rejects(new LocalOffsetStore(dir, 'G', 'm').open(), { code: 'BAD_REQUEST', message: /version 1/ });
});
