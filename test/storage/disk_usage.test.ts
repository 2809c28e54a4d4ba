import { statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { pino } from 'pino';
import t from 'tap';
import { ManualClock } from '../../src/runtime/clock.js';
import type { MqError } from '../../src/runtime/errors.js';
import { DiskGuard, diskUsedRatio, disk_usage_limits, type DiskBlocks } from '../../src/storage/disk_usage.js';

/** The disk high-water guard against a simulated file system whose fullness the test sets. */

const quiet_log = pino({ level: 'silent' });

/** A file system of 1,000 blocks with `used` of them taken; counts every statfs call. */
function simulatedDisk(): { statfs: (directory: string) => DiskBlocks; setUsed: (used: number) => void; calls: () => number; fail: (on: boolean) => void } {
  let used = 0;
  let calls = 0;
  let failing = false;
  return {
    statfs: () => {
      calls++;
      if (failing) throw new Error('EIO: simulated');
      return { blocks: 1_000, bfree: 1_000 - used, bavail: 1_000 - used, bsize: 4096 };
    },
    setUsed: (value) => void (used = value),
    calls: () => calls,
    fail: (on) => void (failing = on),
  };
}

function refusal(guard: DiskGuard): MqError | undefined {
  try {
    guard.checkWritable();
    return undefined;
  } catch (error) {
    return error as MqError;
  }
}

t.test('used ratio as df shows it; a real statfs gives a ratio in [0, 1]', async (t) => {
  t.equal(diskUsedRatio({ blocks: 1000, bfree: 250, bavail: 250, bsize: 4096 }), 0.75);
  // 100 free blocks, 50 of them reserved for root: used 900 of the 950 users can have.
  t.equal(diskUsedRatio({ blocks: 1000, bfree: 100, bavail: 50, bsize: 4096 }), 900 / 950);
  t.equal(diskUsedRatio({ blocks: 0, bfree: 0, bavail: 0, bsize: 4096 }), 0, 'a file system without sizes is not guarded');
  const real = diskUsedRatio(statfsSync(tmpdir()));
  t.ok(real >= 0 && real <= 1, `real ratio ${real}`);
});

t.test('crossing the high-water mark refuses appends; only dropping below the low-water mark accepts them again', async (t) => {
  const disk = simulatedDisk();
  const clock = new ManualClock(1_000);
  const guard = new DiskGuard({ directory: '/data', statfs: disk.statfs, clock, log: quiet_log });
  const step = (used: number): MqError | undefined => {
    disk.setUsed(used);
    clock.advance(disk_usage_limits.refresh_interval_ms);
    return refusal(guard);
  };

  t.equal(step(500), undefined, '50%: writable');
  t.equal(step(900), undefined, 'exactly at the high-water mark: still writable (refused once past it)');
  const error = step(910);
  t.equal(error?.code, 'BROKER_UNAVAILABLE');
  t.equal(error?.retriable, true, 'the producer may send to another broker group');
  t.equal(error?.message, 'disk 91% full, high-water 90%: appends refused, reads continue; free space or raise --disk-high-water (appends resume below 85%)');
  t.equal(step(870)?.message, 'disk 87% full, high-water 90%: appends refused, reads continue; free space or raise --disk-high-water (appends resume below 85%)', 'between the marks: still refused (hysteresis)');
  t.equal(step(850)?.code, 'BROKER_UNAVAILABLE', 'at the low-water mark: still refused');
  t.equal(step(849), undefined, 'below the low-water mark: writable again');
  t.equal(step(880), undefined, 'between the marks on the way up: writable');
  t.match(step(934)?.message, /^disk 93\.4% full, high-water 90%/);
  t.same(guard.usage(), { used_ratio: 0.934, refusing: true, high_water_ratio: 0.9, low_water_ratio: 0.85 });
});

t.test('the answer is cached for the refresh interval', async (t) => {
  const disk = simulatedDisk();
  const clock = new ManualClock(0);
  const guard = new DiskGuard({ directory: '/data', statfs: disk.statfs, clock, log: quiet_log });
  guard.checkWritable();
  t.equal(disk.calls(), 1);
  disk.setUsed(990);
  for (let i = 0; i < 1_000; i++) guard.checkWritable();
  clock.advance(disk_usage_limits.refresh_interval_ms - 1);
  guard.checkWritable();
  t.equal(disk.calls(), 1, 'one statfs for every check within the interval');
  clock.advance(1);
  t.equal(refusal(guard)?.code, 'BROKER_UNAVAILABLE', 'the next interval sees the full disk');
  t.equal(disk.calls(), 2);
  guard.refresh();
  t.equal(disk.calls(), 3, 'refresh measures at once');
});

t.test('a failing statfs keeps the last answer', async (t) => {
  const disk = simulatedDisk();
  const clock = new ManualClock(0);
  const guard = new DiskGuard({ directory: '/data', statfs: disk.statfs, clock, log: quiet_log, high_water_ratio: 0.5, low_water_ratio: 0.4 });
  disk.fail(true);
  t.equal(refusal(guard), undefined, 'never measured: fail open');
  disk.fail(false);
  disk.setUsed(600);
  clock.advance(disk_usage_limits.refresh_interval_ms);
  t.match(refusal(guard)?.message, /^disk 60% full, high-water 50%: appends refused.*resume below 40%/);
  disk.fail(true);
  disk.setUsed(0);
  clock.advance(disk_usage_limits.refresh_interval_ms);
  t.equal(refusal(guard)?.code, 'BROKER_UNAVAILABLE', 'still refusing: the last answer stands');
});

t.test('marks are validated', async (t) => {
  const statfs = simulatedDisk().statfs;
  t.throws(() => new DiskGuard({ directory: '/d', statfs, high_water_ratio: 1.5 }), { code: 'BAD_REQUEST', message: /high-water ratio 1\.5 must be in \(0, 1\]/ });
  t.throws(() => new DiskGuard({ directory: '/d', statfs, high_water_ratio: 0 }), { code: 'BAD_REQUEST' });
  t.throws(() => new DiskGuard({ directory: '/d', statfs, high_water_ratio: 0.8, low_water_ratio: 0.9 }), { code: 'BAD_REQUEST', message: /low-water ratio 0\.9/ });
  const lowered = new DiskGuard({ directory: '/d', statfs, high_water_ratio: 0.7 });
  t.equal(lowered.low_water_ratio, 0.7, 'a high-water mark below the default low-water mark brings it down');
});
