import t from 'tap';
import type { ChaosCluster, ChaosNode } from '../../src/chaos/chaos_cluster.js';
import type { ChaosSettings, NemesisFault } from '../../src/chaos/chaos_history.js';
import { disk_slow_flush_delay_ms, Nemesis, planFaults, seededRandom, type PlannedFault } from '../../src/chaos/chaos_nemesis.js';
import { chaos_limits } from '../../src/chaos/chaos_options.js';
import { chaosSettings } from './chaos_fixtures.js';

/**
 * The nemesis: the fault schedule a seed gives (planFaults), the PRNG behind it, and the
 * Nemesis that runs a schedule, here against a fake cluster that records every call, so
 * the order of injections and heals, the windows and the incidents can be checked exactly.
 */

const settings: ChaosSettings = chaosSettings({ duration_ms: 60_000, nemesis: ['kill9', 'pause', 'partition', 'disk-slow', 'disk-full'], seed: 18 });

type Kind = 'namesrv' | 'broker';
const nodes: ReadonlyArray<{ name: string; kind: Kind }> = [
  { name: 'namesrv-0', kind: 'namesrv' },
  { name: 'broker-a-0', kind: 'broker' },
  { name: 'broker-a-1', kind: 'broker' },
  { name: 'broker-b-0', kind: 'broker' },
  { name: 'broker-b-1', kind: 'broker' },
];

t.test('planFaults: the same settings and nodes give the same plan; another seed another', async (t) => {
  const plan = planFaults(settings, nodes);
  t.same(planFaults({ ...settings }, nodes.map((node) => ({ ...node }))), plan, 'repeatable');
  t.equal(plan.length, 6, 'at 4, 14, 24, 34, 44 and 54 s');
  const other = planFaults({ ...settings, seed: 19 }, nodes);
  t.equal(other.length, plan.length, 'the times do not depend on the seed');
  t.notSame(other.map((fault) => `${fault.fault} ${fault.target}`), plan.map((fault) => `${fault.fault} ${fault.target}`), 'seed 19 picks other faults or targets');
  t.ok(plan.every((fault) => settings.nemesis.includes(fault.fault) && nodes.some((node) => node.name === fault.target)), 'faults from the list, on nodes of the cluster');
  t.ok(plan.every((fault) => fault.duration_ms === settings.fault_duration_ms), 'each lasts fault_duration_ms');
});

t.test('planFaults: the order of the nodes given does not matter', async (t) => {
  const plan = planFaults(settings, nodes);
  const reversed = [...nodes].reverse();
  const shuffled = [nodes[3], nodes[0], nodes[4], nodes[2], nodes[1]] as Array<{ name: string; kind: Kind }>;
  t.same(planFaults(settings, reversed), plan, 'reversed');
  t.same(planFaults(settings, shuffled), plan, 'shuffled');
  t.same(nodes.map((node) => node.name), ['namesrv-0', 'broker-a-0', 'broker-a-1', 'broker-b-0', 'broker-b-1'], 'the caller\'s array is not sorted in place');
});

t.test('planFaults: the first fault after the warm-up, then one every interval, none past the end', async (t) => {
  const at = (plan: readonly PlannedFault[]): number[] => plan.map((fault) => fault.at_ms);
  t.equal(chaos_limits.warm_up_ms, 4_000, 'the warm-up these times assume');
  t.same(at(planFaults(settings, nodes)), [4_000, 14_000, 24_000, 34_000, 44_000, 54_000]);
  // The last fault at 54 s ends at 58 s: a run of exactly 58 s still has it, one of 57.999 s does not.
  t.equal(planFaults({ ...settings, duration_ms: 58_000 }, nodes).length, 6, 'a fault that ends exactly at the end is planned');
  t.equal(planFaults({ ...settings, duration_ms: 57_999 }, nodes).length, 5, 'one that would end past it is not');
  t.same(planFaults({ ...settings, duration_ms: chaos_limits.warm_up_ms + settings.fault_duration_ms - 1 }, nodes), [], 'a run too short for one fault has none');
  const busy = planFaults({ ...settings, duration_ms: 30_000, fault_interval_ms: 1_000, fault_duration_ms: 500 }, nodes);
  t.equal(busy.length, 26, '4 s, 5 s, ... 29 s');
  t.ok(busy.every((fault, index) => fault.at_ms === chaos_limits.warm_up_ms + index * 1_000 && fault.at_ms + fault.duration_ms <= 30_000), 'evenly spaced, each over before the end');
});

t.test('planFaults: disk faults hit brokers only; the others hit any node', async (t) => {
  const long = planFaults({ ...settings, duration_ms: 3_600_000, fault_interval_ms: 1_000, fault_duration_ms: 500 }, nodes);
  const disk = long.filter((fault) => fault.fault === 'disk-slow' || fault.fault === 'disk-full');
  t.ok(disk.length > 100, `${disk.length} disk faults planned`);
  t.same(disk.filter((fault) => fault.target === 'namesrv-0'), [], 'no disk fault on the nameserver');
  t.ok(long.some((fault) => fault.target === 'namesrv-0'), 'other faults do hit the nameserver');
  t.same([...new Set(long.map((fault) => fault.fault))].sort(), [...settings.nemesis].sort(), 'every fault of the list is picked');
  t.same([...new Set(long.map((fault) => fault.target))].sort(), nodes.map((node) => node.name).sort(), 'every node is hit');
  t.equal(long.length, 3_596, 'every slot has a fault: no fault lacked a target');
});

t.test('planFaults: disk faults with no broker to hit plan nothing', async (t) => {
  const namesrvs_only = [{ name: 'namesrv-0', kind: 'namesrv' as const }, { name: 'namesrv-1', kind: 'namesrv' as const }];
  t.same(planFaults({ ...settings, nemesis: ['disk-slow', 'disk-full'] }, namesrvs_only), [], 'each slot is skipped');
  // With a fault that can hit a nameserver in the list, only the disk faults' slots are empty.
  const mixed = planFaults({ ...settings, duration_ms: 600_000, nemesis: ['pause', 'disk-full'] }, namesrvs_only);
  t.ok(mixed.length > 0 && mixed.length < 60, `${mixed.length} of 60 slots have a fault`);
  t.ok(mixed.every((fault) => fault.fault === 'pause'), 'all of them pauses');
  t.same(planFaults(settings, []), [], 'no nodes at all: nothing');
});

/** The mulberry32 generator as published (Tommy Ettinger's algorithm, bryc's JavaScript). */
function referenceMulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    let t = (a += 0x6d2b79f5);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

t.test('seededRandom: in [0, 1), repeatable, a function of the seed only', async (t) => {
  const draw = (seed: number, count: number): number[] => {
    const random = seededRandom(seed);
    return Array.from({ length: count }, () => random());
  };
  const values = draw(18, 100_000);
  t.ok(values.every((value) => value >= 0 && value < 1), 'every value in [0, 1)');
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  t.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean} near 0.5`);
  const tenths = new Array<number>(10).fill(0);
  for (const value of values) tenths[Math.floor(value * 10)]! += 1;
  t.ok(tenths.every((count) => count > 9_000 && count < 11_000), `every tenth of [0, 1) gets about a tenth: ${tenths.join(' ')}`);
  t.same(draw(18, 1_000), values.slice(0, 1_000), 'the same seed gives the same sequence');
  t.notSame(draw(19, 1_000), values.slice(0, 1_000), 'another seed another');
  t.same(draw(-1, 50), draw(2 ** 32 - 1, 50), 'the seed is taken as an unsigned 32-bit integer');
  t.same(draw(2 ** 32 + 5, 50), draw(5, 50), 'above 32 bits, its low 32 bits');
  for (const seed of [0, 1, 18, 123_456_789, 2 ** 32 - 1]) {
    const reference = referenceMulberry32(seed);
    t.same(draw(seed, 200), Array.from({ length: 200 }, () => reference()), `seed ${seed}: the published mulberry32 sequence`);
  }
});

// --- Nemesis against a fake cluster ---

interface FakeCluster {
  /** `<method> <node>` for every call, in order, with the clock when it was made. */
  calls: Array<{ call: string; at_ms: number }>;
  nodes: ChaosNode[];
  cluster: ChaosCluster;
  /** Called at every call, after it is recorded (the test advances its clock or stops the nemesis). */
  onCall: (call: string) => void;
  /** Makes `restart` throw this error. */
  restartFails: Error | undefined;
}

function fakeNode(name: string, index: number): ChaosNode {
  const broker = name.startsWith('broker-');
  return {
    name,
    kind: broker ? 'broker' : 'namesrv',
    group: broker ? `group-${name.split('-')[1]}` : undefined,
    index,
    address: `127.0.0.1:${10_000 + index}`,
    data_dir: `/nonexistent/${name}`,
    args: [],
    state: 'running',
    child: undefined,
    starts: 1,
  };
}

function fakeCluster(clock: () => number): FakeCluster {
  const fake: FakeCluster = {
    calls: [],
    nodes: nodes.map((node, index) => fakeNode(node.name, index)),
    cluster: undefined as unknown as ChaosCluster,
    onCall: () => undefined,
    restartFails: undefined,
  };
  const record = (call: string): void => {
    fake.calls.push({ call, at_ms: clock() });
    fake.onCall(call);
  };
  fake.cluster = {
    node: (name: string): ChaosNode => {
      const node = fake.nodes.find((candidate) => candidate.name === name);
      if (node === undefined) throw new Error(`no node ${name} in this cluster`);
      return node;
    },
    kill9: async (node: ChaosNode) => record(`kill9 ${node.name}`),
    restart: async (node: ChaosNode) => {
      record(`restart ${node.name}`);
      if (fake.restartFails !== undefined) throw fake.restartFails;
    },
    pause: (node: ChaosNode) => record(`pause ${node.name}`),
    resume: (node: ChaosNode) => record(`resume ${node.name}`),
    partition: (node: ChaosNode) => record(`partition ${node.name}`),
    reconnect: (node: ChaosNode) => record(`reconnect ${node.name}`),
    setDiskFault: (node: ChaosNode, fault: string) => record(`setDiskFault ${node.name} ${fault}`),
    clearDiskFault: (node: ChaosNode) => record(`clearDiskFault ${node.name}`),
    network: { cut_description: 'cut by the fake network' },
  } as unknown as ChaosCluster;
  return fake;
}

function planned(at_ms: number, fault: NemesisFault, target: string, duration_ms: number): PlannedFault {
  return { at_ms, fault, target, duration_ms };
}

/** Resolves with the run's outcome, or 'still running' when it has not ended within `timeout_ms`. */
async function within(run: Promise<void>, timeout_ms: number): Promise<'ended' | 'still running'> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    run.then(() => 'ended' as const),
    new Promise<'still running'>((resolve) => (timer = setTimeout(() => resolve('still running'), timeout_ms))),
  ]);
  clearTimeout(timer);
  return outcome;
}

t.test('Nemesis: each fault injected at its time, healed after its duration, in order, with its window', async (t) => {
  // A real clock here: the nemesis sleeps on timers, and the windows must fit the plan.
  const origin_ms = performance.now();
  const clock = (): number => performance.now() - origin_ms;
  const fake = fakeCluster(clock);
  const plan = [
    planned(20, 'kill9', 'broker-a-0', 30),
    planned(60, 'pause', 'namesrv-0', 30),
    planned(100, 'partition', 'broker-b-1', 30),
    planned(140, 'disk-slow', 'broker-a-1', 30),
    planned(180, 'disk-full', 'broker-b-0', 30),
  ];
  // Node counts a timer from libuv's loop time, a millisecond clock that may lag behind
  // performance.now(), so a timer can fire a millisecond or two before this clock says its
  // time has come. The slack covers that; a nemesis that did not wait would be early by a
  // whole 20 to 40 ms.
  const timer_slack_ms = 5;
  const nemesis = new Nemesis(plan, fake.cluster, clock);
  t.equal(await within(nemesis.run(), 10_000), 'ended');

  t.same(fake.calls.map((entry) => entry.call), [
    'kill9 broker-a-0', 'restart broker-a-0',
    'pause namesrv-0', 'resume namesrv-0',
    'partition broker-b-1', 'reconnect broker-b-1',
    `setDiskFault broker-a-1 slow ${disk_slow_flush_delay_ms}`, 'clearDiskFault broker-a-1',
    'setDiskFault broker-b-0 full', 'clearDiskFault broker-b-0',
  ], 'every fault injected, then healed, before the next');
  t.same(nemesis.windows.map((window) => [window.fault, window.target, window.group]), [
    ['kill9', 'broker-a-0', 'group-a'],
    ['pause', 'namesrv-0', undefined],
    ['partition', 'broker-b-1', 'group-b'],
    ['disk-slow', 'broker-a-1', 'group-a'],
    ['disk-full', 'broker-b-0', 'group-b'],
  ], 'one window per fault, with the broker\'s group');
  t.notOk('group' in (nemesis.windows[1] ?? {}), 'a nameserver\'s window has no group key at all');
  t.match(nemesis.windows.map((window) => window.how), [/SIGKILL/, /SIGSTOP/, /cut by the fake network/, new RegExp(`waits ${disk_slow_flush_delay_ms} ms`), /full disk/]);
  t.same(nemesis.incidents, []);
  for (const [index, window] of nemesis.windows.entries()) {
    const fault = plan[index] as PlannedFault;
    const inject = fake.calls[2 * index] as { at_ms: number };
    const heal = fake.calls[2 * index + 1] as { at_ms: number };
    t.ok(window.start_ms >= fault.at_ms - timer_slack_ms, `${fault.fault}: started at ${window.start_ms.toFixed(1)} ms, planned at ${fault.at_ms}`);
    t.ok(window.start_ms <= inject.at_ms, `${fault.fault}: the window starts before the injection`);
    t.ok(heal.at_ms >= fault.at_ms + fault.duration_ms - timer_slack_ms, `${fault.fault}: healed at ${heal.at_ms.toFixed(1)} ms, not before ${fault.at_ms + fault.duration_ms}`);
    t.ok(window.end_ms >= heal.at_ms, `${fault.fault}: the window ends after the heal`);
    if (index > 0) t.ok(window.start_ms >= (nemesis.windows[index - 1]?.end_ms ?? Infinity), `${fault.fault}: starts after the previous fault ended`);
  }
});

t.test('Nemesis: a restart that fails is an incident, noted in its window; the schedule goes on', async (t) => {
  // A clock the fake cluster moves: the plan's times have all come, so nothing sleeps.
  let now_ms = 1_000;
  const fake = fakeCluster(() => now_ms);
  fake.restartFails = new Error('printed no ready line within 60000 ms');
  fake.onCall = (call) => {
    now_ms += call.startsWith('restart') ? 40 : 3;
  };
  const nemesis = new Nemesis([planned(0, 'kill9', 'broker-a-0', 0), planned(0, 'pause', 'broker-b-0', 0)], fake.cluster, () => now_ms);
  t.equal(await within(nemesis.run(), 5_000), 'ended');

  const message = 'broker-a-0 did not come back after kill9: printed no ready line within 60000 ms';
  t.same(nemesis.incidents, [message]);
  t.same(fake.calls.map((entry) => entry.call), ['kill9 broker-a-0', 'restart broker-a-0', 'pause broker-b-0', 'resume broker-b-0']);
  t.same(nemesis.windows, [
    { fault: 'kill9', target: 'broker-a-0', group: 'group-a', start_ms: 1_000, end_ms: 1_043, how: `SIGKILL; restarted on the same ports and data when healed (${message})` },
    { fault: 'pause', target: 'broker-b-0', group: 'group-b', start_ms: 1_043, end_ms: 1_049, how: 'SIGSTOP; SIGCONT when healed' },
  ], 'the failed heal still ends its window; the next fault runs');
});

t.test('Nemesis: a fault that cannot be injected is an incident, its window closed at once; the schedule goes on', async (t) => {
  let now_ms = 2_000;
  const fake = fakeCluster(() => now_ms);
  fake.onCall = (call) => {
    now_ms += 5;
    if (call.startsWith('partition')) throw new Error('ip link set: Operation not permitted');
  };
  const nemesis = new Nemesis([planned(0, 'partition', 'broker-a-0', 0), planned(0, 'pause', 'broker-b-0', 0)], fake.cluster, () => now_ms);
  t.equal(await within(nemesis.run(), 5_000), 'ended', 'run() ends: the failure does not escape it');
  const message = 'partition on broker-a-0 could not be injected: ip link set: Operation not permitted';
  t.same(nemesis.incidents, [message]);
  t.same(fake.calls.map((entry) => entry.call), ['partition broker-a-0', 'pause broker-b-0', 'resume broker-b-0'], 'nothing to heal for the fault that was not injected');
  t.same(nemesis.windows, [
    { fault: 'partition', target: 'broker-a-0', group: 'group-a', start_ms: 2_000, end_ms: 2_005, how: message },
    { fault: 'pause', target: 'broker-b-0', group: 'group-b', start_ms: 2_005, end_ms: 2_015, how: 'SIGSTOP; SIGCONT when healed' },
  ]);
});

t.test('Nemesis: stop() during a fault heals it at once and ends the schedule', async (t) => {
  let now_ms = 0;
  const fake = fakeCluster(() => now_ms);
  // The first fault would last a minute and the second start after it: stop() must cut both.
  const nemesis = new Nemesis([planned(0, 'pause', 'broker-a-1', 60_000), planned(60_500, 'kill9', 'broker-b-0', 1_000)], fake.cluster, () => now_ms);
  fake.onCall = (call) => {
    if (call !== 'pause broker-a-1') return;
    // After the injection returns, while the nemesis sleeps until the heal.
    setImmediate(() => {
      now_ms = 1_234;
      nemesis.stop();
    });
  };
  t.equal(await within(nemesis.run(), 5_000), 'ended', 'run() ended long before the fault\'s minute');
  t.same(fake.calls.map((entry) => entry.call), ['pause broker-a-1', 'resume broker-a-1'], 'healed; the next fault never injected');
  t.same(nemesis.windows, [{ fault: 'pause', target: 'broker-a-1', group: 'group-a', start_ms: 0, end_ms: 1_234, how: 'SIGSTOP; SIGCONT when healed' }]);
});

t.test('Nemesis: stop() between faults ends the schedule without injecting the next', async (t) => {
  let now_ms = 0;
  const fake = fakeCluster(() => now_ms);
  const nemesis = new Nemesis([planned(0, 'partition', 'broker-a-0', 0), planned(60_000, 'kill9', 'broker-b-0', 1_000)], fake.cluster, () => now_ms);
  fake.onCall = (call) => {
    if (call === 'reconnect broker-a-0') setImmediate(() => nemesis.stop());
  };
  t.equal(await within(nemesis.run(), 5_000), 'ended', 'run() did not wait the minute for the next fault');
  t.same(fake.calls.map((entry) => entry.call), ['partition broker-a-0', 'reconnect broker-a-0']);
  t.equal(nemesis.windows.length, 1);
  t.equal(await within(nemesis.run(), 1_000), 'ended', 'a stopped nemesis runs nothing');
  t.equal(fake.calls.length, 2, 'not even the first fault again');
});
