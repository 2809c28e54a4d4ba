import {
  decodeClusterInfo,
  decodeEndTransactionResponse,
  encodeEndTransactionRequest,
  encodeGetClusterInfoRequest,
  encodeHeartbeatRequest,
  request_codes,
  transaction_flags,
  type EndTransactionRequest,
  type EndTransactionResult,
  type SendResult as WireSendResult,
} from '../protocol/index.js';
import { MqError, toMqError } from '../runtime/errors.js';
import { mapBounded } from './bounded_parallel.js';
import { client_limits, resolveProducerOptions, type ProducerOptions, type ResolvedProducerOptions } from './client_options.js';
import { ConnectionPool, type PoolLease } from './connection_pool.js';
import { sendResultOf, type Message, type SendResult } from './message.js';
import { NamesrvClient } from './namesrv_client.js';
import { Producer } from './producer.js';
import { outcomeOf, TransactionChecks, type TransactionCheck, type TransactionLogger, type TransactionOutcome } from './transaction_checks.js';

export type { TransactionCheck, TransactionLogger, TransactionOutcome } from './transaction_checks.js';

export const transaction_producer_limits = {
  /** How often the producer tells every master broker it is a live member of its group. */
  heartbeat_interval_ms_default: 5_000,
  heartbeat_interval_ms_min: 10,
  heartbeat_interval_ms_max: 600_000,
  /** One heartbeat, one GET_CLUSTER_INFO, one END_TRANSACTION. */
  request_timeout_ms: client_limits.request_timeout_ms_default,
  /** Brokers heartbeaten at once (a cluster has a few; this bounds a misconfigured one). */
  heartbeats_in_flight_max: 16,
  /** shutdown() waits this long for running checks and transactions before closing. */
  shutdown_wait_ms: 5_000,
} as const;

/**
 * The local transaction: do the business change (save the order) and say whether its
 * message is to be delivered (COMMIT), dropped (ROLLBACK) or left to the check-back
 * (UNKNOWN). It runs after the broker stored the half message (`half` is that send's result).
 * A local transaction that throws, or resolves to anything else, counts as UNKNOWN. Async
 * only in its type, like TransactionCheck (transaction_checks.ts says why).
 */
export type LocalTransaction = (message: Message, half: SendResult) => Promise<TransactionOutcome>;

export interface TransactionProducerOptions extends ProducerOptions {
  /** The producer group: the broker asks a live producer of this group about undecided messages. */
  group: string;
  /** Answers the broker's check-back about a half message (see TransactionCheck). */
  check: TransactionCheck;
  /** Heartbeat period to every master broker (default 5000). */
  heartbeatIntervalMs?: number;
  /** Where warnings go (failed END_TRANSACTION, heartbeats, checks); default: stderr, throttled. */
  logger?: TransactionLogger;
}

/** What the broker answered to END_TRANSACTION, or FAILED when it could not be asked. */
export type EndTransactionStatus = EndTransactionResult | 'FAILED';

export type TransactionSendResult = SendResult & {
  /** The local transaction's outcome (UNKNOWN when it threw). */
  outcome: TransactionOutcome;
  /**
   * COMMITTED, ROLLED_BACK, UNDECIDED (outcome UNKNOWN), ALREADY_DECIDED (a check-back was
   * faster), or FAILED: END_TRANSACTION did not reach the broker; its check-back settles it.
   */
  endTransaction: EndTransactionStatus;
};

type State = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

/** Groups with a started TransactionProducer, by client id: one answers each check-back. */
const started_groups = new Set<string>();

/**
 * Sends transactional messages (RocketMQ's two-phase send; contract.md, "Client SDK"):
 *
 *   const tp = new TransactionProducer({ namesrv, group: 'TG', check: async (m) => orderSaved(m) ? 'COMMIT' : 'ROLLBACK' });
 *   await tp.start();
 *   const r = await tp.sendInTransaction({ topic: 'Orders', body }, async (m) => { await saveOrder(m); return 'COMMIT'; });
 *
 * 1. the half message is sent like Producer.send (routes, retries on another broker group)
 *    with the prepared flag and the group: the broker stores it invisible to consumers;
 * 2. `localTx` runs; its outcome goes in END_TRANSACTION to the broker that stored the half;
 * 3. if that never arrives (this process died, the network failed) or said UNKNOWN, the
 *    broker later pushes CHECK_TRANSACTION_STATE to a live producer of the group, which
 *    answers from its `check` callback (transaction_checks.ts).
 *
 * Brokers learn the live producers of a group from heartbeats: this producer heartbeats every
 * master of the cluster at start (before the first transaction), every `heartbeatIntervalMs`,
 * and on each reconnect. One TransactionProducer per group and instanceName in a process.
 *
 * Lives on the user's thread; any number of sendInTransaction calls and checks may run
 * concurrently (checks at most `checks_in_flight_max` at once).
 */
export class TransactionProducer {
  private readonly options: ResolvedProducerOptions & { group: string };
  private readonly heartbeat_interval_ms: number;
  private readonly logger: TransactionLogger;
  private readonly producer: Producer;
  private readonly checks: TransactionChecks;
  private state: State = 'created';
  private lease: PoolLease | undefined;
  private namesrv: NamesrvClient | undefined;
  private registered_key: string | undefined;
  /** Master brokers of the cluster at the last GET_CLUSTER_INFO: address → broker group name. */
  private masters = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private heartbeating: Promise<void> | undefined;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  /** sendInTransaction calls under way (held by their callers anyway): shutdown waits for them. */
  private readonly transactions = new Set<Promise<void>>();

  constructor(options: TransactionProducerOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new MqError('BAD_REQUEST', "TransactionProducer needs options, e.g. new TransactionProducer({ namesrv: '127.0.0.1:9876', group: 'TG', check })");
    }
    if (options.group === undefined) throw new MqError('BAD_REQUEST', 'TransactionProducer needs a group: brokers ask a live producer of the group about undecided transactions');
    if (typeof options.check !== 'function') {
      throw new MqError('BAD_REQUEST', "TransactionProducer needs check: async (message) => 'COMMIT' | 'ROLLBACK' | 'UNKNOWN', for the broker's check-back");
    }
    this.options = { ...resolveProducerOptions(options), group: options.group };
    this.heartbeat_interval_ms = heartbeatInterval(options.heartbeatIntervalMs);
    this.logger = options.logger ?? throttledStderrLogger();
    this.producer = new Producer(options);
    this.checks = new TransactionChecks({
      group: this.options.group,
      check: options.check,
      logger: this.logger,
      brokerNameOf: (address) => this.masters.get(address) ?? '',
      endTransaction: (address, request) => this.requestEnd(address, request),
    });
  }

  /** `host@pid@instance`, as brokers know this client ('' before start). */
  get clientId(): string {
    return this.lease?.client_id ?? '';
  }

  /**
   * Heartbeats every master broker the nameserver lists, so that brokers know this producer
   * before its first transaction. Rejects when no nameserver answers, or when called twice.
   */
  start(): Promise<void> {
    if (this.state !== 'created') {
      return Promise.reject(new MqError('BAD_REQUEST', `start() was called already (the transaction producer is ${this.state}); create a new TransactionProducer to start again`));
    }
    this.state = 'starting';
    this.starting = this.startUp();
    return this.starting;
  }

  /**
   * Sends `message` as a half message, runs `localTx` once the broker stored it, and ends the
   * transaction with its outcome. Rejects, without running `localTx`, when the half message
   * is not stored with SEND_OK (one that was stored anyway is rolled back). Resolves, never
   * throws, when only END_TRANSACTION fails: `endTransaction` is then FAILED and the broker's
   * check-back decides. A transactional message cannot be delayed (delayMs, deliverAt).
   */
  sendInTransaction(message: Message, localTx: LocalTransaction): Promise<TransactionSendResult> {
    try {
      this.use();
      if (typeof localTx !== 'function') throw new MqError('BAD_REQUEST', "sendInTransaction needs a local transaction: async (message) => 'COMMIT' | 'ROLLBACK' | 'UNKNOWN'");
      if (typeof message === 'object' && message !== null && (message.delayMs !== undefined || message.deliverAt !== undefined)) {
        throw new MqError('BAD_REQUEST', 'a transactional message cannot be delayed: remove delayMs and deliverAt (it is delivered when its transaction commits)');
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const transaction = this.transact(message, localTx);
    const settled = transaction.then(() => undefined, () => undefined);
    this.transactions.add(settled);
    void settled.then(() => this.transactions.delete(settled));
    return transaction;
  }

  /**
   * Stops heartbeating and taking check-backs, waits (up to `shutdown_wait_ms`) for running
   * checks and transactions to send their END_TRANSACTION, then closes. Idempotent.
   */
  shutdown(): Promise<void> {
    this.stopping ??= this.stop();
    return this.stopping;
  }

  private async startUp(): Promise<void> {
    const options = this.options;
    const lease = ConnectionPool.lease({ instance_name: options.instance_name, clock: options.clock, random: options.random, owner: 'transaction producer', tls: options.tls, credentials: options.credentials });
    this.lease = lease;
    try {
      const key = `${lease.client_id}\u0000${options.group}`;
      if (started_groups.has(key)) {
        throw new MqError('BAD_REQUEST', `a transaction producer of group ${options.group} already runs with instanceName '${options.instance_name}' in this process; share it, or give each its own instanceName`);
      }
      started_groups.add(key);
      this.registered_key = key;
      await this.producer.start();
      this.namesrv = new NamesrvClient(lease, options.namesrv_addresses, transaction_producer_limits.request_timeout_ms);
      lease.onPush((address, push) => this.checks.onPush(address, push));
      // A reconnect (a broker restarted): tell it at once that this producer lives.
      lease.onConnect((address) => {
        if (this.state === 'running' && this.masters.has(address)) void this.heartbeat(address);
      });
      this.masters = await this.fetchMasters();
      if (this.masters.size === 0) this.logger.warn('transaction producer: no master broker is registered with the nameserver yet; heartbeats start when one is');
      await this.heartbeatMasters();
      if (this.stopping !== undefined) throw new MqError('SHUTTING_DOWN', 'shutdown() was called while the transaction producer was starting', { retriable: false });
      this.timer = setInterval(() => this.heartbeatSoon(), this.heartbeat_interval_ms);
      this.timer.unref();
      this.state = 'running';
    } catch (error) {
      await this.close();
      this.state = 'stopped';
      throw error;
    }
  }

  private async stop(): Promise<void> {
    if (this.state === 'created') {
      this.state = 'stopped';
      return;
    }
    if (this.state === 'starting') await this.starting?.catch(() => undefined); // it sees `stopping` and cleans up
    if (this.state === 'stopped') return;
    this.state = 'stopping';
    clearInterval(this.timer);
    const deadline_ms = performance.now() + transaction_producer_limits.shutdown_wait_ms;
    const checks_left = await this.checks.drain(transaction_producer_limits.shutdown_wait_ms);
    const transactions_left = await waitAll([...this.transactions], Math.max(0, deadline_ms - performance.now()));
    if (checks_left + transactions_left > 0) {
      this.logger.warn(`transaction producer: shut down with ${checks_left} check(s) and ${transactions_left} transaction(s) still running after ${transaction_producer_limits.shutdown_wait_ms} ms; brokers settle them by check-back`);
    }
    await this.close();
    this.state = 'stopped';
  }

  private async close(): Promise<void> {
    clearInterval(this.timer);
    await this.producer.shutdown();
    this.lease?.close();
    if (this.registered_key !== undefined) started_groups.delete(this.registered_key);
    this.registered_key = undefined;
  }

  private async transact(message: Message, localTx: LocalTransaction): Promise<TransactionSendResult> {
    const half = await this.producer.sendWithFlags(message, transaction_flags.prepared);
    const result = sendResultOf(half);
    if (half.status !== 'SEND_OK') {
      // Stored, but not as safely as asked: roll it back rather than commit it unsafely.
      const ended = await this.end(message.topic, half, 'ROLLBACK');
      throw new MqError(half.status === 'SLAVE_NOT_AVAILABLE' ? 'BROKER_UNAVAILABLE' : 'TIMEOUT',
        `the half message to topic '${message.topic}' was stored by ${half.brokerName} with status ${half.status}, not SEND_OK: the local transaction did not run, and the half message was rolled back (${ended}); send again`,
        { retriable: true });
    }
    let outcome: TransactionOutcome;
    try {
      outcome = outcomeOf(await localTx(message, result), 'the local transaction', this.logger);
    } catch (thrown) {
      this.logger.warn(`local transaction threw for message ${half.msgId} (counted as UNKNOWN; the broker's check-back decides): ${thrown instanceof Error ? thrown.message : String(thrown)}`);
      outcome = 'UNKNOWN';
    }
    return { ...result, outcome, endTransaction: await this.end(message.topic, half, outcome) };
  }

  /** END_TRANSACTION to the master of the broker group that stored `half`; never throws. */
  private async end(topic: string, half: WireSendResult, outcome: TransactionOutcome): Promise<EndTransactionStatus> {
    const request: EndTransactionRequest = { producerGroup: this.options.group, commitLogOffset: half.commitLogOffset, msgId: half.msgId, outcome, fromCheck: false };
    try {
      const address = await this.producer.masterAddressOf(topic, half.brokerName);
      if (address === undefined) throw new MqError('NO_ROUTE', `broker group ${half.brokerName} has no master in the route of topic '${topic}' now`);
      return await this.requestEnd(address, request);
    } catch (thrown) {
      this.logger.warn(`END_TRANSACTION failed: ${outcome} of message ${half.msgId} on broker ${half.brokerName}: ${toMqError(thrown).message}; the broker's check-back settles it`);
      return 'FAILED';
    }
  }

  private async requestEnd(address: string, request: EndTransactionRequest): Promise<EndTransactionResult> {
    const reply = await (this.lease as PoolLease).request(address, request_codes.END_TRANSACTION, encodeEndTransactionRequest(request), { timeout_ms: transaction_producer_limits.request_timeout_ms });
    const decoded = decodeEndTransactionResponse(reply);
    if (!decoded.ok) throw new MqError('INTERNAL', `unreadable END_TRANSACTION reply from ${address}: ${decoded.error.message}`);
    return decoded.value.result;
  }

  /** Master brokers of every broker group the nameserver knows: address → group name. */
  private async fetchMasters(): Promise<Map<string, string>> {
    const answer = await (this.namesrv as NamesrvClient).requestVersioned(request_codes.GET_CLUSTER_INFO, encodeGetClusterInfoRequest({}));
    const reply = decodeClusterInfo(answer.body, answer.protocol_version);
    if (!reply.ok) throw new MqError('INTERNAL', `unreadable cluster info from the nameserver: ${reply.error.message}`);
    const masters = new Map<string, string>();
    for (const group of reply.value.groups) {
      const master = group.members.find((member) => member.brokerId === 0);
      if (master !== undefined) masters.set(master.address, group.brokerName);
    }
    return masters;
  }

  /** One heartbeat round at a time: a round still under way (slow brokers) skips this tick. */
  private heartbeatSoon(): void {
    if (this.heartbeating !== undefined || this.state !== 'running') return;
    this.heartbeating = this.heartbeatRound().finally(() => {
      this.heartbeating = undefined;
    });
  }

  /** Masters anew from the nameserver (the last known ones when none answers), then heartbeats. */
  private async heartbeatRound(): Promise<void> {
    try {
      this.masters = await this.fetchMasters();
    } catch (thrown) {
      if (this.state === 'running') this.logger.warn(`transaction producer: cluster info failed (heartbeating the ${this.masters.size} known master(s)): ${toMqError(thrown).message}`);
    }
    await this.heartbeatMasters();
  }

  private async heartbeatMasters(): Promise<void> {
    await mapBounded([...this.masters.keys()], transaction_producer_limits.heartbeats_in_flight_max, (address) => this.heartbeat(address));
  }

  private async heartbeat(address: string): Promise<void> {
    const lease = this.lease as PoolLease;
    const request = { clientId: lease.client_id, producerGroups: [this.options.group], consumerGroups: [] };
    const body = (protocol_version: number): Buffer => encodeHeartbeatRequest(request, protocol_version);
    try {
      await lease.request(address, request_codes.HEARTBEAT, body, { timeout_ms: transaction_producer_limits.request_timeout_ms });
    } catch (thrown) {
      if (this.state === 'running' || this.state === 'starting') this.logger.warn(`transaction producer heartbeat failed: broker ${this.masters.get(address) ?? ''} at ${address}: ${toMqError(thrown).message}`);
    }
  }

  private use(): void {
    if (this.state === 'created' || this.state === 'starting') throw new MqError('BAD_REQUEST', 'the transaction producer is not started: await tp.start() first', { retriable: false });
    if (this.state !== 'running') throw new MqError('SHUTTING_DOWN', 'the transaction producer is shut down; create a new TransactionProducer', { retriable: false });
  }
}

function heartbeatInterval(value: number | undefined): number {
  const { heartbeat_interval_ms_default, heartbeat_interval_ms_min, heartbeat_interval_ms_max } = transaction_producer_limits;
  if (value === undefined) return heartbeat_interval_ms_default;
  if (!Number.isInteger(value) || value < heartbeat_interval_ms_min || value > heartbeat_interval_ms_max) {
    throw new MqError('BAD_REQUEST', `heartbeatIntervalMs must be an integer ${heartbeat_interval_ms_min}..${heartbeat_interval_ms_max}, not ${String(value)}`);
  }
  return value;
}

/** Resolves when every promise settled or `timeout_ms` passed: with how many had not settled. */
async function waitAll(promises: readonly Promise<void>[], timeout_ms: number): Promise<number> {
  let settled = 0;
  let timer: NodeJS.Timeout | undefined;
  const all = Promise.all(promises.map((promise) => promise.then(() => {
    settled += 1;
  })));
  await Promise.race([all, new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeout_ms);
  })]);
  clearTimeout(timer);
  return promises.length - settled;
}

/** Repeats of one kind of warning (the text before the first ':') are dropped for this long. */
const log_repeat_interval_ms = 10_000;

/** The consumer's default logger's twin (consumer_options.ts): stderr, each kind at most every 10 s. */
function throttledStderrLogger(): TransactionLogger {
  const last_ms = new Map<string, number>();
  return {
    warn(message) {
      const kind = message.split(':', 1)[0] ?? message;
      const now_ms = Date.now();
      if (now_ms - (last_ms.get(kind) ?? -Infinity) < log_repeat_interval_ms) return;
      if (last_ms.size > 1_000) last_ms.clear(); // bounded: kinds are few, this only guards a bug
      last_ms.set(kind, now_ms);
      process.stderr.write(`mq-node transaction producer: ${message}\n`);
    },
  };
}
