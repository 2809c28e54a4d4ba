import { parseArgs } from 'node:util';
import { nemesis_faults, type ChaosSettings, type NemesisFault } from './chaos_history.js';

/**
 * `mq-node chaos` flags: their defaults and bounds, and a parser that turns every mistake
 * into one line naming the flag (ChaosUsageError) before anything starts.
 */

export const chaos_limits = {
  duration_ms_default: 120_000,
  duration_ms_min: 5_000,
  duration_ms_max: 24 * 3_600_000,
  rate_per_s_default: 2_000,
  rate_per_s_max: 100_000,
  /** Sends of one run (rate × duration): every send and delivery is kept in memory until the check. */
  sends_max: 20_000_000,
  namesrvs_allowed: [1, 3] as readonly number[],
  groups_default: 2,
  groups_max: 8,
  slaves_default: 1,
  slaves_max: 3,
  producers_default: 2,
  producers_max: 32,
  consumers_default: 2,
  consumers_max: 32,
  queues_default: 4,
  queues_max: 64,
  size_bytes_default: 256,
  size_bytes_min: 32,
  size_bytes_max: 64 << 10,
  fault_interval_ms_default: 10_000,
  fault_interval_ms_min: 1_000,
  fault_duration_ms_default: 4_000,
  fault_duration_ms_min: 100,
  /** The first fault waits this long: the cluster and the clients settle first. */
  warm_up_ms: 4_000,
  /** After the load stops, how long consumers get to receive every acked message. */
  drain_ms_default: 60_000,
  drain_ms_min: 1_000,
  drain_ms_max: 600_000,
} as const;

export class ChaosUsageError extends Error {}

export interface ChaosRequest {
  command: 'run' | 'help';
  settings: ChaosSettings;
  size_bytes: number;
  drain_ms: number;
  /** Where the summary, the JSON file, the chart and the nodes' logs go. */
  out_dir: string;
  /** Write the full sends and deliveries too (large). */
  keep_history: boolean;
  /** How a partition cuts a node (chaos_network.ts): `auto` takes namespaces where they can be made. */
  partition_by: 'auto' | 'netns' | 'hook';
}

export const chaos_usage = `mq-node chaos: a cluster of its own on this machine, producers and consumers against it, and a
nemesis that injects faults; then a check for lost, duplicated, never-sent and out-of-order messages.

  --duration 120s          how long the load runs (s, m or ms suffix; plain number: seconds)
  --nemesis kill9,pause    faults to pick from: ${nemesis_faults.join(', ')}
  --seed N                 makes the fault schedule repeatable (default: from the clock, printed)
  --rate 2000              messages per second over all producers
  --namesrvs 1|3           nameservers (3: a replicated nameserver cluster)
  --groups 2               broker groups (each a master and its slaves)
  --slaves 1               slaves per group
  --replication sync|async broker replication (sync: no acknowledged message may be lost)
  --flush sync|async       broker flush
  --producers 2 --consumers 2 --queues 4 --size 256
  --fault-interval 10s     a fault starts this often
  --fault-duration 4s      and is healed after this long
  --drain 60s              after the load, how long consumers may take to receive every acked message
  --out DIR                where results go (default ./chaos-<time>)
  --keep-history           also write every send and delivery (history.json)
  --partition-by auto      netns (a network namespace per node; root and iproute2), hook (the
                           nodes' own network fault hook), or auto: netns where it can be made

Writes summary.txt, result.json and latency.svg to --out, and each node's log to nodes/; the
nodes' data directories (data/) are kept when the run fails and removed when it passes. Exit code 0: the run passed; 1: it did
not (the summary says why); 2: bad flags.
`;

/** Parses the words after `chaos`; `now` names the default output directory and seed. */
export function parseChaosArgs(argv: readonly string[], now: Date = new Date()): ChaosRequest {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean' },
        duration: { type: 'string' },
        nemesis: { type: 'string' },
        seed: { type: 'string' },
        rate: { type: 'string' },
        namesrvs: { type: 'string' },
        groups: { type: 'string' },
        slaves: { type: 'string' },
        replication: { type: 'string' },
        flush: { type: 'string' },
        producers: { type: 'string' },
        consumers: { type: 'string' },
        queues: { type: 'string' },
        size: { type: 'string' },
        'fault-interval': { type: 'string' },
        'fault-duration': { type: 'string' },
        drain: { type: 'string' },
        out: { type: 'string' },
        'keep-history': { type: 'boolean' },
        'partition-by': { type: 'string' },
      },
    });
  } catch (error) {
    throw new ChaosUsageError((error as Error).message);
  }
  const values = parsed.values;
  const settings: ChaosSettings = {
    duration_ms: duration('duration', values.duration, chaos_limits.duration_ms_default, chaos_limits.duration_ms_min, chaos_limits.duration_ms_max),
    nemesis: nemesisList(values.nemesis),
    seed: integer('seed', values.seed, now.getTime() % 1_000_000_007, 0, 2 ** 32 - 1),
    rate_per_s: integer('rate', values.rate, chaos_limits.rate_per_s_default, 1, chaos_limits.rate_per_s_max),
    namesrvs: oneOf('namesrvs', values.namesrvs, 1, chaos_limits.namesrvs_allowed),
    groups: integer('groups', values.groups, chaos_limits.groups_default, 1, chaos_limits.groups_max),
    slaves: integer('slaves', values.slaves, chaos_limits.slaves_default, 0, chaos_limits.slaves_max),
    replication: mode('replication', values.replication, 'sync'),
    flush: mode('flush', values.flush, 'sync'),
    producers: integer('producers', values.producers, chaos_limits.producers_default, 1, chaos_limits.producers_max),
    consumers: integer('consumers', values.consumers, chaos_limits.consumers_default, 1, chaos_limits.consumers_max),
    queues: integer('queues', values.queues, chaos_limits.queues_default, 1, chaos_limits.queues_max),
    fault_interval_ms: duration('fault-interval', values['fault-interval'], chaos_limits.fault_interval_ms_default, chaos_limits.fault_interval_ms_min, chaos_limits.duration_ms_max),
    fault_duration_ms: duration('fault-duration', values['fault-duration'], chaos_limits.fault_duration_ms_default, chaos_limits.fault_duration_ms_min, chaos_limits.duration_ms_max),
  };
  if (settings.fault_duration_ms >= settings.fault_interval_ms) {
    throw new ChaosUsageError(`--fault-duration (${settings.fault_duration_ms} ms) must be shorter than --fault-interval (${settings.fault_interval_ms} ms): one fault at a time`);
  }
  if ((settings.rate_per_s * settings.duration_ms) / 1_000 > chaos_limits.sends_max) {
    throw new ChaosUsageError(`--rate ${settings.rate_per_s} for --duration ${settings.duration_ms / 1_000} s is more than ${chaos_limits.sends_max} sends, all kept in memory until the check; lower one of them`);
  }
  if (settings.replication === 'sync' && settings.slaves === 0) {
    throw new ChaosUsageError('--replication sync needs --slaves 1 or more (a master alone cannot acknowledge a sync send)');
  }
  return {
    command: values.help === true ? 'help' : 'run',
    settings,
    size_bytes: integer('size', values.size, chaos_limits.size_bytes_default, chaos_limits.size_bytes_min, chaos_limits.size_bytes_max),
    drain_ms: duration('drain', values.drain, chaos_limits.drain_ms_default, chaos_limits.drain_ms_min, chaos_limits.drain_ms_max),
    out_dir: values.out ?? `chaos-${now.toISOString().replace(/[:.]/g, '-')}`,
    keep_history: values['keep-history'] === true,
    partition_by: partitionBy(values['partition-by']),
  };
}

function partitionBy(text: string | undefined): 'auto' | 'netns' | 'hook' {
  if (text === undefined) return 'auto';
  if (text !== 'auto' && text !== 'netns' && text !== 'hook') throw new ChaosUsageError(`--partition-by must be auto, netns or hook, not ${JSON.stringify(text)}`);
  return text;
}

function integer(flag: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ChaosUsageError(`--${flag} must be an integer ${min}..${max}, not ${JSON.stringify(text)}`);
  }
  return value;
}

function oneOf(flag: string, text: string | undefined, fallback: number, allowed: readonly number[]): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !allowed.includes(value)) throw new ChaosUsageError(`--${flag} must be one of ${allowed.join(', ')}, not ${JSON.stringify(text)}`);
  return value;
}

/** `120s`, `2m`, `500ms` or a plain number of seconds, in milliseconds. */
function duration(flag: string, text: string | undefined, fallback: number, min_ms: number, max_ms: number): number {
  if (text === undefined) return fallback;
  const match = /^(\d+)(ms|s|m|h)?$/.exec(text);
  const unit_ms = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[match?.[2] ?? 's'] ?? 1_000;
  const value = match === null ? NaN : Number(match[1]) * unit_ms;
  if (!Number.isSafeInteger(value) || value < min_ms || value > max_ms) {
    throw new ChaosUsageError(`--${flag} must be a duration from ${min_ms} ms to ${max_ms / 1_000} s (like 30s, 2m, 500ms), not ${JSON.stringify(text)}`);
  }
  return value;
}

function mode(flag: string, text: string | undefined, fallback: 'sync' | 'async'): 'sync' | 'async' {
  if (text === undefined) return fallback;
  if (text !== 'sync' && text !== 'async') throw new ChaosUsageError(`--${flag} must be sync or async, not ${JSON.stringify(text)}`);
  return text;
}

function nemesisList(text: string | undefined): NemesisFault[] {
  if (text === undefined) return ['kill9', 'pause'];
  const names = text.split(',').map((name) => name.trim()).filter((name) => name !== '');
  const unknown = names.filter((name) => !(nemesis_faults as readonly string[]).includes(name));
  if (names.length === 0 || unknown.length > 0) {
    throw new ChaosUsageError(`--nemesis lists faults from ${nemesis_faults.join(', ')}; ${unknown.length > 0 ? `${unknown.join(', ')} is not one` : 'it is empty'}`);
  }
  return [...new Set(names)] as NemesisFault[];
}
