/**
 * The three bench runs over the SDK (Producer, Consumer, Admin), each bounded in count and in
 * time (`--duration`), each shutting down every SDK object it started before it returns.
 */
import { Admin, Consumer, Producer, type ClientTlsOptions, type RouteView } from '../index.js';
import { bench_limits, type BenchAccount, type ConsumeOptions, type E2eOptions, type ProduceOptions } from './bench_options.js';
import { newRunId, type BenchClock } from './bench_payload.js';
import { throughput, type ConsumeReport, type E2eReport, type ProduceReport } from './bench_report.js';
import { ConsumeCounter } from './consume_counter.js';
import type { LatencyHistogram } from './latency_histogram.js';
import { ProduceLoad, type ProduceStats } from './produce_load.js';
import { ProgressLine, type ProgressOutput, type ProgressSample } from './progress_line.js';

export interface RunEnv {
  clock: BenchClock;
  progress: ProgressOutput;
  progress_enabled: boolean;
  /** Prefix of the SDK instance names (one connection set per producer). */
  instance_prefix: string;
  random: () => number;
}

export interface RunResult<R> {
  report: R;
  /** Every message the run was asked for was sent (and, for e2e, received). */
  complete: boolean;
  /** The first failed send, if any (the report counts them all). */
  first_error?: string | undefined;
}

const wait_poll_ms = 20;

export async function runProduce(options: ProduceOptions, env: RunEnv): Promise<RunResult<ProduceReport>> {
  if (options.queues !== undefined) await createTopic(options, options.topic, options.queues);
  const run_id = newRunId(env.random);
  const producers = await startProducers(options, env);
  const load = new ProduceLoad(producers, { ...options, run_id }, env.clock);
  const progress = new ProgressLine(env.progress, () => produceSample('produce', load.stats, options.count, env.clock), env.progress_enabled);
  const bound = setTimeout(() => load.stop('duration'), options.duration_s * 1_000);
  let stopped_by: string;
  try {
    progress.start();
    stopped_by = await load.run();
  } finally {
    clearTimeout(bound);
    progress.stop();
    await Promise.all(producers.map((producer) => producer.shutdown()));
  }
  const stats = load.stats;
  const report: ProduceReport = {
    command: 'produce',
    topic: options.topic,
    run_id,
    count: options.count,
    size_bytes: options.size_bytes,
    producers: options.producers,
    inflight_per_producer: options.inflight,
    rate_target_per_s: options.rate_per_s ?? null,
    sent: stats.sent,
    failed: stats.failed,
    errors: Object.fromEntries(stats.errors),
    window_stalls: stats.window_stalls,
    ...throughput(stats.sent, stats.sent * options.size_bytes, stats.elapsedUs()),
    send_ack_latency_us: stats.ack_latency.summary() ?? null,
    stopped_by,
  };
  stats.ack_latency.destroy();
  return { report, complete: stats.sent === options.count, first_error: stats.first_error };
}

export async function runConsume(options: ConsumeOptions, env: RunEnv): Promise<RunResult<ConsumeReport>> {
  const counter = new ConsumeCounter(options.count, env.clock);
  const consumer = new Consumer({
    namesrv: options.namesrv,
    group: options.group,
    subscriptions: [{ topic: options.topic }],
    fromWhere: options.from,
    concurrency: options.concurrency,
    instanceName: `${env.instance_prefix}-c`,
    tls: options.tls,
    ...options.account,
  });
  consumer.onMessage((message) => counter.onMessage(message.body));
  const start_us = env.clock.nowUs();
  const progress = new ProgressLine(env.progress, () => consumeSample('consume', counter, options.count, start_us, env.clock), env.progress_enabled);
  let stopped_by: string;
  try {
    progress.start();
    await consumer.start();
    stopped_by = await untilConsumed(counter, options, start_us, env.clock);
  } finally {
    progress.stop();
    await consumer.shutdown();
  }
  const elapsed_us = (counter.last_us ?? start_us) - start_us;
  const report: ConsumeReport = {
    command: 'consume',
    topic: options.topic,
    group: options.group,
    count_target: options.count ?? null,
    received: counter.received,
    unique: counter.tracker.unique,
    duplicates: counter.tracker.duplicates,
    unstamped: counter.unstamped,
    ...throughput(counter.received, counter.bytes, elapsed_us),
    first_message_s: counter.first_us === undefined ? null : Math.round((counter.first_us - start_us) / 1e3) / 1e3,
    e2e_latency_us: counter.e2e_latency.summary() ?? null,
    e2e_negative: counter.e2e_latency.negative,
    stopped_by,
  };
  counter.e2e_latency.destroy();
  return { report, complete: options.count === undefined ? counter.received > 0 : counter.received >= options.count };
}

/** Waits for the target, for `idle_ms` without a message (no target), or for the time bound. */
function untilConsumed(counter: ConsumeCounter, options: ConsumeOptions, start_us: number, clock: BenchClock): Promise<string> {
  return new Promise((resolve) => {
    const deadline_us = start_us + options.duration_s * 1e6;
    const poll = setInterval(() => {
      const now_us = clock.nowUs();
      if (options.count === undefined && now_us - (counter.last_us ?? start_us) >= options.idle_ms * 1e3) finish('idle');
      else if (now_us >= deadline_us) finish('duration');
    }, wait_poll_ms);
    const finish = (reason: string): void => {
      clearInterval(poll);
      resolve(reason);
    };
    void counter.target_reached.then(() => finish('count'));
  });
}

/**
 * Producers and a consumer of a new group in one process: the consumer joins first and
 * starts at the end of every queue, then `count` messages go out at `rate_per_s`; the run
 * ends when every acknowledged message of this run reached the listener (or the time bound).
 */
export async function runE2e(options: E2eOptions, env: RunEnv): Promise<RunResult<E2eReport>> {
  const deadline_us = env.clock.nowUs() + options.duration_s * 1e6;
  const route = await createTopic(options, options.topic, options.queues);
  const queue_count = route.queues.reduce((sum, queue) => sum + queue.readQueues, 0);
  const run_id = newRunId(env.random);
  const counter = new ConsumeCounter(undefined, env.clock, run_id);
  const consumer = new Consumer({
    namesrv: options.namesrv,
    group: options.group,
    subscriptions: [{ topic: options.topic }],
    fromWhere: 'last',
    concurrency: options.concurrency,
    instanceName: `${env.instance_prefix}-c`,
    tls: options.tls,
    ...options.account,
  });
  consumer.onMessage((message) => counter.onMessage(message.body));
  let producers: Producer[] = [];
  let stopped_by = 'count';
  let load: ProduceLoad | undefined;
  let progress: ProgressLine | undefined;
  let bound: NodeJS.Timeout | undefined;
  let publish_us = 0;
  try {
    await consumer.start();
    // Sends before the consumer knows where each queue starts would be skipped by 'last'.
    const ready = await until(() => {
      const queues = consumer.stats().queues;
      return queues.length >= queue_count && queues.every((queue) => queue.nextOffset !== undefined);
    }, deadline_us, env.clock);
    if (!ready) stopped_by = 'duration';
    else {
      await sleep(bench_limits.e2e_settle_ms);
      producers = await startProducers(options, env);
      const running = new ProduceLoad(producers, { ...options, run_id }, env.clock);
      load = running;
      progress = new ProgressLine(env.progress, () => produceSample('e2e', running.stats, options.count, env.clock, counter), env.progress_enabled);
      progress.start();
      bound = setTimeout(() => running.stop('duration'), Math.max(0, (deadline_us - env.clock.nowUs()) / 1e3));
      const start_us = env.clock.nowUs();
      stopped_by = await running.run();
      publish_us = env.clock.nowUs() - start_us;
      const drain_until_us = Math.min(deadline_us, env.clock.nowUs() + bench_limits.e2e_drain_ms * 1e3);
      const drained = await until(() => counter.tracker.uniqueOf(run_id) >= running.stats.sent, drain_until_us, env.clock);
      if (!drained && stopped_by === 'count') stopped_by = env.clock.nowUs() >= deadline_us ? 'duration' : 'drain-timeout';
    }
  } finally {
    clearTimeout(bound);
    progress?.stop();
    await Promise.all(producers.map((producer) => producer.shutdown()));
    await consumer.shutdown();
  }
  const stats = load?.stats;
  const report: E2eReport = {
    command: 'e2e',
    topic: options.topic,
    group: options.group,
    run_id,
    count: options.count,
    size_bytes: options.size_bytes,
    producers: options.producers,
    inflight_per_producer: options.inflight,
    rate_target_per_s: options.rate_per_s,
    rate_achieved_per_s: publish_us > 0 && stats !== undefined ? Math.round(stats.issued / (publish_us / 1e6)) : 0,
    sent: stats?.sent ?? 0,
    failed: stats?.failed ?? 0,
    errors: Object.fromEntries(stats?.errors ?? []),
    window_stalls: stats?.window_stalls ?? 0,
    received: counter.tracker.uniqueOf(run_id),
    duplicates: counter.tracker.duplicates,
    send_ack_latency_us: stats?.ack_latency.summary() ?? null,
    e2e_latency_us: counter.e2e_latency.summary() ?? null,
    stopped_by,
  };
  stats?.ack_latency.destroy();
  counter.e2e_latency.destroy();
  return { report, complete: report.sent === options.count && report.received === options.count, first_error: stats?.first_error };
}

async function startProducers(options: Omit<ProduceOptions, 'rate_per_s'>, env: RunEnv): Promise<Producer[]> {
  const producers: Producer[] = [];
  for (let index = 0; index < options.producers; index++) {
    const producer = new Producer({ namesrv: options.namesrv, instanceName: `${env.instance_prefix}-p${index}`, sendTimeoutMs: options.send_timeout_ms, tls: options.tls, ...options.account });
    producers.push(producer);
    await producer.start();
  }
  return producers;
}

async function createTopic(options: { namesrv: string; tls?: ClientTlsOptions | undefined; account?: BenchAccount | undefined }, topic: string, queues: number | undefined): Promise<RouteView> {
  const admin = new Admin({ namesrv: options.namesrv, tls: options.tls, ...options.account });
  try {
    return await admin.createTopic({ topic, ...(queues === undefined ? {} : { queues }) });
  } finally {
    await admin.close();
  }
}

function produceSample(label: string, stats: ProduceStats, count: number, clock: BenchClock, counter?: ConsumeCounter): ProgressSample {
  const details = [`failed ${stats.failed}`, `ack p99 ${p99Ms(stats.ack_latency)}`];
  if (counter !== undefined) details.push(`received ${counter.received}`, `e2e p99 ${p99Ms(counter.e2e_latency)}`);
  return { label, done: stats.sent, target: count, elapsed_ms: stats.first_send_us === undefined ? 0 : (clock.nowUs() - stats.first_send_us) / 1e3, details };
}

function consumeSample(label: string, counter: ConsumeCounter, count: number | undefined, start_us: number, clock: BenchClock): ProgressSample {
  return { label, done: counter.received, target: count, elapsed_ms: (clock.nowUs() - start_us) / 1e3, details: [`duplicates ${counter.tracker.duplicates}`, `e2e p99 ${p99Ms(counter.e2e_latency)}`] };
}

function p99Ms(histogram: LatencyHistogram): string {
  return histogram.samples === 0 ? '-' : `${(histogram.valueAtPercentileUs(99) / 1e3).toFixed(2)} ms`;
}

/** Polls `check` until it holds (true) or the deadline passes (false). */
async function until(check: () => boolean, deadline_us: number, clock: BenchClock): Promise<boolean> {
  for (;;) {
    if (check()) return true;
    if (clock.nowUs() >= deadline_us) return false;
    await sleep(wait_poll_ms);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
