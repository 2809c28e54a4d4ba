import t, { type Test } from 'tap';
import { latencyChartSvg } from '../../src/chaos/chaos_chart.js';
import { checkHistory } from '../../src/chaos/chaos_checker.js';
import type { ChaosHistory, ChaosSettings, FaultWindow, SendRecord } from '../../src/chaos/chaos_history.js';
import { chaosJson, formatChaosSummary } from '../../src/chaos/chaos_report.js';

/** What the chaos run writes besides the verdict: the SVG chart, the summary text and the JSON file. */

const settings: ChaosSettings = {
  duration_ms: 5_000,
  nemesis: ['kill9', 'pause'],
  seed: 42,
  rate_per_s: 50,
  namesrvs: 1,
  groups: 2,
  slaves: 1,
  replication: 'sync',
  flush: 'sync',
  producers: 1,
  consumers: 1,
  queues: 4,
  fault_interval_ms: 2_000,
  fault_duration_ms: 1_000,
};

const faults: FaultWindow[] = [
  { fault: 'kill9', target: 'broker-a&<0>', start_ms: 1_000, end_ms: 2_500, how: 'SIGKILL "then" restart' },
  { fault: 'pause', target: 'broker-b-0', start_ms: 3_200, end_ms: 3_900, how: 'SIGSTOP' },
  { fault: 'disk-full', target: 'broker-b-1', start_ms: 4_000, end_ms: 4_200, how: 'fault hook' },
];

/** Ten acked sends in each given second, each delivered once. */
function run(send_seconds: number[], end_ms: number, with_faults: FaultWindow[]): ChaosHistory {
  const sends: SendRecord[] = [];
  for (const second of send_seconds) {
    for (let at = 0; at < 10; at++) {
      const seq = sends.length;
      const start_ms = second * 1_000 + at * 90;
      sends.push({ id: `0-${seq}`, producer: 0, seq, start_ms, end_ms: start_ms + 1 + at * 30, outcome: 'acked', status: 'SEND_OK' });
    }
  }
  const deliveries = sends.map((send, offset) => ({ id: send.id, consumer: 0, broker: 'broker-a', queue: 0, offset, at_ms: send.end_ms + 1, corrupted: false }));
  return { started_at: '2025-01-01T00:00:00.000Z', settings, sends, deliveries, faults: with_faults, load_end_ms: Math.max(0, end_ms - 500), end_ms };
}

/** A superficial well-formedness check: every tag closes in order, and no raw & or < in text. */
function assertWellFormed(t: Test, svg: string): void {
  t.ok(svg.startsWith('<svg'), 'starts with <svg');
  t.ok(svg.trimEnd().endsWith('</svg>'), 'ends with </svg>');
  const open: string[] = [];
  let balanced = true;
  for (const match of svg.matchAll(/<(\/?)([a-zA-Z][\w-]*)[^<>]*?(\/?)>/g)) {
    const [, closing, name, self_closing] = match;
    if (self_closing === '/') continue;
    if (closing === '/') balanced &&= open.pop() === name;
    else open.push(name as string);
  }
  t.ok(balanced && open.length === 0, 'tags are balanced');
  const text = svg.replace(/<[^<>]*>/g, '');
  t.notMatch(text, /<|>/, 'no stray angle brackets');
  t.notMatch(svg, /&(?!amp;|lt;|gt;|quot;|apos;)/, 'every & starts an entity');
}

function pathD(svg: string, id: string): string {
  const match = new RegExp(`<path id="${id}" d="([^"]*)"`).exec(svg);
  return match?.[1] ?? '';
}

t.test('the chart: fault windows shaded and labelled, escaped', async (t) => {
  const history = run([0, 1, 2, 3, 4], 5_000, faults);
  const verdict = checkHistory(history, { no_loss: true, orderly: true });
  const svg = latencyChartSvg(verdict, settings);
  assertWellFormed(t, svg);
  t.match(svg, /viewBox="0 0 1000 420"/);
  t.equal(svg.match(/<rect class="fault"/g)?.length, faults.length, 'one shaded rect per fault window');
  t.match(svg, /kill9 broker-a&amp;&lt;0&gt;/, 'the label is escaped');
  t.notMatch(svg, /broker-a&</);
  t.match(svg, /pause broker-b-0/);
  t.match(svg, /nemesis kill9, pause, 50 msg\/s, replication sync, flush sync, seed 42/);
  t.equal(pathD(svg, 'p99').match(/M/g)?.length, 1, 'no gap when every second has sends');
  t.notMatch(svg, /NaN|Infinity|undefined/);
});

t.test('the chart leaves a gap in the lines where a second had no sends', async (t) => {
  const verdict = checkHistory(run([0, 1, 3, 4], 5_000, []), { no_loss: true, orderly: true });
  t.equal(verdict.timeline[2]?.latency_p99_ms, null);
  const svg = latencyChartSvg(verdict, settings);
  assertWellFormed(t, svg);
  const p99 = pathD(svg, 'p99');
  t.equal(p99.match(/M/g)?.length, 2, 'two runs of seconds, two subpaths');
  t.equal(p99.match(/L/g)?.length, 2, 'each run joins its two seconds');
  t.equal(pathD(svg, 'p50').match(/M/g)?.length, 2);
  t.equal(svg.match(/<circle class="max"/g)?.length, 4, 'one max dot per second with sends');
});

t.test('an empty run still renders, without NaN', async (t) => {
  for (const [name, history] of [['nothing at all', run([], 0, [])], ['time but no sends', run([], 5_000, [])], ['only faults', run([], 5_000, faults)]] as const) {
    const svg = latencyChartSvg(checkHistory(history, { no_loss: true, orderly: true }), { ...settings, nemesis: [] });
    assertWellFormed(t, svg);
    t.notMatch(svg, /NaN|Infinity|undefined/, name);
    t.match(svg, /nemesis none/, name);
  }
});

t.test('the summary and the JSON file', async (t) => {
  const history = run([0, 1, 2, 3, 4], 5_000, faults);
  history.sends.push({ id: '0-999', producer: 0, seq: 999, start_ms: 1_100, end_ms: 1_200, outcome: 'acked', status: 'SEND_OK' });
  const verdict = checkHistory(history, { no_loss: true, orderly: true });
  const summary = formatChaosSummary(verdict, settings);
  t.match(summary, /^chaos: nemesis kill9, pause/);
  t.match(summary, /replication sync, flush sync/);
  t.match(summary, /\nlost +1 /);
  t.match(summary, /kill9 +broker-a&<0> +1\.0 +2\.5 +\d+ +SIGKILL/, 'faults with window and recovery');
  t.match(summary, /\nFAIL\n {2}- 1 acked message\(s\) never delivered/);
  t.match(summary, /lost \(acked, never delivered\) \(1\): 0-999/);
  t.ok(summary.endsWith('\n'));

  const parsed = JSON.parse(chaosJson(history, verdict)) as Record<string, unknown>;
  t.same(Object.keys(parsed), ['format', 'started_at', 'settings', 'sends_recorded', 'deliveries_recorded', 'verdict']);
  t.same(parsed['verdict'], JSON.parse(JSON.stringify(verdict)), 'the verdict whole, faults and timeline included');
  t.equal(parsed['sends_recorded'], history.sends.length);
  t.notOk('sends' in parsed || 'deliveries' in parsed, 'not the records themselves');
  t.match(chaosJson(history, verdict), /\n {2}"format"/, 'pretty-printed');
});
