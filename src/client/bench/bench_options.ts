import { checkName } from '../../protocol/index.js';
import { cli_tls_usage, cliTls, CliTlsError } from '../cli_tls.js';
import type { ClientTlsOptions } from '../client_options.js';

/**
 * `mq-node bench` flags: the three commands, their defaults and bounds, and a parser that
 * turns every mistake into one line naming the flag (BenchUsageError) before any I/O.
 */

export const bench_limits = {
  /** Messages of one run (produce, consume, e2e). */
  count_default: 10_000,
  count_max: 100_000_000,
  /** Body bytes: at least the stamp to carry latencies, at most the broker's default body limit. */
  size_bytes_default: 1_024,
  size_bytes_min: 1,
  size_bytes_max: 4 << 20,
  /** Producer instances of one run, each with its own connections. */
  producers_default: 1,
  producers_max: 64,
  /** Unacknowledged sends per producer. */
  inflight_default: 64,
  inflight_max: 10_000,
  /** Messages per second over all producers. */
  rate_per_s_max: 1_000_000,
  /** Every run ends after this many seconds, finished or not. */
  duration_s_default: 300,
  duration_s_max: 86_400,
  /** Consume without --count ends after this long without a message. */
  idle_ms_default: 10_000,
  idle_ms_max: 3_600_000,
  /** Listener calls at once in the bench consumer. */
  concurrency_default: 64,
  concurrency_max: 1_024,
  /** Queues of a topic the bench creates (--queues). */
  queues_max: 1_024,
  /** A send's budget, retries included (the SDK's default is 3000). */
  send_timeout_ms_default: 3_000,
  send_timeout_ms_max: 600_000,
  /** A produce run stops issuing sends after this many failed ones. */
  errors_max_default: 100,
  /** e2e: after the last send, how long to wait for the consumer to see every acked message. */
  e2e_drain_ms: 30_000,
  /** e2e: pause after the consumer owns its queues, before the first send. */
  e2e_settle_ms: 300,
} as const;

/** Where `--namesrv` and MQ_NAMESRV are both missing: the standalone default. */
export const namesrv_default = '127.0.0.1:9876';

export type BenchCommandName = 'produce' | 'consume' | 'e2e';

export interface ProduceOptions {
  namesrv: string;
  topic: string;
  count: number;
  size_bytes: number;
  producers: number;
  inflight: number;
  /** Messages per second over all producers; undefined: as fast as the in-flight bound allows. */
  rate_per_s: number | undefined;
  /** Create the topic with this many queues first (Admin.createTopic); undefined: auto-create. */
  queues: number | undefined;
  send_timeout_ms: number;
  errors_max: number;
  duration_s: number;
  /** The SDK's tls option (--tls, --tls-ca, --tls-cert, --tls-key); absent: plain TCP. */
  tls?: ClientTlsOptions | undefined;
  /** The account requests are signed with (--access-key, the secret in $MQ_SECRET_KEY); absent: unsigned. */
  account?: BenchAccount | undefined;
}

export interface BenchAccount {
  accessKey: string;
  secretKey: string;
}

export type FromWhere = 'first' | 'last';

export interface ConsumeOptions {
  namesrv: string;
  topic: string;
  group: string;
  /** Stop after this many deliveries; undefined: stop after `idle_ms` without one. */
  count: number | undefined;
  from: FromWhere;
  concurrency: number;
  idle_ms: number;
  duration_s: number;
  tls?: ClientTlsOptions | undefined;
  account?: BenchAccount | undefined;
}

export interface E2eOptions extends Omit<ProduceOptions, 'rate_per_s'> {
  rate_per_s: number;
  group: string;
  concurrency: number;
}

export interface OutputOptions {
  json: boolean;
  quiet: boolean;
}

export type BenchRequest =
  | { command: 'help' }
  | ({ command: 'produce'; options: ProduceOptions } & OutputOptions)
  | ({ command: 'consume'; options: ConsumeOptions } & OutputOptions)
  | ({ command: 'e2e'; options: E2eOptions } & OutputOptions);

export class BenchUsageError extends Error {
  override readonly name = 'BenchUsageError';
}

export const bench_usage = `usage: mq-node bench produce|consume|e2e [flags]
  produce --topic T [--count N] [--size BYTES] [--producers P] [--inflight K] [--rate R]
          [--queues Q] [--send-timeout-ms MS] [--max-errors E]
          sends N messages of BYTES bytes from P producers, each with at most K unacknowledged
          sends (P x K in flight); --rate paces all producers together to R msgs/s;
          --queues creates the topic with Q queues first (otherwise the broker auto-creates it)
  consume --topic T --group G [--count N] [--from first|last] [--concurrency C] [--idle-ms MS]
          consumes until N messages arrived (without --count: until none came for MS)
  e2e     --topic T --rate R [--group G] [--count N] [produce flags] [--concurrency C]
          a consumer and the producers in one process: N messages at R msgs/s, end-to-end
          latency (send time stamped in the body -> listener) and send -> ack latency
common:   --namesrv h:p (default $MQ_NAMESRV, then ${namesrv_default}) --duration S (bound, default
          ${bench_limits.duration_s_default}) --json (one JSON object on stdout) --quiet (no progress on stderr)
          ${cli_tls_usage}
          access control: --access-key K, its secret in $MQ_SECRET_KEY
exit codes: 0 done, 1 not done (time bound, failed sends, cluster unreachable), 2 bad flags
`;

type FlagKind = 'string' | 'boolean';

const common_flags: Record<string, FlagKind> = {
  namesrv: 'string', topic: 'string', count: 'string', duration: 'string', json: 'boolean', quiet: 'boolean', help: 'boolean',
  tls: 'boolean', 'tls-ca': 'string', 'tls-cert': 'string', 'tls-key': 'string', 'access-key': 'string',
};
const produce_flags: Record<string, FlagKind> = {
  size: 'string', producers: 'string', inflight: 'string', rate: 'string', queues: 'string', 'send-timeout-ms': 'string', 'max-errors': 'string',
};
const consume_flags: Record<string, FlagKind> = { group: 'string', from: 'string', concurrency: 'string', 'idle-ms': 'string' };

const flags_of: Record<BenchCommandName, Record<string, FlagKind>> = {
  produce: { ...common_flags, ...produce_flags },
  consume: { ...common_flags, ...consume_flags },
  e2e: { ...common_flags, ...produce_flags, group: 'string', concurrency: 'string' },
};

function isCommand(word: string | undefined): word is BenchCommandName {
  return word === 'produce' || word === 'consume' || word === 'e2e';
}

/** Parses the words after `bench`; throws BenchUsageError with one line naming what is wrong. */
export function parseBenchArgs(argv: readonly string[], env: NodeJS.ProcessEnv): BenchRequest {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') return { command: 'help' };
  if (!isCommand(command)) throw new BenchUsageError(`unknown bench command ${JSON.stringify(command)}: use produce, consume or e2e`);
  const flags = readFlags(rest, flags_of[command], command);
  if (flags.has('help')) return { command: 'help' };
  const output = { json: flags.has('json'), quiet: flags.has('quiet') };
  const namesrv = flags.get('namesrv') ?? env['MQ_NAMESRV'] ?? namesrv_default;
  const topic = required(flags, 'topic', command);
  const duration_s = integerFlag(flags, 'duration', bench_limits.duration_s_default, 1, bench_limits.duration_s_max);
  const tls = benchTls(flags);
  const account = benchAccount(flags, env);
  switch (command) {
    case 'produce':
      return { command, ...output, options: { ...produceOptions(flags, namesrv, topic, duration_s, tls, account), rate_per_s: optionalInteger(flags, 'rate', 1, bench_limits.rate_per_s_max) } };
    case 'consume':
      return {
        command,
        ...output,
        options: {
          namesrv,
          topic,
          group: required(flags, 'group', command),
          count: optionalInteger(flags, 'count', 1, bench_limits.count_max),
          from: fromFlag(flags),
          concurrency: integerFlag(flags, 'concurrency', bench_limits.concurrency_default, 1, bench_limits.concurrency_max),
          idle_ms: integerFlag(flags, 'idle-ms', bench_limits.idle_ms_default, 1, bench_limits.idle_ms_max),
          duration_s,
          tls,
          account,
        },
      };
    case 'e2e': {
      const rate_per_s = optionalInteger(flags, 'rate', 1, bench_limits.rate_per_s_max);
      if (rate_per_s === undefined) throw new BenchUsageError('--rate is missing: e2e sends at a fixed rate, e.g. --rate 2000');
      return {
        command,
        ...output,
        options: {
          ...produceOptions(flags, namesrv, topic, duration_s, tls, account),
          rate_per_s,
          group: checkedName('group', flags.get('group') ?? `bench_e2e_${Date.now()}`),
          concurrency: integerFlag(flags, 'concurrency', bench_limits.concurrency_default, 1, bench_limits.concurrency_max),
        },
      };
    }
  }
}

/** The TLS flags read into the SDK's option (the files are read here: a bad one is a usage error). */
function benchTls(flags: Map<string, string>): ClientTlsOptions | undefined {
  try {
    return cliTls({ tls: flags.has('tls'), 'tls-ca': flags.get('tls-ca'), 'tls-cert': flags.get('tls-cert'), 'tls-key': flags.get('tls-key') });
  } catch (error) {
    if (error instanceof CliTlsError) throw new BenchUsageError(error.message);
    throw error;
  }
}

/** `--access-key` with its secret from $MQ_SECRET_KEY (a flag would show in the process list). */
function benchAccount(flags: Map<string, string>, env: NodeJS.ProcessEnv): BenchAccount | undefined {
  const access_key = flags.get('access-key');
  if (access_key === undefined) return undefined;
  const secret_key = env['MQ_SECRET_KEY'];
  if (secret_key === undefined) throw new BenchUsageError('--access-key needs its secret in $MQ_SECRET_KEY');
  return { accessKey: access_key, secretKey: secret_key };
}

function produceOptions(flags: Map<string, string>, namesrv: string, topic: string, duration_s: number, tls: ClientTlsOptions | undefined, account: BenchAccount | undefined): Omit<ProduceOptions, 'rate_per_s'> {
  return {
    namesrv,
    topic,
    count: integerFlag(flags, 'count', bench_limits.count_default, 1, bench_limits.count_max),
    size_bytes: integerFlag(flags, 'size', bench_limits.size_bytes_default, bench_limits.size_bytes_min, bench_limits.size_bytes_max),
    producers: integerFlag(flags, 'producers', bench_limits.producers_default, 1, bench_limits.producers_max),
    inflight: integerFlag(flags, 'inflight', bench_limits.inflight_default, 1, bench_limits.inflight_max),
    queues: optionalInteger(flags, 'queues', 1, bench_limits.queues_max),
    send_timeout_ms: integerFlag(flags, 'send-timeout-ms', bench_limits.send_timeout_ms_default, 1, bench_limits.send_timeout_ms_max),
    errors_max: integerFlag(flags, 'max-errors', bench_limits.errors_max_default, 1, bench_limits.count_max),
    duration_s,
    tls,
    account,
  };
}

/**
 * `--flag value` and `--flag=value`; booleans take no value. Positionals are refused: every
 * input of a bench run is a named flag, so a stray word is a typo worth reporting.
 */
function readFlags(words: readonly string[], known: Record<string, FlagKind>, command: string): Map<string, string> {
  const flags = new Map<string, string>();
  for (let index = 0; index < words.length; index++) {
    const word = words[index] as string;
    if (!word.startsWith('--')) throw new BenchUsageError(`unexpected argument ${JSON.stringify(word)}: bench ${command} takes only --flags`);
    const equals = word.indexOf('=');
    const name = word.slice(2, equals < 0 ? undefined : equals);
    const kind = known[name];
    if (kind === undefined) throw new BenchUsageError(`unknown flag --${name} for bench ${command} (see mq-node bench --help)`);
    if (flags.has(name)) throw new BenchUsageError(`--${name} is given twice`);
    if (kind === 'boolean') {
      if (equals >= 0) throw new BenchUsageError(`--${name} takes no value`);
      flags.set(name, 'true');
      continue;
    }
    let value: string | undefined;
    if (equals >= 0) value = word.slice(equals + 1);
    else {
      value = words[index + 1];
      // The next word is a value unless it is another flag: `--topic --count 5` forgot the topic.
      if (value === undefined || value.startsWith('--')) throw new BenchUsageError(`--${name} needs a value`);
      index++;
    }
    if (value === '') throw new BenchUsageError(`--${name} needs a value`);
    flags.set(name, value);
  }
  return flags;
}

function required(flags: Map<string, string>, name: 'topic' | 'group', command: string): string {
  const value = flags.get(name);
  if (value === undefined) throw new BenchUsageError(`--${name} is missing: bench ${command} needs it`);
  return checkedName(name, value);
}

/** Topic and group names are checked here, as the SDK would, so a typo costs no round trip. */
function checkedName(what: 'topic' | 'group', name: string): string {
  const bad = checkName(what, name);
  if (bad !== undefined) throw new BenchUsageError(`--${what}: ${bad.message}`);
  return name;
}

function optionalInteger(flags: Map<string, string>, name: string, min: number, max: number): number | undefined {
  const text = flags.get(name);
  if (text === undefined) return undefined;
  // Underscores allowed as digit separators: --count 200_000.
  const value = /^\d[\d_]*$/.test(text) ? Number(text.replaceAll('_', '')) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new BenchUsageError(`--${name} must be a whole number ${min}..${max}, not ${JSON.stringify(text)}`);
  return value;
}

function integerFlag(flags: Map<string, string>, name: string, fallback: number, min: number, max: number): number {
  return optionalInteger(flags, name, min, max) ?? fallback;
}

function fromFlag(flags: Map<string, string>): FromWhere {
  const from = flags.get('from') ?? 'first';
  if (from !== 'first' && from !== 'last') throw new BenchUsageError(`--from must be first or last, not ${JSON.stringify(from)}`);
  return from;
}
