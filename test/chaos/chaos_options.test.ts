import t, { type Test } from 'tap';
import { chaos_limits, ChaosUsageError, parseChaosArgs } from '../../src/chaos/chaos_options.js';

/**
 * The `mq-node chaos` flags: what no flag gives, how durations are read, and that every
 * value out of bounds is refused with a ChaosUsageError naming the flag, before anything
 * starts. `now` is fixed, so the default seed and output directory are known.
 */

const now = new Date('2024-05-06T07:08:09.123Z');

/** Asserts that `argv` is refused with a ChaosUsageError whose message matches `pattern`. */
function refused(t: Test, argv: readonly string[], pattern: RegExp): void {
  let caught: unknown;
  try {
    parseChaosArgs(argv, now);
  } catch (error) {
    caught = error;
  }
  t.ok(caught instanceof ChaosUsageError, `${argv.join(' ')}: a ChaosUsageError (got ${String(caught)})`);
  t.match((caught as Error | undefined)?.message ?? '', pattern, `${argv.join(' ')}: the message names the flag`);
}

t.test('no flags: the documented defaults, the seed and output directory from now', async (t) => {
  const request = parseChaosArgs([], now);
  t.equal(request.command, 'run');
  t.same(request.settings, {
    duration_ms: 120_000,
    nemesis: ['kill9', 'pause'],
    // 1714979289123 % 1_000_000_007.
    seed: 979_277_125,
    rate_per_s: 2_000,
    namesrvs: 1,
    groups: 2,
    slaves: 1,
    replication: 'sync',
    flush: 'sync',
    producers: 2,
    consumers: 2,
    queues: 4,
    fault_interval_ms: 10_000,
    fault_duration_ms: 4_000,
  });
  t.equal(request.size_bytes, 256);
  t.equal(request.drain_ms, 60_000);
  t.equal(request.out_dir, 'chaos-2024-05-06T07-08-09-123Z', 'no colon or dot in the directory name');
  t.equal(request.keep_history, false);
  t.equal(request.partition_by, 'auto', 'partitions by namespaces where they can be made');
  t.equal(parseChaosArgs([], new Date(now.getTime() + 1)).settings.seed, 979_277_126, 'another moment gives another seed');
});

t.test('every flag is read into its setting', async (t) => {
  const request = parseChaosArgs([
    '--duration', '10m', '--nemesis', 'partition,disk-full', '--seed', '42', '--rate', '500', '--namesrvs', '3', '--groups', '3',
    '--slaves', '2', '--replication', 'async', '--flush', 'async', '--producers', '5', '--consumers', '6', '--queues', '8',
    '--size', '1024', '--fault-interval', '20s', '--fault-duration', '5s', '--drain', '90s', '--out', '/tmp/here', '--keep-history', '--partition-by', 'hook',
  ], now);
  t.same(request, {
    command: 'run',
    settings: {
      duration_ms: 600_000,
      nemesis: ['partition', 'disk-full'],
      seed: 42,
      rate_per_s: 500,
      namesrvs: 3,
      groups: 3,
      slaves: 2,
      replication: 'async',
      flush: 'async',
      producers: 5,
      consumers: 6,
      queues: 8,
      fault_interval_ms: 20_000,
      fault_duration_ms: 5_000,
    },
    size_bytes: 1_024,
    drain_ms: 90_000,
    out_dir: '/tmp/here',
    keep_history: true,
    partition_by: 'hook',
  });
});

t.test('durations: s, m, ms, h, and a plain number of seconds', async (t) => {
  t.equal(parseChaosArgs(['--duration', '30s'], now).settings.duration_ms, 30_000);
  t.equal(parseChaosArgs(['--duration', '2m'], now).settings.duration_ms, 120_000);
  t.equal(parseChaosArgs(['--duration', '45'], now).settings.duration_ms, 45_000, 'plain: seconds');
  t.equal(parseChaosArgs(['--duration', '1h'], now).settings.duration_ms, 3_600_000);
  t.equal(parseChaosArgs(['--fault-duration', '500ms'], now).settings.fault_duration_ms, 500);
  t.equal(parseChaosArgs(['--fault-interval', '1500ms', '--fault-duration', '500ms'], now).settings.fault_interval_ms, 1_500);
  t.equal(parseChaosArgs(['--drain', '1s'], now).drain_ms, 1_000);
  t.equal(parseChaosArgs(['--duration=5s'], now).settings.duration_ms, chaos_limits.duration_ms_min, 'the shortest run');
  t.equal(parseChaosArgs(['--duration', '24h', '--rate', '100'], now).settings.duration_ms, chaos_limits.duration_ms_max, 'the longest run (at a rate whose sends fit in memory)');
});

t.test('--partition-by is auto, netns or hook', async (t) => {
  t.equal(parseChaosArgs(['--partition-by', 'netns'], now).partition_by, 'netns');
  refused(t, ['--partition-by', 'iptables'], /--partition-by must be auto, netns or hook, not "iptables"/);
});

t.test('a bad or out-of-bounds duration is refused, naming its flag', async (t) => {
  refused(t, ['--duration', '4s'], /--duration/);
  refused(t, ['--duration', '4999ms'], /--duration/);
  refused(t, ['--duration', '25h'], /--duration/);
  refused(t, ['--duration', '500ms'], /--duration/);
  refused(t, ['--duration', 'abc'], /--duration.*"abc"/);
  refused(t, ['--duration', '1.5s'], /--duration/);
  refused(t, ['--duration', '30 s'], /--duration/);
  refused(t, ['--duration', '30d'], /--duration/);
  refused(t, ['--duration=-30s'], /--duration/);
  refused(t, ['--duration', ''], /--duration/);
  refused(t, ['--duration'], /--duration/);
  refused(t, ['--fault-interval', '999ms', '--fault-duration', '500ms'], /--fault-interval/);
  refused(t, ['--fault-duration', '99ms'], /--fault-duration/);
  refused(t, ['--drain', '999ms'], /--drain/);
  refused(t, ['--drain', '601s'], /--drain/);
});

t.test('integers out of bounds or not integers are refused, naming the flag', async (t) => {
  refused(t, ['--rate', '0'], /--rate must be an integer 1\.\.100000, not "0"/);
  refused(t, ['--rate', '100001'], /--rate/);
  refused(t, ['--rate', '1.5'], /--rate/);
  refused(t, ['--rate', 'fast'], /--rate/);
  refused(t, ['--rate=-1'], /--rate/);
  refused(t, ['--rate', '1e3'], /--rate/);
  refused(t, ['--rate'], /--rate/);
  t.equal(parseChaosArgs(['--rate', '100000'], now).settings.rate_per_s, chaos_limits.rate_per_s_max);
  t.equal(parseChaosArgs(['--rate', '1'], now).settings.rate_per_s, 1);
  refused(t, ['--seed', String(2 ** 32)], /--seed/);
  t.equal(parseChaosArgs(['--seed', String(2 ** 32 - 1)], now).settings.seed, 2 ** 32 - 1);
  t.equal(parseChaosArgs(['--seed', '0'], now).settings.seed, 0);
  refused(t, ['--groups', '0'], /--groups/);
  refused(t, ['--groups', '9'], /--groups/);
  refused(t, ['--slaves', '4'], /--slaves/);
  refused(t, ['--producers', '33'], /--producers/);
  refused(t, ['--consumers', '0'], /--consumers/);
  refused(t, ['--queues', '65'], /--queues/);
  refused(t, ['--size', '31'], /--size/);
  refused(t, ['--size', String((64 << 10) + 1)], /--size/);
  t.equal(parseChaosArgs(['--size', '32'], now).size_bytes, chaos_limits.size_bytes_min);
});

t.test('a run that would keep more sends than chaos_limits.sends_max in memory is refused', async (t) => {
  refused(t, ['--rate', '100000', '--duration', '24h'], /more than 20000000 sends/);
  t.equal(parseChaosArgs(['--rate', '1000', '--duration', '2h'], now).settings.rate_per_s, 1_000, 'a 2-hour run at 1,000 msg/s is fine');
});

t.test('--namesrvs is 1 or 3 only', async (t) => {
  refused(t, ['--namesrvs', '2'], /--namesrvs must be one of 1, 3, not "2"/);
  refused(t, ['--namesrvs', '0'], /--namesrvs/);
  refused(t, ['--namesrvs', '4'], /--namesrvs/);
  t.equal(parseChaosArgs(['--namesrvs', '1'], now).settings.namesrvs, 1);
  t.equal(parseChaosArgs(['--namesrvs', '3'], now).settings.namesrvs, 3);
});

t.test('--replication and --flush are sync or async', async (t) => {
  refused(t, ['--replication', 'maybe'], /--replication must be sync or async, not "maybe"/);
  refused(t, ['--flush', 'never'], /--flush/);
  refused(t, ['--flush', 'SYNC'], /--flush/);
});

t.test('--nemesis: known faults only, not empty, duplicates collapsed', async (t) => {
  refused(t, ['--nemesis', 'kill9,meteor'], /--nemesis .*meteor is not one/);
  refused(t, ['--nemesis', 'Kill9'], /--nemesis .*Kill9 is not one/);
  refused(t, ['--nemesis='], /--nemesis .*it is empty/);
  refused(t, ['--nemesis', ' , ,'], /--nemesis .*it is empty/);
  t.same(parseChaosArgs(['--nemesis', 'kill9,pause,kill9,pause,kill9'], now).settings.nemesis, ['kill9', 'pause']);
  t.same(parseChaosArgs(['--nemesis', ' disk-slow , partition,,disk-slow '], now).settings.nemesis, ['disk-slow', 'partition'], 'spaces and empty items ignored');
  t.same(parseChaosArgs(['--nemesis', 'kill9,pause,partition,disk-slow,disk-full'], now).settings.nemesis, ['kill9', 'pause', 'partition', 'disk-slow', 'disk-full']);
});

t.test('unknown flags and positional arguments are refused, naming them', async (t) => {
  refused(t, ['--bogus'], /--bogus/);
  refused(t, ['--rate', '10', 'extra'], /'extra'/);
  refused(t, ['run'], /'run'/);
  refused(t, ['-x'], /-x/);
});

t.test('a fault must end before the next starts', async (t) => {
  refused(t, ['--fault-interval', '5s', '--fault-duration', '5s'], /--fault-duration \(5000 ms\) must be shorter than --fault-interval \(5000 ms\)/);
  refused(t, ['--fault-interval', '5s', '--fault-duration', '6s'], /--fault-duration.*--fault-interval/);
  refused(t, ['--fault-interval', '2s'], /--fault-duration \(4000 ms\).*--fault-interval \(2000 ms\)/);
  const settings = parseChaosArgs(['--fault-interval', '5s', '--fault-duration', '4999ms'], now).settings;
  t.same([settings.fault_interval_ms, settings.fault_duration_ms], [5_000, 4_999], 'one millisecond shorter is allowed');
});

t.test('sync replication needs a slave', async (t) => {
  refused(t, ['--replication', 'sync', '--slaves', '0'], /--replication sync needs --slaves 1 or more/);
  refused(t, ['--slaves', '0'], /--replication sync/);
  const settings = parseChaosArgs(['--replication', 'async', '--slaves', '0'], now).settings;
  t.same([settings.replication, settings.slaves], ['async', 0], 'async with no slave is allowed');
});

t.test('--help asks for the usage', async (t) => {
  t.equal(parseChaosArgs(['--help'], now).command, 'help');
  t.equal(parseChaosArgs(['--duration', '30s', '--help'], now).command, 'help', 'with other flags too');
  refused(t, ['--help', 'now'], /'now'/);
});
