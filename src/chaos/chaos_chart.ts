/**
 * The chaos run's chart (latency.svg): send latency per second (p50 and p99 lines, max as
 * faint dots) on a log-scale axis in ms, acked sends per second as bars in a lower band, and
 * every fault window shaded across both, labelled with its fault and target.
 *
 * A standalone SVG document: no scripts, no external fonts or styles, so it opens anywhere
 * (a browser, an image viewer, a CI artifact page). Pure: verdict in, text out.
 */
import type { ChaosSettings, NemesisFault } from './chaos_history.js';
import type { ChaosVerdict, TimelineSecond } from './chaos_checker.js';

export const chaos_chart_layout = {
  width: 1000,
  height: 420,
  /** Left of both plots: room for the axis labels. */
  plot_left: 64,
  plot_right: 984,
  latency_top: 52,
  latency_bottom: 262,
  throughput_top: 284,
  throughput_bottom: 346,
  /** Below the plots: x tick labels, then the legend. */
  x_labels_y: 362,
  legend_y: 400,
  /** Latencies below this are drawn at it: the log axis needs a floor, and ms timers rarely resolve less. */
  latency_floor_ms: 1,
  /** The axis always shows at least 1..10 ms, so a quiet run is not stretched across the plot. */
  latency_ceiling_min_ms: 10,
  /** Fault labels overlap when windows do; they are staggered over this many rows. */
  fault_label_rows: 3,
  fault_label_row_px: 11,
  /** At most this many x ticks; their step is rounded to 1, 2 or 5 times a power of ten. */
  x_ticks_max: 12,
  max_dot_radius_px: 1.5,
} as const;

const layout = chaos_chart_layout;

/** One colour per fault kind, so the same fault reads the same in every chart. */
const fault_colours: Record<NemesisFault, string> = {
  kill9: '#d62728',
  pause: '#ff7f0e',
  partition: '#9467bd',
  'disk-slow': '#8c564b',
  'disk-full': '#e377c2',
};

const p50_colour = '#1f77b4';
const p99_colour = '#d62728';
const max_colour = '#7f7f7f';
const throughput_colour = '#2ca02c';

export function latencyChartSvg(verdict: ChaosVerdict, settings: ChaosSettings): string {
  const timeline = verdict.timeline;
  const fault_end_s = Math.max(0, ...verdict.faults.map((fault) => fault.end_ms / 1000).filter(Number.isFinite));
  const span_s = Math.max(1, timeline.length, Math.ceil(fault_end_s));
  const ceiling_ms = latencyCeilingMs(timeline);
  const throughput_max = niceCeiling(Math.max(1, ...timeline.map((entry) => entry.acked)));

  // The value of second s is drawn at the middle of its slot [s, s + 1).
  const x = (seconds: number): number => layout.plot_left + (seconds / span_s) * (layout.plot_right - layout.plot_left);
  const y_latency = (ms: number): number => {
    const share = Math.log10(Math.max(layout.latency_floor_ms, ms) / layout.latency_floor_ms) / Math.log10(ceiling_ms / layout.latency_floor_ms);
    return layout.latency_bottom - Math.min(1, share) * (layout.latency_bottom - layout.latency_top);
  };
  const y_throughput = (count: number): number => layout.throughput_bottom - (count / throughput_max) * (layout.throughput_bottom - layout.throughput_top);

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${layout.width} ${layout.height}" width="${layout.width}" height="${layout.height}" font-family="sans-serif" font-size="11">`,
    `<rect x="0" y="0" width="${layout.width}" height="${layout.height}" fill="#ffffff"/>`,
    `<text x="${layout.plot_left}" y="18" font-size="13" font-weight="bold">${escapeXml(titleLine(verdict, settings))}</text>`,
    `<text x="${layout.plot_left}" y="34" fill="#555555">${escapeXml(subtitleLine(settings))}</text>`,
    ...faultWindows(verdict, x),
    ...latencyAxis(ceiling_ms, y_latency),
    ...throughputAxis(throughput_max, y_throughput),
    ...timeAxis(span_s, x),
    ...loadEndMarker(verdict.load_end_ms, span_s, x),
    throughputBars(timeline, x, y_throughput, span_s),
    ...maxDots(timeline, x, y_latency),
    latencyPath('p50', timeline, (entry) => entry.latency_p50_ms, p50_colour, x, y_latency),
    latencyPath('p99', timeline, (entry) => entry.latency_p99_ms, p99_colour, x, y_latency),
    ...legend(verdict),
    '</svg>',
  ];
  return `${parts.join('\n')}\n`;
}

function titleLine(verdict: ChaosVerdict, settings: ChaosSettings): string {
  const nemesis = settings.nemesis.length === 0 ? 'none' : settings.nemesis.join(', ');
  return `mq-node chaos: nemesis ${nemesis}, ${settings.rate_per_s} msg/s, replication ${settings.replication}, flush ${settings.flush}, seed ${settings.seed} — ${verdict.passed ? 'PASS' : 'FAIL'}`;
}

function subtitleLine(settings: ChaosSettings): string {
  return `send latency per second (ms, log scale; by the second the send started) and acked sends per second; ${settings.groups} group(s) x ${settings.slaves} slave(s), ${settings.producers} producer(s), ${settings.consumers} consumer(s)`;
}

/** The smallest power of ten at or above every latency, and at least the minimum ceiling. */
function latencyCeilingMs(timeline: readonly TimelineSecond[]): number {
  let highest: number = layout.latency_ceiling_min_ms;
  for (const entry of timeline) {
    const value = entry.latency_max_ms ?? entry.latency_p99_ms;
    if (value !== null && Number.isFinite(value) && value > highest) highest = value;
  }
  return 10 ** Math.ceil(Math.log10(highest));
}

function faultWindows(verdict: ChaosVerdict, x: (seconds: number) => number): string[] {
  const right = layout.plot_right;
  return verdict.faults.flatMap((fault, index) => {
    const start = clamp(x(finiteOr(fault.start_ms, 0) / 1000), layout.plot_left, right);
    const end = clamp(x(finiteOr(fault.end_ms, fault.start_ms) / 1000), start, right);
    // A window shorter than a pixel would vanish; a fault always shows.
    const width = Math.max(1, end - start);
    const colour = fault_colours[fault.fault] ?? max_colour;
    const label_y = layout.latency_top + layout.fault_label_row_px * (1 + (index % layout.fault_label_rows));
    return [
      `<rect class="fault" x="${num(start)}" y="${layout.latency_top}" width="${num(width)}" height="${layout.throughput_bottom - layout.latency_top}" fill="${colour}" fill-opacity="0.15" stroke="${colour}" stroke-opacity="0.5"/>`,
      `<text class="fault-label" x="${num(start + 2)}" y="${label_y}" fill="${colour}" font-size="10">${escapeXml(`${fault.fault} ${fault.target}`)}</text>`,
    ];
  });
}

function latencyAxis(ceiling_ms: number, y: (ms: number) => number): string[] {
  const lines: string[] = [`<line x1="${layout.plot_left}" y1="${layout.latency_top}" x2="${layout.plot_left}" y2="${layout.latency_bottom}" stroke="#000000"/>`];
  for (let tick = layout.latency_floor_ms; tick <= ceiling_ms; tick *= 10) {
    const at = num(y(tick));
    lines.push(`<line x1="${layout.plot_left}" y1="${at}" x2="${layout.plot_right}" y2="${at}" stroke="#dddddd"/>`);
    lines.push(`<text x="${layout.plot_left - 4}" y="${at}" text-anchor="end" dominant-baseline="middle">${tick}</text>`);
  }
  lines.push(`<text x="14" y="${(layout.latency_top + layout.latency_bottom) / 2}" transform="rotate(-90 14 ${(layout.latency_top + layout.latency_bottom) / 2})" text-anchor="middle">latency (ms)</text>`);
  return lines;
}

function throughputAxis(max: number, y: (count: number) => number): string[] {
  return [
    `<line x1="${layout.plot_left}" y1="${layout.throughput_top}" x2="${layout.plot_left}" y2="${layout.throughput_bottom}" stroke="#000000"/>`,
    `<line x1="${layout.plot_left}" y1="${layout.throughput_bottom}" x2="${layout.plot_right}" y2="${layout.throughput_bottom}" stroke="#000000"/>`,
    `<text x="${layout.plot_left - 4}" y="${num(y(max))}" text-anchor="end" dominant-baseline="middle">${max}</text>`,
    `<text x="${layout.plot_left - 4}" y="${num(y(0))}" text-anchor="end" dominant-baseline="middle">0</text>`,
    `<text x="14" y="${(layout.throughput_top + layout.throughput_bottom) / 2}" transform="rotate(-90 14 ${(layout.throughput_top + layout.throughput_bottom) / 2})" text-anchor="middle">acked/s</text>`,
  ];
}

function timeAxis(span_s: number, x: (seconds: number) => number): string[] {
  const step = niceCeiling(span_s / layout.x_ticks_max);
  const lines: string[] = [];
  for (let second = 0; second <= span_s; second += step) {
    const at = num(x(second));
    lines.push(`<line x1="${at}" y1="${layout.throughput_bottom}" x2="${at}" y2="${layout.throughput_bottom + 4}" stroke="#000000"/>`);
    lines.push(`<text x="${at}" y="${layout.x_labels_y}" text-anchor="middle">${second}</text>`);
  }
  lines.push(`<text x="${(layout.plot_left + layout.plot_right) / 2}" y="${layout.x_labels_y + 16}" text-anchor="middle">time since the run started (s)</text>`);
  return lines;
}

/** A dashed line where the load stopped: what follows is the drain. */
function loadEndMarker(load_end_ms: number, span_s: number, x: (seconds: number) => number): string[] {
  if (!Number.isFinite(load_end_ms) || load_end_ms <= 0 || load_end_ms / 1000 >= span_s) return [];
  const at = num(x(load_end_ms / 1000));
  return [
    `<line x1="${at}" y1="${layout.latency_top}" x2="${at}" y2="${layout.throughput_bottom}" stroke="#555555" stroke-dasharray="4 3"/>`,
    `<text x="${at}" y="${layout.latency_top - 4}" text-anchor="middle" fill="#555555" font-size="10">load end</text>`,
  ];
}

/** One path of bars (one per second with acks), so a long run stays one element. */
function throughputBars(timeline: readonly TimelineSecond[], x: (seconds: number) => number, y: (count: number) => number, span_s: number): string {
  const bar_width = Math.max(0.5, (x(1) - x(0)) * 0.8);
  const bars: string[] = [];
  for (const entry of timeline) {
    if (entry.acked <= 0 || entry.second >= span_s) continue;
    const left = x(entry.second) + (x(1) - x(0) - bar_width) / 2;
    bars.push(`M${num(left)} ${layout.throughput_bottom}V${num(y(entry.acked))}h${num(bar_width)}V${layout.throughput_bottom}Z`);
  }
  return `<path id="acked" d="${bars.join('') || `M${layout.plot_left} ${layout.throughput_bottom}`}" fill="${throughput_colour}" fill-opacity="0.45"/>`;
}

function maxDots(timeline: readonly TimelineSecond[], x: (seconds: number) => number, y: (ms: number) => number): string[] {
  return timeline
    .filter((entry) => entry.latency_max_ms !== null && Number.isFinite(entry.latency_max_ms))
    .map((entry) => `<circle class="max" cx="${num(x(entry.second + 0.5))}" cy="${num(y(entry.latency_max_ms as number))}" r="${layout.max_dot_radius_px}" fill="${max_colour}" fill-opacity="0.5"/>`);
}

/**
 * One latency line. A second with no sends ends the current subpath and the next value starts
 * a new one (M), so the line shows a gap instead of diving to 0. A lone value between gaps is a
 * zero-length segment, which round caps draw as a dot.
 */
function latencyPath(
  name: string,
  timeline: readonly TimelineSecond[],
  value: (entry: TimelineSecond) => number | null,
  colour: string,
  x: (seconds: number) => number,
  y: (ms: number) => number,
): string {
  const commands: string[] = [];
  let drawing = false;
  let previous_second = -2;
  for (const entry of timeline) {
    const ms = value(entry);
    if (ms === null || !Number.isFinite(ms)) {
      drawing = false;
      continue;
    }
    const point = `${num(x(entry.second + 0.5))} ${num(y(ms))}`;
    const joins = drawing && entry.second === previous_second + 1;
    commands.push(joins ? `L${point}` : `M${point}l0 0`);
    drawing = true;
    previous_second = entry.second;
  }
  const d = commands.length === 0 ? `M${layout.plot_left} ${layout.latency_bottom}` : commands.join('');
  return `<path id="${name}" d="${d}" fill="none" stroke="${colour}" stroke-width="1.5" stroke-linejoin="round" stroke-linecap="round"/>`;
}

function legend(verdict: ChaosVerdict): string[] {
  const entries: Array<{ label: string; swatch: string }> = [
    { label: 'p50', swatch: `<line x1="0" y1="0" x2="16" y2="0" stroke="${p50_colour}" stroke-width="2"/>` },
    { label: 'p99', swatch: `<line x1="0" y1="0" x2="16" y2="0" stroke="${p99_colour}" stroke-width="2"/>` },
    { label: 'max', swatch: `<circle cx="8" cy="0" r="2" fill="${max_colour}"/>` },
    { label: 'acked/s', swatch: `<rect class="legend" x="2" y="-5" width="12" height="10" fill="${throughput_colour}" fill-opacity="0.45"/>` },
  ];
  const kinds = [...new Set(verdict.faults.map((fault) => fault.fault))];
  for (const kind of kinds) {
    const colour = fault_colours[kind] ?? max_colour;
    entries.push({ label: kind, swatch: `<rect class="legend" x="2" y="-5" width="12" height="10" fill="${colour}" fill-opacity="0.3" stroke="${colour}"/>` });
  }
  let left: number = layout.plot_left;
  return entries.map((entry) => {
    const group = `<g transform="translate(${left} ${layout.legend_y})">${entry.swatch}<text x="20" y="0" dominant-baseline="middle">${escapeXml(entry.label)}</text></g>`;
    left += 36 + entry.label.length * 7;
    return group;
  });
}

/** 1, 2 or 5 times a power of ten, at or above `value` (axis maxima and tick steps). */
function niceCeiling(value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const factor of [1, 2, 5, 10]) if (factor * power >= value) return Math.max(1, factor * power);
  return 10 * power;
}

/** Coordinates with one decimal: plenty for a 1000-px chart, and a tenth of the text. */
function num(value: number): string {
  return Number.isFinite(value) ? String(Math.round(value * 10) / 10) : '0';
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

function finiteOr(value: number, fallback: number): number {
  return Number.isFinite(value) ? value : fallback;
}

/** Text and attribute values: the five characters XML reserves. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[char] ?? char);
}
