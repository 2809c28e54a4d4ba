import { rmSync, statfsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { ManualClock } from '../../src/runtime/clock.js';
import { MqError } from '../../src/runtime/errors.js';
import { DiskFaultProbe, disk_fault_limits, parseDiskFault } from '../../src/storage/disk_fault_probe.js';
import { DiskGuard, disk_usage_limits, type DiskBlocks } from '../../src/storage/disk_usage.js';
import { tempDir } from './commit_log_helpers.js';

/**
 * The disk fault probe: the `disk_fault` file's text, how often the file is read (on an
 * injected clock), and the statfs it wraps for the disk guard.
 */

const quiet_log = pino({ level: 'silent' });

t.test('parseDiskFault: slow <ms>, full, and anything else no fault', async (t) => {
  t.same(parseDiskFault('slow 200'), { kind: 'slow', delay_ms: 200 });
  t.same(parseDiskFault('slow 1'), { kind: 'slow', delay_ms: 1 });
  t.same(parseDiskFault('  slow   75 \n'), { kind: 'slow', delay_ms: 75 }, 'spaces and a newline around');
  t.same(parseDiskFault('slow 0'), { kind: 'none' }, 'no delay: no fault');
  t.same(parseDiskFault('slow -5'), { kind: 'none' });
  t.same(parseDiskFault('slow 2.5'), { kind: 'none' }, 'whole milliseconds only');
  t.same(parseDiskFault('slow abc'), { kind: 'none' });
  t.same(parseDiskFault('slow'), { kind: 'none' }, 'slow needs its delay');
  t.same(parseDiskFault('full'), { kind: 'full' });
  t.same(parseDiskFault('  full\n'), { kind: 'full' });
  t.same(parseDiskFault(''), { kind: 'none' });
  t.same(parseDiskFault('\n'), { kind: 'none' });
  t.same(parseDiskFault('garbage'), { kind: 'none' });
  t.same(parseDiskFault('FULL'), { kind: 'none' }, 'the words are lower case');
  t.same(parseDiskFault('\u0000\u00ff\ufffd'), { kind: 'none' }, 'binary junk');
  t.same(parseDiskFault(`slow ${disk_fault_limits.slow_ms_max}`), { kind: 'slow', delay_ms: disk_fault_limits.slow_ms_max });
  t.same(parseDiskFault(`slow ${disk_fault_limits.slow_ms_max + 1}`), { kind: 'slow', delay_ms: disk_fault_limits.slow_ms_max }, 'cut to the maximum');
  t.same(parseDiskFault('slow 999999999999'), { kind: 'slow', delay_ms: 60_000 }, 'a huge delay is cut to 60 s');
});

t.test('DiskFaultProbe: reads the file at most once per refresh interval on its clock', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, disk_fault_limits.file_name);
  const clock = new ManualClock(5_000);
  const probe = new DiskFaultProbe(dir, clock);
  const interval_ms = disk_fault_limits.refresh_interval_ms;

  t.same(probe.current(), { kind: 'none' }, 'no file: no fault');
  writeFileSync(file, 'full');
  t.same(probe.current(), { kind: 'none' }, 'written: the cached answer until the interval passes');
  clock.advance(interval_ms - 1);
  t.same(probe.current(), { kind: 'none' }, '1 ms before the interval: still cached');
  clock.advance(1);
  t.same(probe.current(), { kind: 'full' }, 'at the interval: read again');

  writeFileSync(file, 'slow 200\n');
  clock.advance(interval_ms - 1);
  t.same(probe.current(), { kind: 'full' }, 'changed: still the cached answer');
  clock.advance(1);
  t.same(probe.current(), { kind: 'slow', delay_ms: 200 }, 'then the new one');

  rmSync(file);
  t.same(probe.current(), { kind: 'slow', delay_ms: 200 }, 'removed: still cached');
  clock.advance(interval_ms);
  t.same(probe.current(), { kind: 'none' }, 'removed: no fault after the interval');

  writeFileSync(file, 'nonsense');
  clock.advance(interval_ms);
  t.same(probe.current(), { kind: 'none' }, 'a file that names no fault: none');
});

t.test('DiskFaultProbe: a data directory that does not exist is no fault', async (t) => {
  const probe = new DiskFaultProbe(path.join(tempDir(t), 'missing', 'deeper'), new ManualClock(0));
  t.same(probe.current(), { kind: 'none' });
});

t.test('DiskFaultProbe.statfs: a full file system while the probe says full, the wrapped answer otherwise', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, disk_fault_limits.file_name);
  const clock = new ManualClock(1_000);
  const probe = new DiskFaultProbe(dir, clock);
  // Half full, and counts its calls: a full answer must not come from here.
  const half_full: DiskBlocks = { blocks: 1_000, bfree: 500, bavail: 500, bsize: 4_096 };
  const asked: string[] = [];
  const statfs = probe.statfs((directory) => {
    asked.push(directory);
    return half_full;
  });
  // The longer of the two intervals: after it, both the guard and the probe look again.
  const step_ms = Math.max(disk_usage_limits.refresh_interval_ms, disk_fault_limits.refresh_interval_ms);
  const guard = new DiskGuard({ directory: dir, statfs, clock, log: quiet_log });

  t.equal(statfs(dir), half_full, 'no fault: the wrapped function\'s answer itself');
  t.same(asked, [dir], 'asked about the directory given');
  t.doesNotThrow(() => guard.checkWritable(), 'a half-full disk takes appends');
  t.equal(guard.usage().used_ratio, 0.5);

  writeFileSync(file, 'full');
  clock.advance(step_ms);
  const full = statfs(dir);
  t.equal(full.bavail, 0, 'full: no block available');
  t.equal(full.bfree, 0);
  t.ok(full.blocks > 0, 'in a file system that has blocks');
  t.same(asked, [dir, dir], 'the wrapped function not asked while full (only the guard\'s first measurement)');
  let refusal: unknown;
  try {
    guard.checkWritable();
  } catch (error) {
    refusal = error;
  }
  t.ok(refusal instanceof MqError, 'the guard refuses the append');
  t.equal((refusal as MqError).code, 'BROKER_UNAVAILABLE');
  t.equal((refusal as MqError).retriable, true);
  t.match((refusal as MqError).message, /disk 100% full/);
  t.equal(guard.usage().refusing, true);

  rmSync(file);
  clock.advance(step_ms);
  t.doesNotThrow(() => guard.checkWritable(), 'the fault cleared: appends taken again');
  t.equal(guard.usage().used_ratio, 0.5, 'measured by the wrapped function again');
  t.equal(statfs(dir), half_full);
});

t.test('DiskFaultProbe.statfs around the real statfsSync: its answer passes through', async (t) => {
  const dir = tempDir(t);
  const probe = new DiskFaultProbe(dir, new ManualClock(0));
  const wrapped = probe.statfs((directory) => statfsSync(directory));
  const through = wrapped(dir);
  const real = statfsSync(dir);
  t.equal(through.bsize, real.bsize, 'the real block size');
  t.equal(through.blocks, real.blocks, 'the real block count');
  t.ok(through.bavail <= through.bfree && through.bfree <= through.blocks, `the real free blocks (${through.bavail} of ${through.blocks})`);
});
