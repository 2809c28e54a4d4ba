import os from 'node:os';
import path from 'node:path';
import { checkName, retryTopicOf } from '../../protocol/index.js';
import { MqError } from '../../runtime/errors.js';
import { resolveClientOptions, type ClientOptions, type ResolvedClientOptions } from '../client_options.js';
import { allocation_strategy_names, type AllocationStrategyName } from './queue_allocation.js';
import { tagCheckOf, type TagCheck } from './tag_check.js';

/**
 * The Consumer's options (contract.md, "Client SDK"), their defaults and bounds. Every bound
 * is named here; a value outside it is a BAD_REQUEST at construction, before any I/O.
 */
export const consumer_limits = {
  /**
   * The contract's default: clustering, the broker's attempt count at which a failed message
   * goes to the dead-letter topic; orderly, local retries before that; broadcasting, local
   * retries before the message is given up on.
   */
  max_reconsume_times_default: 16,
  max_reconsume_times_max: 1_000,
  /** Listener calls running at once over all queues (orderly: at most one per queue). */
  concurrency_default: 16,
  concurrency_max: 1_024,
  /** Messages asked for per pull. */
  pull_batch_size_default: 32,
  pull_batch_size_max: 1_024,
  /** A queue's buffer (waiting + in the listener) at which its pulling pauses (RocketMQ: 1000). */
  queue_buffer_messages_default: 1_000,
  queue_buffer_messages_max: 100_000,
  queue_buffer_bytes_default: 64 << 20,
  queue_buffer_bytes_max: 1 << 30,
  /** Pulling resumes when a paused buffer falls to this fraction. */
  queue_buffer_resume_fraction: 0.5,
  /** How long the broker holds a pull at the end of a queue (the broker caps it at 30 s). */
  long_poll_timeout_ms_default: 15_000,
  long_poll_timeout_ms_max: 30_000,
  /** Extra time a pull's reply may take beyond its long poll before it counts as lost. */
  pull_reply_margin_ms: 5_000,
  /** Heartbeat to the brokers and check of the group's members (rebalance), this often. */
  rebalance_interval_ms_default: 2_000,
  rebalance_interval_ms_min: 10,
  /** Below the broker's 120 s member expiry, with room for a missed heartbeat or two. */
  rebalance_interval_ms_max: 30_000,
  /** Acked offsets are committed this often (and on release and shutdown). */
  commit_interval_ms_default: 1_000,
  commit_interval_ms_min: 10,
  commit_interval_ms_max: 600_000,
  /** Local redelivery after a failure waits base * 2^(attempt-1) with jitter, up to the max. */
  retry_delay_ms_default: 200,
  retry_delay_max_ms_default: 10_000,
  retry_delay_ms_max: 3_600_000,
  /** A released queue (rebalance, shutdown) waits this long for its listener calls, then gives them up. */
  drain_timeout_ms_default: 10_000,
  drain_timeout_ms_max: 600_000,
  /** Subscriptions of one consumer. */
  subscriptions_max: 64,
} as const;

export type ConsumeModeOption = 'clustering' | 'broadcasting';
export type FromWhereOption = 'last' | 'first';

export interface SubscriptionOption {
  topic: string;
  /** Tag filter: `'*'` (default) for every message, or tags like `'a||b'`. */
  tags?: string;
}

/** Where the consumer reports what it cannot throw to anyone (a failed pull, a failed commit). */
export interface ConsumerLogger {
  warn(message: string): void;
  /** Expected, transient conditions (the group's retry topic not routed yet); optional. */
  debug?(message: string): void;
}

export interface ConsumerOptions extends ClientOptions {
  group: string;
  subscriptions: readonly SubscriptionOption[];
  /** `clustering` (default): each queue to one member; `broadcasting`: every member gets everything. */
  mode?: ConsumeModeOption;
  /** How clustering members divide queues (default `averagely`); see queue_allocation.ts. */
  allocation?: AllocationStrategyName;
  /**
   * Attempts before a failing message is dead-lettered (default 16). Clustering: the failed
   * message is sent back to the broker, which redelivers it through the group's retry topic
   * and, once it was consumed this many times, stores it in the group's dead-letter topic;
   * orderly: retried locally this many times, then dead-lettered; broadcasting: retried
   * locally this many times, then given up on (event 'gave-up').
   */
  maxReconsumeTimes?: number;
  /** Where a queue starts when the group has no offset for it yet (default `last`). */
  fromWhere?: FromWhereOption;
  /** One message at a time per queue, in offset order, a failure retried before the next. */
  orderly?: boolean;
  /** Listener calls at once over all queues (default 16). */
  concurrency?: number;
  /** Messages asked for per pull (default 32). */
  pullBatchSize?: number;
  /** Per-queue buffer bounds at which pulling pauses (defaults 1000 messages, 64 MiB). */
  queueBufferMessages?: number;
  queueBufferBytes?: number;
  /** How long a pull waits at the end of a queue (default 15000). */
  longPollTimeoutMs?: number;
  /** Heartbeat and membership check period (default 2000). */
  rebalanceIntervalMs?: number;
  /** Offset commit period (default 1000). */
  commitIntervalMs?: number;
  /** First local redelivery delay after a failure, doubling up to retryDelayMaxMs (defaults 200, 10000). */
  retryDelayMs?: number;
  retryDelayMaxMs?: number;
  /** How long a released queue waits for its listener calls (default 10000). */
  drainTimeoutMs?: number;
  /** Broadcasting: the directory of this member's offset file (default ~/.mq-node/offsets). */
  offsetDir?: string;
  /** Default: one stderr line per kind of problem at most every 10 s. */
  logger?: ConsumerLogger;
}

export interface ResolvedSubscription {
  topic: string;
  tags: TagCheck;
  /** The group's retry topic `%RETRY%<group>`, subscribed by the consumer itself (clustering). */
  retry: boolean;
}

export interface ResolvedConsumerOptions extends ResolvedClientOptions {
  group: string;
  subscriptions: ResolvedSubscription[];
  mode: ConsumeModeOption;
  allocation: AllocationStrategyName;
  max_reconsume_times: number;
  from_where: FromWhereOption;
  orderly: boolean;
  concurrency: number;
  pull_batch_size: number;
  queue_buffer_messages: number;
  queue_buffer_bytes: number;
  long_poll_timeout_ms: number;
  rebalance_interval_ms: number;
  commit_interval_ms: number;
  retry_delay_ms: number;
  retry_delay_max_ms: number;
  drain_timeout_ms: number;
  offset_dir: string;
  logger: ConsumerLogger;
}

export function resolveConsumerOptions(options: ConsumerOptions): ResolvedConsumerOptions {
  const base = resolveClientOptions(options, 'Consumer');
  const bad_group = checkName('group', options.group);
  if (bad_group !== undefined) throw new MqError('BAD_REQUEST', `Consumer: ${bad_group.message}`);
  const limits = consumer_limits;
  const retry_delay_ms = integer('retryDelayMs', options.retryDelayMs, limits.retry_delay_ms_default, 1, limits.retry_delay_ms_max);
  const mode = oneOf('mode', options.mode, ['clustering', 'broadcasting'] as const, 'clustering');
  return {
    ...base,
    group: options.group,
    subscriptions: withRetrySubscription(resolveSubscriptions(options.subscriptions, options.group), options.group, mode),
    mode,
    allocation: oneOf('allocation', options.allocation, allocation_strategy_names, 'averagely'),
    max_reconsume_times: integer('maxReconsumeTimes', options.maxReconsumeTimes, limits.max_reconsume_times_default, 0, limits.max_reconsume_times_max),
    from_where: oneOf('fromWhere', options.fromWhere, ['last', 'first'] as const, 'last'),
    orderly: boolean('orderly', options.orderly, false),
    concurrency: integer('concurrency', options.concurrency, limits.concurrency_default, 1, limits.concurrency_max),
    pull_batch_size: integer('pullBatchSize', options.pullBatchSize, limits.pull_batch_size_default, 1, limits.pull_batch_size_max),
    queue_buffer_messages: integer('queueBufferMessages', options.queueBufferMessages, limits.queue_buffer_messages_default, 1, limits.queue_buffer_messages_max),
    queue_buffer_bytes: integer('queueBufferBytes', options.queueBufferBytes, limits.queue_buffer_bytes_default, 1, limits.queue_buffer_bytes_max),
    long_poll_timeout_ms: integer('longPollTimeoutMs', options.longPollTimeoutMs, limits.long_poll_timeout_ms_default, 0, limits.long_poll_timeout_ms_max),
    rebalance_interval_ms: integer('rebalanceIntervalMs', options.rebalanceIntervalMs, limits.rebalance_interval_ms_default, limits.rebalance_interval_ms_min, limits.rebalance_interval_ms_max),
    commit_interval_ms: integer('commitIntervalMs', options.commitIntervalMs, limits.commit_interval_ms_default, limits.commit_interval_ms_min, limits.commit_interval_ms_max),
    retry_delay_ms,
    retry_delay_max_ms: integer('retryDelayMaxMs', options.retryDelayMaxMs, Math.max(retry_delay_ms, limits.retry_delay_max_ms_default), retry_delay_ms, limits.retry_delay_ms_max),
    drain_timeout_ms: integer('drainTimeoutMs', options.drainTimeoutMs, limits.drain_timeout_ms_default, 0, limits.drain_timeout_ms_max),
    offset_dir: options.offsetDir ?? path.join(os.homedir(), '.mq-node', 'offsets'),
    logger: options.logger ?? throttledStderrLogger(),
  };
}

function resolveSubscriptions(subscriptions: readonly SubscriptionOption[] | undefined, group: string): ResolvedSubscription[] {
  if (!Array.isArray(subscriptions) || subscriptions.length === 0) {
    throw new MqError('BAD_REQUEST', "Consumer needs subscriptions, e.g. subscriptions: [{ topic: 'T', tags: '*' }]");
  }
  if (subscriptions.length > consumer_limits.subscriptions_max) {
    throw new MqError('BAD_REQUEST', `Consumer has ${subscriptions.length} subscriptions, at most ${consumer_limits.subscriptions_max} are allowed`);
  }
  const topics = new Set<string>();
  return subscriptions.map((subscription) => {
    const bad = checkName('topic', subscription?.topic);
    if (bad !== undefined) throw new MqError('BAD_REQUEST', `Consumer subscription: ${bad.message}`);
    if (topics.has(subscription.topic)) {
      throw new MqError('BAD_REQUEST', `Consumer subscribes to topic '${subscription.topic}' twice; give one subscription per topic with its tags joined, e.g. 'a||b'`);
    }
    topics.add(subscription.topic);
    if (subscription.tags !== undefined && typeof subscription.tags !== 'string') {
      throw new MqError('BAD_REQUEST', `Consumer subscription to '${subscription.topic}': tags must be a string like '*' or 'a||b'`);
    }
    return { topic: subscription.topic, tags: tagCheckOf(subscription.tags), retry: subscription.topic === retryTopicOf(group) };
  });
}

/**
 * A clustering consumer also consumes its group's retry topic, every tag, as RocketMQ's
 * does: failed messages sent back to the broker come back through it. It is added after the
 * user's subscriptions (and not twice when the user named it), outside the subscription
 * bound. Broadcasting members retry locally and have no retry topic.
 */
function withRetrySubscription(subscriptions: ResolvedSubscription[], group: string, mode: ConsumeModeOption): ResolvedSubscription[] {
  if (mode !== 'clustering' || subscriptions.some((subscription) => subscription.retry)) return subscriptions;
  return [...subscriptions, { topic: retryTopicOf(group), tags: tagCheckOf('*'), retry: true }];
}

function integer(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new MqError('BAD_REQUEST', `Consumer option ${name} must be an integer ${min}..${max}, not ${String(value)}`);
  }
  return value;
}

function boolean(name: string, value: boolean | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new MqError('BAD_REQUEST', `Consumer option ${name} must be true or false, not ${String(value)}`);
  return value;
}

function oneOf<T extends string>(name: string, value: T | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value)) throw new MqError('BAD_REQUEST', `Consumer option ${name} must be one of ${allowed.join(', ')}, not ${JSON.stringify(value)}`);
  return value;
}

/** Repeats of one kind of warning (the text before the first ':') are dropped for this long. */
const log_repeat_interval_ms = 10_000;

function throttledStderrLogger(): ConsumerLogger {
  const last_ms = new Map<string, number>();
  return {
    warn(message) {
      const kind = message.split(':', 1)[0] ?? message;
      const now_ms = Date.now();
      if (now_ms - (last_ms.get(kind) ?? -Infinity) < log_repeat_interval_ms) return;
      if (last_ms.size > 1_000) last_ms.clear(); // bounded: kinds are few, this only guards a bug
      last_ms.set(kind, now_ms);
      process.stderr.write(`mq-node consumer: ${message}\n`);
    },
  };
}
