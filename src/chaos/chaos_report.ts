/**
 * The chaos run's outputs as text: the terminal summary (summary.txt) and the JSON file
 * (result.json). The JSON holds the settings and the verdict (capped lists, faults with their
 * recovery times, the per-second timeline) but not the sends and deliveries themselves: at
 * 2,000 msg/s for 10 minutes they would be hundreds of megabytes.
 */
import { formatTable, type Cell } from '../client/admin_table.js';
import type { ChaosHistory, ChaosSettings } from './chaos_history.js';
import type { ChaosVerdict, OrderViolation } from './chaos_checker.js';

export const chaos_report_limits = {
  /** Ids and violations the summary names; the JSON file has up to the verdict's cap. */
  summary_examples_max: 10,
  /** The version of result.json's layout, for tools that read it. */
  json_format: 'mq-node-chaos-result/1',
} as const;

export function formatChaosSummary(verdict: ChaosVerdict, settings: ChaosSettings): string {
  return [
    settingsLine(settings),
    clusterLine(settings),
    '',
    countsTable(verdict),
    faultsTable(verdict),
    verdictLines(verdict),
    ...examples('lost (acked, never delivered)', verdict.lost, verdict.lost_count),
    ...examples('failed but delivered', verdict.failed_but_delivered, verdict.failed_but_delivered_count),
    ...examples('never sent', verdict.never_sent, verdict.never_sent_count),
    ...examples('corrupted', verdict.corrupted, verdict.corrupted_count),
    ...examples('order violations', verdict.order_violations.map(violationText), verdict.order_violation_count),
  ].join('\n') + '\n';
}

/** The text of result.json: pretty-printed, ending in a newline. */
export function chaosJson(history: ChaosHistory, verdict: ChaosVerdict): string {
  const document = {
    format: chaos_report_limits.json_format,
    started_at: history.started_at,
    settings: history.settings,
    sends_recorded: history.sends.length,
    deliveries_recorded: history.deliveries.length,
    verdict,
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

function settingsLine(s: ChaosSettings): string {
  const nemesis = s.nemesis.length === 0 ? 'none' : s.nemesis.join(', ');
  return `chaos: nemesis ${nemesis} (every ${s.fault_interval_ms} ms for ${s.fault_duration_ms} ms), ${s.rate_per_s} msg/s for ${s.duration_ms / 1000} s, seed ${s.seed}`;
}

function clusterLine(s: ChaosSettings): string {
  return `cluster: ${s.namesrvs} namesrv(s), ${s.groups} group(s) x ${s.slaves} slave(s), replication ${s.replication}, flush ${s.flush}; ${s.producers} producer(s), ${s.consumers} consumer(s), ${s.queues} queue(s)`;
}

function countsTable(v: ChaosVerdict): string {
  const c = v.counts;
  const rows: Cell[][] = [
    ['sent', c.sent, ''],
    ['acked', c.acked, ''],
    ['failed', c.failed, 'told "not stored"'],
    ['unknown', c.unknown, `${v.unknown_delivered} of them delivered (either is correct)`],
    ['delivered', c.delivered_messages, `distinct messages, in ${c.deliveries} deliveries`],
    ['lost', v.lost_count, v.rules.no_loss ? 'acked, never delivered (fails: no-loss mode)' : 'acked, never delivered (allowed in this mode)'],
    ['duplicated', v.duplicated, `${v.duplicate_deliveries} extra deliveries`],
    ['never sent', v.never_sent_count + v.foreign_deliveries, `${v.never_sent_count} unknown id(s), ${v.foreign_deliveries} foreign body(ies)`],
    ['corrupted', v.corrupted_count, ''],
    ['failed but delivered', v.failed_but_delivered_count, ''],
    ['order violations', v.order_violation_count, v.rules.orderly ? 'orderly consumption' : 'not checked: consumption was concurrent'],
    ['moved', v.moved, 'acked on one broker/queue/offset, delivered from another'],
  ];
  return formatTable(['MESSAGES', 'COUNT', 'NOTE'], rows);
}

function faultsTable(v: ChaosVerdict): string {
  if (v.faults.length === 0) return 'faults: none injected\n';
  const rows = v.faults.map((fault): Cell[] => [
    fault.fault,
    fault.target,
    seconds(fault.start_ms),
    seconds(fault.end_ms),
    fault.recovery_ms === null ? '-' : Math.round(fault.recovery_ms),
    fault.how,
  ]);
  return formatTable(['FAULT', 'TARGET', 'START (s)', 'END (s)', 'RECOVERY (ms)', 'HOW'], rows);
}

function verdictLines(v: ChaosVerdict): string {
  if (v.passed) return 'PASS';
  return ['FAIL', ...v.reasons.map((reason) => `  - ${reason}`)].join('\n');
}

/** "name (first n of total): a, b, ..." — nothing when the list is empty. */
function examples(name: string, items: readonly string[], total: number): string[] {
  if (total === 0) return [];
  const shown = items.slice(0, chaos_report_limits.summary_examples_max);
  const head = shown.length < total ? `${name} (first ${shown.length} of ${total})` : `${name} (${total})`;
  return [`${head}: ${shown.join(', ')}`];
}

function violationText(violation: OrderViolation): string {
  return `${violation.id} at offset ${violation.offset} after ${violation.after_offset} in ${violation.queue} at ${Math.round(violation.at_ms)} ms`;
}

/** Milliseconds as seconds with one decimal: fault windows read better in seconds. */
function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
