import type { Clock } from '../runtime/clock.js';
import { MqError, toMqError } from '../runtime/errors.js';
import type { Message, SendResult } from './message.js';
import type { PoolLease } from './connection_pool.js';
import { isUnreachable } from './namesrv_client.js';
import type { BrokerFaultTracker } from './producer_fault_tracker.js';
import { selectOrdered, type QueueSelectorFunction, type RoundRobinQueueSelector } from './producer_queue_selector.js';
import { backoffDelayMs, sleep, type BackoffPolicy } from './retry_backoff.js';
import type { RouteCache } from './route_cache.js';
import type { MessageQueue, TopicRoute } from './topic_route.js';

export const send_attempt_limits = {
  /**
   * Pause before an attempt that goes back to a broker group that just failed (ordered
   * sends, or a topic on one group): 25..50 ms, doubling to 1 s, never past the deadline.
   */
  same_broker_backoff: { base_ms: 50, max_ms: 1_000 } satisfies BackoffPolicy,
} as const;

/** What the attempts of one producer share. */
export interface SendAttemptContext {
  lease: PoolLease;
  routes: RouteCache;
  faults: BrokerFaultTracker;
  round_robin: RoundRobinQueueSelector;
  clock: Clock;
  random: () => number;
  retries: number;
  isStopped(): boolean;
}

/**
 * One send (a message or a batch) to be tried on one queue after another. `R` is what a
 * reply decodes to: the SDK's SendResult, or the wire's (TransactionProducer needs its
 * commitLogOffset).
 */
export interface SendPlan<R = SendResult> {
  topic: string;
  code: number;
  /** The request body with the chosen queue id filled in. */
  encode(queue_id: number): Uint8Array;
  /** The results of the broker's reply. */
  decode(reply: Uint8Array): R[];
  timeout_ms: number;
  /** Set for ordered sends: every attempt asks the selector, never moves to another group. */
  ordered: { selector: QueueSelectorFunction; message: Message; order_key: string | undefined } | undefined;
}

export interface Target {
  route: TopicRoute;
  queue: MessageQueue;
  address: string;
}

/**
 * Sends with retries: up to `1 + retries` attempts within `timeout_ms` altogether. A failure
 * that may succeed elsewhere (no connection, timeout, busy, not master) marks the broker
 * group for fault avoidance, asks for a fresh route at once, and the next attempt goes to
 * another group. A failure the message itself causes (bad request, too large, access
 * denied) is thrown at once. The error of the last attempt is thrown with the story of all.
 */
export async function sendWithRetries<R>(context: SendAttemptContext, plan: SendPlan<R>): Promise<R[]> {
  const deadline_ms = context.clock.monotonicMs() + plan.timeout_ms;
  const attempts_max = 1 + context.retries;
  const story: string[] = [];
  let last_error: MqError | undefined;
  let failed_broker: string | undefined;
  for (let attempt = 0; attempt < attempts_max; attempt++) {
    const left_ms = deadline_ms - context.clock.monotonicMs();
    if (left_ms <= 0) break;
    if (context.isStopped()) throw stoppedError();
    let target: Target;
    try {
      target = await pickTarget(context, plan, failed_broker, left_ms);
    } catch (thrown) {
      last_error = toMqError(thrown);
      if (!last_error.retriable || context.isStopped()) throw last_error;
      story.push(`route: ${last_error.code}`);
      await pause(context, attempt, deadline_ms);
      continue;
    }
    const broker_name = target.queue.brokerName;
    const started_ms = context.clock.monotonicMs();
    try {
      const reply = await context.lease.request(target.address, plan.code, plan.encode(target.queue.queueId), { timeout_ms: left_ms });
      context.faults.recordSuccess(broker_name, context.clock.monotonicMs() - started_ms, target.address);
      // A provisional route has just made a broker create the topic: fetch the real one.
      if (target.route.provisional) context.routes.refreshSoon(plan.topic, { bypass_interval: true });
      return plan.decode(reply);
    } catch (thrown) {
      last_error = toMqError(thrown);
      if (context.isStopped()) throw stoppedError();
      if (isUnreachable(last_error)) context.faults.recordFailure(broker_name, target.address);
      if (!last_error.retriable) throw last_error;
      story.push(`${broker_name}: ${last_error.code}`);
      context.routes.refreshSoon(plan.topic);
      failed_broker = broker_name;
      const other_groups = target.route.writeQueues.some((queue) => queue.brokerName !== broker_name);
      if (plan.ordered !== undefined || !other_groups) await pause(context, attempt, deadline_ms);
    }
  }
  const attempts = story.length;
  if (last_error === undefined) {
    throw new MqError('TIMEOUT', `send to topic '${plan.topic}' found no time for an attempt within ${plan.timeout_ms} ms; raise sendTimeoutMs`);
  }
  throw new MqError(
    last_error.code,
    `send to topic '${plan.topic}' failed after ${attempts} attempt(s) within ${plan.timeout_ms} ms (${story.join(', ')}): ${last_error.message}`,
    { retriable: last_error.retriable, cause: last_error },
  );
}

/** The queue and broker address of the next attempt. */
export async function pickTarget(context: SendAttemptContext, plan: Pick<SendPlan<unknown>, 'topic' | 'ordered'>, failed_broker: string | undefined, left_ms: number): Promise<Target> {
  let route = await withinMs(context.routes.route(plan.topic), left_ms, plan.topic);
  let queue: MessageQueue;
  if (plan.ordered !== undefined) {
    // The topic may have been created since the provisional route was cached: look again.
    if (route.provisional) route = await withinMs(context.routes.refresh(plan.topic, { bypass_interval: true }), left_ms, plan.topic);
    if (route.provisional) {
      throw new MqError('TOPIC_NOT_FOUND', `topic '${plan.topic}' does not exist yet, and an ordered send needs its queues: create it first (mq-node admin topic create) or send one message without orderKey`);
    }
    queue = selectOrdered(plan.ordered.selector, route, plan.ordered.message, plan.ordered.order_key);
  } else {
    queue = context.round_robin.select(route, failed_broker);
  }
  const address = route.masters.get(queue.brokerName);
  if (address === undefined) {
    throw new MqError('NO_ROUTE', `broker group ${queue.brokerName} of topic '${plan.topic}' has no master now; retry later`);
  }
  return { route, queue, address };
}

async function pause(context: SendAttemptContext, attempt: number, deadline_ms: number): Promise<void> {
  const left_ms = deadline_ms - context.clock.monotonicMs();
  const delay_ms = Math.min(left_ms, backoffDelayMs(send_attempt_limits.same_broker_backoff, attempt, context.random));
  if (delay_ms > 0) await sleep(delay_ms);
}

/** The route lookup may wait on a slow nameserver: it gets what is left of the send's budget. */
function withinMs<T>(promise: Promise<T>, timeout_ms: number, topic: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new MqError('TIMEOUT', `no route of topic '${topic}' from the nameserver within ${Math.round(timeout_ms)} ms`)), timeout_ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

function stoppedError(): MqError {
  return new MqError('SHUTTING_DOWN', 'the producer was shut down while this send was under way; it may or may not have been stored', { retriable: false });
}
