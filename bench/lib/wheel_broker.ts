import { Consumer, Producer, type Message } from '../../src/client/index.js';
import { withStandaloneNode } from './standalone_node.js';

/**
 * Delayed delivery through a real broker: a standalone node (child process, own temp data
 * dir, removed afterwards), a producer scheduling `messages` with delays spread evenly over
 * [delay_min_ms, delay_max_ms] in batches, and a consumer measuring, per message, how late
 * it arrived: receive time − due time (DELIVER_AT_MS), and store time − due time (the
 * wheel's own lateness, without the consumer's pull). Bounded: the run stops at
 * `timeout_ms` whatever arrived.
 */
export interface WheelBrokerBudget {
  messages: number;
  delay_min_ms: number;
  delay_max_ms: number;
  batch_messages: number;
  timeout_ms: number;
}

export interface WheelBrokerResult {
  messages: number;
  delivered: number;
  schedule_per_s: number;
  /** Receive time − due time, ms. */
  receive_lag_ms: Percentiles;
  /** Store time of the delivered copy − due time, ms. */
  store_lag_ms: Percentiles;
  early: number;
}

export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}

export function measureWheelBroker(budget: WheelBrokerBudget): Promise<WheelBrokerResult> {
  return withStandaloneNode([], (node) => run(node.namesrv, budget));
}

async function run(namesrv: string, budget: WheelBrokerBudget): Promise<WheelBrokerResult> {
  const topic = 'BenchDelayed';
  const producer = new Producer({ namesrv });
  await producer.start();
  await producer.send({ topic, body: 'warm-up' }); // creates the topic (auto-create)
  const receive_lag: number[] = [];
  const store_lag: number[] = [];
  let early = 0;
  let all_delivered: () => void = () => {};
  const delivered = new Promise<void>((resolve) => (all_delivered = resolve));
  const consumer = new Consumer({ namesrv, group: 'bench-wheel', subscriptions: [{ topic }], fromWhere: 'last', rebalanceIntervalMs: 1_000 });
  consumer.onMessage((message) => {
    const due_ms = Number(message.properties['DELIVER_AT_MS']);
    if (!Number.isFinite(due_ms)) return;
    const lag_ms = Date.now() - due_ms;
    if (lag_ms < 0) early++;
    receive_lag.push(lag_ms);
    store_lag.push(message.storeTimestamp - due_ms);
    if (receive_lag.length === budget.messages) all_delivered();
  });
  await consumer.start();
  const started_ms = performance.now();
  const span_ms = budget.delay_max_ms - budget.delay_min_ms;
  for (let first = 0; first < budget.messages; first += budget.batch_messages) {
    const count = Math.min(budget.batch_messages, budget.messages - first);
    const batch: Message[] = Array.from({ length: count }, (_, k) => ({
      topic,
      body: `m${first + k}`,
      delayMs: budget.delay_min_ms + Math.round((span_ms * (first + k)) / budget.messages),
    }));
    await producer.sendBatch(batch);
  }
  const schedule_ms = performance.now() - started_ms;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([delivered, new Promise<void>((resolve) => (timer = setTimeout(resolve, budget.timeout_ms)))]);
  clearTimeout(timer);
  await consumer.shutdown();
  await producer.shutdown();
  return {
    messages: budget.messages,
    delivered: receive_lag.length,
    schedule_per_s: (budget.messages / schedule_ms) * 1_000,
    receive_lag_ms: percentiles(receive_lag),
    store_lag_ms: percentiles(store_lag),
    early,
  };
}

function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (fraction: number): number => sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? Number.NaN };
}
