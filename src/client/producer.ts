import {
  decodeSendBatchResponse,
  decodeSendResult,
  encodeSendBatchRequest,
  encodeSendRequest,
  queue_id_any,
  request_codes,
  type SendRequest,
  type SendResult as WireSendResult,
} from '../protocol/index.js';
import { MqError, toMqError } from '../runtime/errors.js';
import { client_limits, resolveProducerOptions, type ProducerOptions, type ResolvedProducerOptions } from './client_options.js';
import { ConnectionPool, type PoolLease } from './connection_pool.js';
import { bornHost } from './local_host.js';
import { sendResultOf, type Message, type SendResult } from './message.js';
import { sendRequestOf } from './message_check.js';
import { NamesrvClient, isUnreachable } from './namesrv_client.js';
import { checkBatch } from './producer_batch.js';
import { BrokerFaultTracker } from './producer_fault_tracker.js';
import { RoundRobinQueueSelector, selectQueueByKey, type QueueSelectorFunction } from './producer_queue_selector.js';
import { pickTarget, sendWithRetries, type SendAttemptContext, type SendPlan } from './producer_send_attempts.js';
import { RouteCache } from './route_cache.js';

/** Per-send choices; all optional. */
export interface SendOptions {
  /**
   * Ordered messages: every message sent with the same key goes to the same queue (a hash
   * of the key over the topic's writable queues), so consumers see them in send order as
   * long as the topic's queues do not change. An ordered send is retried on the same queue,
   * never moved to another broker group.
   */
  orderKey?: string;
  /** Picks the queue of an ordered send yourself (default: hash of `orderKey`). */
  selector?: QueueSelectorFunction;
  /** This send's budget instead of the producer's `sendTimeoutMs`. */
  timeoutMs?: number;
}

type ProducerState = 'created' | 'running' | 'stopped';

interface Running {
  lease: PoolLease;
  routes: RouteCache;
  attempts: SendAttemptContext;
}

/**
 * Sends messages to the broker groups of their topics (contract.md, "Client SDK"):
 *
 *   const p = new Producer({ namesrv: '127.0.0.1:9876' });
 *   await p.start();
 *   const r = await p.send({ topic: 'T', body: 'hello', tag: 'a', keys: ['order-1'] });
 *   await p.shutdown();
 *
 * Routes come from the nameservers and are cached (route_cache.ts); queues are picked
 * round-robin across broker groups, avoiding groups that failed or were slow
 * (producer_fault_tracker.ts); a failed send is retried on another group up to `retries`
 * times within `sendTimeoutMs` (producer_send_attempts.ts). A topic the nameserver does not
 * know yet is sent to a master that may create it (auto-create), then its real route is
 * used. Bad input is refused before any network round trip.
 *
 * Lives on the user's thread; any number of sends may run concurrently.
 */
export class Producer {
  private readonly options: ResolvedProducerOptions;
  private state: ProducerState = 'created';
  private running: Running | undefined;

  constructor(options: ProducerOptions) {
    this.options = resolveProducerOptions(options);
  }

  /** Opens nothing yet: connections are made on the first send. Calling it twice is harmless. */
  async start(): Promise<void> {
    if (this.state === 'running') return;
    if (this.state === 'stopped') throw new MqError('SHUTTING_DOWN', 'this producer was shut down; create a new Producer', { retriable: false });
    const { clock, random } = this.options;
    const lease = ConnectionPool.lease({ instance_name: this.options.instance_name, clock, random, owner: 'producer', tls: this.options.tls, credentials: this.options.credentials });
    const routes = new RouteCache(new NamesrvClient(lease, this.options.namesrv_addresses, client_limits.request_timeout_ms_default), lease, { clock, provisional_routes: true });
    routes.start();
    const faults = new BrokerFaultTracker(clock);
    routes.onChange((_, route) => {
      if (route !== undefined) faults.observeMasters(route.masters);
    });
    this.running = {
      lease,
      routes,
      attempts: {
        lease,
        routes,
        faults,
        round_robin: new RoundRobinQueueSelector(faults, random),
        clock,
        random,
        retries: this.options.retries,
        isStopped: () => this.state === 'stopped',
      },
    };
    this.state = 'running';
  }

  /** `host@pid@instance`, as brokers know this client ('' before start). */
  get clientId(): string {
    return this.running?.lease.client_id ?? '';
  }

  /** Sends one message and resolves with the broker's acknowledgement. */
  async send(message: Message, options: SendOptions = {}): Promise<SendResult> {
    return sendResultOf(await this.sendWithFlags(message, 0, options));
  }

  /**
   * Sends 1..1024 messages of one topic in one request to one queue: stored together, in
   * order, or not at all. Resolves with one result per message, in the order given.
   */
  async sendBatch(messages: readonly Message[], options: SendOptions = {}): Promise<SendResult[]> {
    if (!Array.isArray(messages)) throw new MqError('BAD_REQUEST', 'sendBatch takes an array of messages');
    const requests = messages.map((message) => this.requestOf(message));
    checkBatch(requests);
    const topic = (requests[0] as SendRequest).topic;
    return sendWithRetries(this.use().attempts, this.plan(topic, options, messages[0] as Message, {
      code: request_codes.SEND_BATCH,
      // On a provisional route (topic not created yet) the broker would pick a queue per
      // message; queue 0, which every topic has, keeps the batch together and in order.
      encode: (queueId) => {
        const queue_id = queueId === queue_id_any ? 0 : queueId;
        return encodeSendBatchRequest({ messages: requests.map((request) => ({ ...request, queueId: queue_id })) });
      },
      decode: (reply) => {
        const decoded = decodeSendBatchResponse(reply);
        if (!decoded.ok) throw new MqError('INTERNAL', `unreadable SEND_BATCH reply: ${decoded.error.message}`);
        if (decoded.value.results.length !== requests.length) {
          throw new MqError('INTERNAL', `the broker answered ${decoded.value.results.length} results for a batch of ${requests.length}`);
        }
        return decoded.value.results.map(sendResultOf);
      },
    }));
  }

  /**
   * Sends without waiting for the broker (fire and forget: no result, no retry). Bad input
   * and a producer that is not running throw at once, synchronously. The returned promise
   * resolves once the request is written and rejects if it could not be; ignoring it is
   * safe (its rejection is handled).
   */
  sendOneway(message: Message, options: SendOptions = {}): Promise<void> {
    const request = this.requestOf(message);
    const running = this.use();
    const plan = this.plan(request.topic, options, message, {
      code: request_codes.SEND,
      encode: (queueId) => encodeSendRequest({ ...request, queueId }),
      decode: () => [],
    });
    const written = this.onewayTo(running, request, plan);
    written.catch(() => undefined);
    return written;
  }

  /**
   * @internal For TransactionProducer's half messages: a send like `send()` (same routes,
   * retries on another broker group, fault avoidance) whose request has `flags` set besides
   * the message's own, resolving with the broker's whole wire SendResult: its
   * `commitLogOffset` names the stored message for END_TRANSACTION. Not part of the SDK.
   */
  async sendWithFlags(message: Message, flags: number, options: SendOptions = {}): Promise<WireSendResult> {
    const request = this.requestOf(message);
    const flagged: SendRequest = { ...request, flags: request.flags | flags };
    const [result] = await sendWithRetries(this.use().attempts, this.plan(flagged.topic, options, message, {
      code: request_codes.SEND,
      encode: (queueId) => encodeSendRequest({ ...flagged, queueId }),
      decode: (reply) => {
        const decoded = decodeSendResult(reply);
        if (!decoded.ok) throw new MqError('INTERNAL', `unreadable SEND reply: ${decoded.error.message}`);
        return [decoded.value];
      },
    }));
    return result as WireSendResult;
  }

  /**
   * @internal The master address of broker group `broker_name` in the route of `topic`
   * (cached, else fetched from the nameserver); undefined when that route lists no master of
   * the group. TransactionProducer sends END_TRANSACTION there.
   */
  async masterAddressOf(topic: string, broker_name: string): Promise<string | undefined> {
    const routes = this.use().routes;
    const cached = routes.cached(topic)?.masters.get(broker_name);
    if (cached !== undefined) return cached;
    // Not cached, or the cached route lost the group (a route change): ask for the route.
    return (await routes.refresh(topic)).masters.get(broker_name);
  }

  /** Stops: pending sends reject with SHUTTING_DOWN; connections close when no other SDK object of this instance uses them. */
  async shutdown(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.running?.routes.close();
    this.running?.lease.close();
  }

  private async onewayTo(running: Running, request: SendRequest, plan: SendPlan): Promise<void> {
    const { queue, address } = await pickTarget(running.attempts, plan, undefined, plan.timeout_ms);
    try {
      await running.lease.oneway(address, request_codes.SEND, plan.encode(queue.queueId), { timeout_ms: plan.timeout_ms });
    } catch (thrown) {
      const error = toMqError(thrown);
      if (isUnreachable(error)) running.attempts.faults.recordFailure(queue.brokerName, address);
      running.routes.refreshSoon(request.topic);
      throw error;
    }
  }

  private plan(topic: string, options: SendOptions, message: Message, codec: Pick<SendPlan, 'code' | 'encode' | 'decode'>): SendPlan {
    const timeout_ms = options.timeoutMs ?? this.options.send_timeout_ms;
    if (!Number.isInteger(timeout_ms) || timeout_ms < 1) throw new MqError('BAD_REQUEST', `timeoutMs must be a positive integer, not ${String(options.timeoutMs)}`);
    if (options.orderKey !== undefined && typeof options.orderKey !== 'string') throw new MqError('BAD_REQUEST', 'orderKey is a string');
    const ordered = options.orderKey !== undefined || options.selector !== undefined
      ? { selector: options.selector ?? selectQueueByKey, message, order_key: options.orderKey }
      : undefined;
    return { topic, timeout_ms, ordered, ...codec };
  }

  private requestOf(message: Message): SendRequest {
    return sendRequestOf(message, { producer_group: this.options.group, born_host: bornHost(), born_timestamp_ms: this.options.clock.nowMs() });
  }

  private use(): Running {
    if (this.state === 'created' || this.running === undefined) throw new MqError('BAD_REQUEST', 'the producer is not started: await producer.start() first', { retriable: false });
    if (this.state === 'stopped') throw new MqError('SHUTTING_DOWN', 'the producer is shut down; create a new Producer', { retriable: false });
    return this.running;
  }
}
