import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import t, { type Test } from 'tap';
import { MqError } from '../../src/runtime/errors.js';
import {
  decodeDurableFrame,
  DurableFile,
  durable_header_bytes,
  encodeDurableFrame,
  type DurableWriteStep,
} from '../../src/storage/durable_file.js';

/**
 * DurableFile on real files: round trips, a crash at every step of a write (a fault probe
 * that throws), a stale temp file, damage to the main file (bit flips, truncation) falling
 * back to the backup, and the frame decoder against every flipped bit and every truncation.
 */

function tempDir(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mq-durable-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A logger whose lines the test can read. */
function capturedLog(): { log: Logger; lines: () => Array<{ level: number; msg: string; problem?: string }> } {
  const written: string[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void written.push(line) });
  return { log, lines: () => written.map((line) => JSON.parse(line) as { level: number; msg: string; problem?: string }) };
}

const warn_level = 40;
const text = (value: string): Buffer => Buffer.from(value, 'utf8');

function flipByte(file_path: string, at: number): void {
  const bytes = readFileSync(file_path);
  bytes[at] = (bytes[at] ?? 0) ^ 0x5a;
  writeFileSync(file_path, bytes);
}

t.test('a missing file is no data yet', async (t) => {
  const dir = tempDir(t);
  t.equal(new DurableFile({ path: path.join(dir, 'absent'), kind: 'TEST' }).read(), undefined);
  t.equal(new DurableFile({ path: path.join(dir, 'no', 'such', 'dir', 'file'), kind: 'TEST' }).read(), undefined, 'nor is a missing directory an error');
});

t.test('round trip: content, version, source; directories created', async (t) => {
  const dir = tempDir(t);
  const file_path = path.join(dir, 'a', 'b', 'state');
  const writer = new DurableFile({ path: file_path, kind: 'TEST' });
  writer.write(text('first version'), 3);
  const read = new DurableFile({ path: file_path, kind: 'TEST' }).read();
  t.same({ content: read?.content.toString(), content_version: read?.content_version, source: read?.source }, { content: 'first version', content_version: 3, source: 'main' });

  writer.write(new Uint8Array(0), 0);
  const empty = new DurableFile({ path: file_path, kind: 'TEST' }).read();
  t.equal(empty?.content.length, 0, 'empty content round-trips');
  t.equal(readFileSync(file_path).length, durable_header_bytes, 'an empty content is just the header');
  t.notOk(existsSync(file_path + '.tmp'), 'no temp file left behind');
});

t.test('the writer keeps the previous good version as .bak', async (t) => {
  const dir = tempDir(t);
  const file_path = path.join(dir, 'state');
  const writer = new DurableFile({ path: file_path, kind: 'TEST' });
  writer.write(text('one'), 1);
  t.notOk(existsSync(file_path + '.bak'), 'the first write has nothing to back up');
  writer.write(text('two'), 1);
  writer.write(text('three'), 1);
  const backup = decodeDurableFrame(readFileSync(file_path + '.bak'), 'TEST');
  t.ok(backup.ok && backup.content.toString() === 'two', 'the backup holds the version before the current one');
  t.equal(new DurableFile({ path: file_path, kind: 'TEST' }).read()?.content.toString(), 'three');

  // A writer that read the main file first trusts it as a backup on its first write.
  const restarted = new DurableFile({ path: file_path, kind: 'TEST' });
  restarted.read();
  restarted.write(text('four'), 1);
  const after_restart = decodeDurableFrame(readFileSync(file_path + '.bak'), 'TEST');
  t.ok(after_restart.ok && after_restart.content.toString() === 'three');
});

t.test('a crash between writing the temp file and the rename leaves the old content', async (t) => {
  const dir = tempDir(t);
  const file_path = path.join(dir, 'state');
  new DurableFile({ path: file_path, kind: 'TEST' }).write(text('old'), 1);
  // What a crash leaves: a half-written temp file beside the intact main file.
  const half_written = encodeDurableFrame('TEST', 1, text('new content that never landed')).subarray(0, 25);
  writeFileSync(file_path + '.tmp', half_written);

  const reader = new DurableFile({ path: file_path, kind: 'TEST' });
  t.same({ content: reader.read()?.content.toString(), source: reader.read()?.source }, { content: 'old', source: 'main' });
  reader.write(text('next'), 1);
  t.equal(new DurableFile({ path: file_path, kind: 'TEST' }).read()?.content.toString(), 'next', 'the next write replaces the stale temp file');
  t.notOk(existsSync(file_path + '.tmp'));
});

t.test('a crash at every step of a write leaves the old or the new content, and the next write succeeds', async (t) => {
  const steps: DurableWriteStep[] = ['tmp_written', 'tmp_synced', 'backup_linked', 'backup_replaced', 'renamed'];
  const dir = tempDir(t);
  for (const step of steps) {
    const file_path = path.join(dir, step);
    let armed = false;
    const writer = new DurableFile({
      path: file_path,
      kind: 'TEST',
      fault_probe: (at) => {
        if (armed && at === step) throw new Error(`crash at ${at}`);
      },
    });
    writer.write(text('v1'), 1);
    writer.write(text('v2'), 1); // so that the third write has a backup step
    armed = true;
    t.throws(() => writer.write(text('v3'), 1), { message: `crash at ${step}` });

    const expected = step === 'renamed' ? 'v3' : 'v2';
    const after = new DurableFile({ path: file_path, kind: 'TEST' });
    const read = after.read();
    t.same({ content: read?.content.toString(), source: read?.source }, { content: expected, source: 'main' }, `crash after ${step}: main holds ${expected}`);
    after.write(text('v4'), 1);
    t.equal(new DurableFile({ path: file_path, kind: 'TEST' }).read()?.content.toString(), 'v4', `after a crash at ${step} the file is writable`);
    t.notOk(existsSync(file_path + '.tmp') || existsSync(file_path + '.bak.tmp'), 'leftovers are cleaned by the next write');
  }
});

t.test('a corrupted main file falls back to .bak and says so in the log', async (t) => {
  const dir = tempDir(t);
  const file_path = path.join(dir, 'state');
  const writer = new DurableFile({ path: file_path, kind: 'TEST' });
  writer.write(text('good old'), 1);
  writer.write(text('good new'), 1);
  flipByte(file_path, durable_header_bytes + 2);

  const { log, lines } = capturedLog();
  const reader = new DurableFile({ path: file_path, kind: 'TEST', log });
  const read = reader.read();
  t.same({ content: read?.content.toString(), source: read?.source }, { content: 'good old', source: 'backup' });
  const warnings = lines().filter((line) => line.level === warn_level);
  t.equal(warnings.length, 1, 'one warning');
  t.match(warnings[0]?.problem, /CRC mismatch/);
  t.match(warnings[0]?.msg, /using its backup/);

  // The damaged main file is not trusted as a backup: the next write replaces it and keeps the good .bak.
  reader.write(text('repaired'), 1);
  const backup = decodeDurableFrame(readFileSync(file_path + '.bak'), 'TEST');
  t.ok(backup.ok && backup.content.toString() === 'good old', 'the good backup survives the repair');
  t.same(new DurableFile({ path: file_path, kind: 'TEST' }).read()?.source, 'main');
});

t.test('a truncated file is detected: backup used, or an error when there is none', async (t) => {
  const dir = tempDir(t);
  const file_path = path.join(dir, 'state');
  const writer = new DurableFile({ path: file_path, kind: 'TEST' });
  writer.write(text('first'), 1);
  writer.write(text('second, longer'), 1);
  truncateSync(file_path, readFileSync(file_path).length - 3);
  const { log, lines } = capturedLog();
  t.equal(new DurableFile({ path: file_path, kind: 'TEST', log }).read()?.content.toString(), 'first');
  t.match(lines()[0]?.problem, /truncated/);

  const lone_path = path.join(dir, 'lone');
  new DurableFile({ path: lone_path, kind: 'TEST' }).write(text('only copy'), 1);
  truncateSync(lone_path, 7);
  const error = t.throws(() => new DurableFile({ path: lone_path, kind: 'TEST' }).read()) as MqError;
  t.equal(error.code, 'INTERNAL');
  t.match(error.message, /is damaged \(truncated: 7 bytes.*there is no backup.*Restore the file/);

  truncateSync(lone_path, 0);
  t.throws(() => new DurableFile({ path: lone_path, kind: 'TEST' }).read(), { code: 'INTERNAL' }, 'an empty file is damaged, not missing');
});

t.test('main missing with a backup present: the backup is used; both damaged: an error', async (t) => {
  const dir = tempDir(t);
  const file_path = path.join(dir, 'state');
  const writer = new DurableFile({ path: file_path, kind: 'TEST' });
  writer.write(text('a'), 1);
  writer.write(text('b'), 1);
  rmSync(file_path);
  const { log } = capturedLog();
  t.same(new DurableFile({ path: file_path, kind: 'TEST', log }).read()?.source, 'backup');

  flipByte(file_path + '.bak', 0);
  const error = t.throws(() => new DurableFile({ path: file_path, kind: 'TEST', log }).read()) as MqError;
  t.match(error.message, /is missing and its backup is damaged too \(not a durable file/);
});

t.test('a file of another kind is refused', async (t) => {
  const dir = tempDir(t);
  const file_path = path.join(dir, 'state');
  new DurableFile({ path: file_path, kind: 'AAAA' }).write(text('x'), 1);
  const error = t.throws(() => new DurableFile({ path: file_path, kind: 'BBBB' }).read()) as MqError;
  t.match(error.message, /a "AAAA" file where a "BBBB" file belongs/);
});

t.test('frame decoder: every flipped bit and every truncation is detected', async (t) => {
  const frame = encodeDurableFrame('TEST', 7, text('hello, disk'));
  const decoded = decodeDurableFrame(frame, 'TEST');
  t.ok(decoded.ok && decoded.content_version === 7 && decoded.content.toString() === 'hello, disk');

  let undetected = 0;
  for (let bit = 0; bit < frame.length * 8; bit++) {
    const damaged = Buffer.from(frame);
    damaged[bit >> 3] = (damaged[bit >> 3] ?? 0) ^ (1 << (bit & 7));
    if (decodeDurableFrame(damaged, 'TEST').ok) undetected++;
  }
  t.equal(undetected, 0, `all ${frame.length * 8} single-bit flips detected`);

  for (let length = 0; length < frame.length; length++) {
    if (decodeDurableFrame(frame.subarray(0, length), 'TEST').ok) undetected++;
  }
  t.equal(undetected, 0, 'every truncation detected');
  const longer = decodeDurableFrame(Buffer.concat([frame, Buffer.from([0])]), 'TEST');
  t.ok(!longer.ok && /unexpected bytes/.test(longer.problem), 'a trailing byte is detected');
});
