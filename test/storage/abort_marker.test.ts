import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { AbortMarker } from '../../src/storage/abort_marker.js';
import { abortMarkerPath } from '../../src/storage/storage_paths.js';

/** The abort marker tells a start after a crash (marker left behind) from one after a clean stop. */

function tempDir(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mq-abort-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('first start: no previous run, the marker exists while running', async (t) => {
  const data_dir = path.join(tempDir(t), 'data', 'not-yet-created');
  const marker = new AbortMarker(abortMarkerPath(data_dir));
  t.notOk(marker.exists());
  t.equal(marker.create(), false, 'nothing crashed before the first start');
  t.ok(marker.exists());
  t.match(JSON.parse(readFileSync(marker.path, 'utf8')), { pid: process.pid }, 'the marker says which process runs');
});

t.test('a crash leaves the marker: the next create answers true', async (t) => {
  const data_dir = tempDir(t);
  new AbortMarker(abortMarkerPath(data_dir)).create();
  // The process "dies" here: nobody calls remove(). A new process starts:
  const next_run = new AbortMarker(abortMarkerPath(data_dir));
  t.equal(next_run.create(), true, 'the previous run crashed: recovery must scan');
  t.ok(next_run.exists());
  // A crash during that recovery is also seen by the run after it.
  t.equal(new AbortMarker(abortMarkerPath(data_dir)).create(), true);
});

t.test('a clean stop removes the marker: the next create answers false', async (t) => {
  const data_dir = tempDir(t);
  const marker = new AbortMarker(abortMarkerPath(data_dir));
  marker.create();
  marker.remove();
  t.notOk(existsSync(abortMarkerPath(data_dir)));
  t.equal(new AbortMarker(abortMarkerPath(data_dir)).create(), false, 'the previous run stopped cleanly');
});

t.test('remove is idempotent, also without a data directory', async (t) => {
  const data_dir = tempDir(t);
  const marker = new AbortMarker(abortMarkerPath(data_dir));
  marker.remove();
  marker.create();
  marker.remove();
  marker.remove();
  t.notOk(marker.exists());
  new AbortMarker(abortMarkerPath(path.join(data_dir, 'missing'))).remove();
  t.pass('no error for a missing directory');
});
