import { Admin, Consumer, Producer } from '../client/index.js';
import { MqError } from '../runtime/errors.js';
import { chaosBody, readChaosBody, type ChaosSettings, type DeliveryRecord, type SendOutcome, type SendRecord } from './chaos_history.js';

export const chaos_workload_limits = {
  topic: 'ChaosTopic',
  group: 'chaos-readers',
  /** Sends one producer has in flight at most; more that fall due are not issued (counted). */
  inflight_per_producer: 256,
  /** The pacing tick: each tick issues the sends that fell due since the last. */
  tick_ms: 10,
  /** A send's whole budget: above the brokers' sync replication timeout, so that answers it. */
  send_timeout_ms: 5_000,
  /** The topic is created on every master before the load starts, within this. */
  setup_timeout_ms: 60_000,
  /** How often the drain checks whether every acknowledged message arrived. */
  drain_poll_ms: 200,
} as const;

/**
 * SDK codes that mean "the broker refused before writing anything": a send that ended with one
 * of them was not stored. Every other error (a timeout, a lost connection) leaves the send's
 * fate unknown. The producers make one attempt per send (retries 0), so the error is that
 * attempt's: an earlier attempt that timed out cannot hide behind a later refusal.
 */
const refused_before_write = new Set(['NOT_MASTER', 'BUSY', 'BAD_REQUEST', 'MESSAGE_TOO_LARGE', 'ACCESS_DENIED', 'TOPIC_NOT_FOUND', 'NO_ROUTE']);

export interface WorkloadOptions {
  namesrv: readonly string[];
  settings: ChaosSettings;
  size_bytes: number;
  /** Milliseconds since the run's start (every recorded time). */
  elapsedMs: () => number;
}

/**
 * The run's producers and consumers, in this process, over mq-node's SDK. Producers send
 * at the run's rate (paced per tick, each message a chaosBody naming `<producer>-<seq>`)
 * and record every send's outcome; orderly consumers of one group record every delivery
 * with its queue and offset. Owned by the chaos command's thread.
 */
export class ChaosWorkload {
  readonly sends: SendRecord[] = [];
  readonly deliveries: DeliveryRecord[] = [];
  /** Sends that fell due while a producer was at its in-flight bound (not issued, not recorded). */
  not_issued = 0;
  private readonly producers: Producer[] = [];
  private readonly consumers: Consumer[] = [];
  private readonly delivered = new Set<string>();
  private readonly in_flight = new Set<Promise<void>>();
  private load_timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: WorkloadOptions) {}

  /** Creates the topic on every master and starts the consumers and producers. */
  async start(): Promise<void> {
    const { settings } = this.options;
    const namesrv = [...this.options.namesrv];
    const admin = new Admin({ namesrv, instanceName: 'chaos-admin' });
    try {
      const deadline_ms = performance.now() + chaos_workload_limits.setup_timeout_ms;
      for (;;) {
        const route = await admin.createTopic({ topic: chaos_workload_limits.topic, queues: settings.queues }).catch(() => undefined);
        if (route !== undefined && route.queues.length === settings.groups) break;
        if (performance.now() > deadline_ms) throw new Error(`the topic was not created on all ${settings.groups} masters within ${chaos_workload_limits.setup_timeout_ms} ms`);
        await sleep(250);
      }
    } finally {
      await admin.close();
    }
    for (let index = 0; index < settings.consumers; index++) {
      const consumer = new Consumer({
        namesrv, group: chaos_workload_limits.group, subscriptions: [{ topic: chaos_workload_limits.topic }], fromWhere: 'first', orderly: true,
        instanceName: `chaos-consumer-${index}`, rebalanceIntervalMs: 1_000, commitIntervalMs: 500, logger: { warn: () => undefined },
      });
      consumer.onMessage(async (message) => {
        const { id, intact } = readChaosBody(message.body);
        this.deliveries.push({ id, consumer: index, broker: message.brokerName, queue: message.queueId, offset: message.queueOffset, at_ms: this.options.elapsedMs(), corrupted: id !== '' && (!intact || message.body.length !== this.options.size_bytes) });
        this.delivered.add(id);
      });
      await consumer.start();
      this.consumers.push(consumer);
    }
    for (let index = 0; index < settings.producers; index++) {
      const producer = new Producer({ namesrv, instanceName: `chaos-producer-${index}`, retries: 0, sendTimeoutMs: chaos_workload_limits.send_timeout_ms });
      await producer.start();
      this.producers.push(producer);
    }
  }

  /** Starts sending at the run's rate until stopLoad(). */
  startLoad(): void {
    const rate_per_producer = this.options.settings.rate_per_s / this.producers.length;
    const started_ms = this.options.elapsedMs();
    const issued = this.producers.map(() => 0);
    const inflight = this.producers.map(() => 0);
    this.load_timer = setInterval(() => {
      const due = Math.floor(((this.options.elapsedMs() - started_ms) / 1_000) * rate_per_producer);
      this.producers.forEach((producer, index) => {
        for (; (issued[index] as number) < due; issued[index]!++) {
          if ((inflight[index] as number) >= chaos_workload_limits.inflight_per_producer) {
            this.not_issued += due - (issued[index] as number);
            issued[index] = due;
            break;
          }
          inflight[index]!++;
          const sending = this.send(producer, index, issued[index] as number).finally(() => {
            inflight[index]!--;
            this.in_flight.delete(sending);
          });
          this.in_flight.add(sending);
        }
      });
    }, chaos_workload_limits.tick_ms);
  }

  /** Stops issuing sends; resolves when every send in flight has its outcome. */
  async stopLoad(): Promise<void> {
    clearInterval(this.load_timer);
    this.load_timer = undefined;
    await Promise.all([...this.in_flight]);
  }

  /** Waits until every acknowledged message was delivered, or `deadline_ms` (run clock) passes. */
  async drain(deadline_ms: number): Promise<boolean> {
    const acked = this.sends.filter((send) => send.outcome === 'acked').map((send) => send.id);
    for (;;) {
      if (acked.every((id) => this.delivered.has(id))) return true;
      if (this.options.elapsedMs() >= deadline_ms) return false;
      await sleep(chaos_workload_limits.drain_poll_ms);
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.consumers.map((consumer) => consumer.shutdown()));
    await Promise.allSettled(this.producers.map((producer) => producer.shutdown()));
  }

  private async send(producer: Producer, producer_index: number, seq: number): Promise<void> {
    const id = `${producer_index}-${seq}`;
    const start_ms = this.options.elapsedMs();
    let outcome: SendOutcome;
    let status: string;
    let place: Pick<SendRecord, 'broker' | 'queue' | 'offset'> = {};
    try {
      const result = await producer.send({ topic: chaos_workload_limits.topic, body: chaosBody(id, this.options.size_bytes) });
      status = result.status;
      outcome = result.status === 'SEND_OK' ? 'acked' : 'unknown';
      place = { broker: result.brokerName, queue: result.queueId, offset: result.queueOffset };
    } catch (error) {
      status = error instanceof MqError ? error.code : 'ERROR';
      outcome = refused_before_write.has(status) ? 'failed' : 'unknown';
    }
    this.sends.push({ id, producer: producer_index, seq, start_ms, end_ms: this.options.elapsedMs(), outcome, status, ...place });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
