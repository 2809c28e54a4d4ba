/**
 * The check-back side of a TransactionProducer: a broker that holds a half message nobody
 * decided for a while pushes CHECK_TRANSACTION_STATE (one-way) on a connection of a live
 * producer of the message's group; the producer asks its `check` callback and answers with
 * END_TRANSACTION (`fromCheck: true`) to the broker that pushed. This is how a transaction
 * whose producer died between the half message and its END_TRANSACTION gets settled: any
 * producer of the group started later answers for it.
 */
import {
  decodeCheckTransactionStateRequest,
  request_codes,
  transaction_outcomes,
  type CheckTransactionStateRequest,
  type EndTransactionRequest,
  type EndTransactionResult,
  type Envelope,
  type TransactionOutcome,
} from '../protocol/index.js';
import { toMqError } from '../runtime/errors.js';
import { receivedMessageOf, type ReceivedMessage } from './message.js';

export type { TransactionOutcome } from '../protocol/index.js';

export const transaction_check_limits = {
  /**
   * Check callbacks running at once per producer: a broker with thousands of undecided
   * messages cannot make this client run thousands of callbacks (database look-ups, most
   * often) at once.
   */
  checks_in_flight_max: 16,
  /**
   * Checks waiting for a free slot. A broker hands out its due checks in rounds of up to
   * 256, and each one it pushes counts towards the maximum after which it rolls the message
   * back, so checks wait here rather than being dropped. A push beyond this is dropped (with
   * a warning): the broker asks again at its next check interval.
   */
  checks_queued_max: 4_096,
} as const;

/**
 * The producer's answer for a half message it is asked about: look at the business state
 * (was the order saved?) and say COMMIT, ROLLBACK or UNKNOWN (ask again later). A check that
 * throws, or resolves to anything else, counts as UNKNOWN.
 *
 * Typed as async only: with `Promise<T> | T`, TypeScript widens `async (m) => 'COMMIT'` to
 * Promise<string> and refuses it. A plain (non-async) function works too at run time.
 */
export type TransactionCheck = (message: ReceivedMessage) => Promise<TransactionOutcome>;

/** Where a TransactionProducer reports what it cannot throw to anyone. */
export interface TransactionLogger {
  warn(message: string): void;
}

/** What the checks need from their producer. */
export interface TransactionCheckDeps {
  group: string;
  check: TransactionCheck;
  logger: TransactionLogger;
  /** The broker group name of the broker at `address` ('' when not known yet). */
  brokerNameOf(address: string): string;
  /** Sends END_TRANSACTION to `address`; rejects when it fails. */
  endTransaction(address: string, request: EndTransactionRequest): Promise<EndTransactionResult>;
}

/** `value` when it is an outcome; otherwise UNKNOWN, with a warning naming `what` returned it. */
export function outcomeOf(value: unknown, what: string, logger: TransactionLogger): TransactionOutcome {
  if ((transaction_outcomes as readonly unknown[]).includes(value)) return value as TransactionOutcome;
  logger.warn(`${what} returned ${describe(value)}, not 'COMMIT', 'ROLLBACK' or 'UNKNOWN': counted as UNKNOWN`);
  return 'UNKNOWN';
}

/**
 * Runs the check callback for each CHECK_TRANSACTION_STATE push of this producer's group, at
 * most `checks_in_flight_max` at once (the rest wait, in arrival order, up to
 * `checks_queued_max`), and one at a time per half message (a broker that asks again while
 * the first check runs or waits is not answered twice). Pushes of other codes or groups are
 * not its business and are ignored.
 *
 * Lives on the user's thread (the pool calls `onPush` synchronously); the callbacks run
 * concurrently with each other and with the producer's sends.
 */
export class TransactionChecks {
  /** `address/commitLogOffset` of each half message being checked → its run. */
  private readonly running = new Map<string, Promise<void>>();
  /** Checks waiting for a slot, by the same key, in arrival order (a Map keeps it). */
  private readonly waiting = new Map<string, { address: string; request: CheckTransactionStateRequest }>();
  private accepting = true;

  constructor(private readonly deps: TransactionCheckDeps) {}

  /** The pool's push listener: every push of every connection of the pool comes here. */
  onPush(address: string, push: Envelope): void {
    if (push.code !== request_codes.CHECK_TRANSACTION_STATE || !this.accepting) return;
    const decoded = decodeCheckTransactionStateRequest(push.body);
    if (!decoded.ok) {
      this.deps.logger.warn(`transaction check: unreadable CHECK_TRANSACTION_STATE from ${address}: ${decoded.error.message}`);
      return;
    }
    const request = decoded.value;
    if (request.producerGroup !== this.deps.group) return;
    const key = `${address}/${request.commitLogOffset}`;
    if (this.running.has(key) || this.waiting.has(key)) return;
    if (this.running.size < transaction_check_limits.checks_in_flight_max) {
      this.begin(key, address, request);
      return;
    }
    if (this.waiting.size >= transaction_check_limits.checks_queued_max) {
      this.deps.logger.warn(`transaction check dropped: ${this.running.size} checks run and ${this.waiting.size} wait already (the limits); broker ${address} asks about message ${request.msgId} again later`);
      return;
    }
    this.waiting.set(key, { address, request });
  }

  /** Checks running now (tests, diagnostics). */
  get in_flight(): number {
    return this.running.size;
  }

  /** Checks waiting for a free slot (tests, diagnostics). */
  get queued(): number {
    return this.waiting.size;
  }

  /**
   * Takes no more pushes, forgets the waiting checks (their brokers ask again) and waits for
   * the running ones, at most `timeout_ms`; resolves with how many were still running then
   * (their answers may fail: the broker asks again).
   */
  async drain(timeout_ms: number): Promise<number> {
    this.accepting = false;
    this.waiting.clear();
    if (this.running.size === 0) return 0;
    let timer: NodeJS.Timeout | undefined;
    const timed_out = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeout_ms);
    });
    await Promise.race([Promise.allSettled([...this.running.values()]), timed_out]);
    clearTimeout(timer);
    return this.running.size;
  }

  private begin(key: string, address: string, request: CheckTransactionStateRequest): void {
    const run = this.run(address, request).finally(() => {
      this.running.delete(key);
      this.next();
    });
    this.running.set(key, run);
  }

  /** A slot freed: the longest-waiting check takes it. */
  private next(): void {
    const first = this.waiting.entries().next();
    if (first.done === true || !this.accepting) return;
    const [key, { address, request }] = first.value;
    this.waiting.delete(key);
    this.begin(key, address, request);
  }

  private async run(address: string, request: CheckTransactionStateRequest): Promise<void> {
    const { logger } = this.deps;
    let message: ReceivedMessage;
    try {
      message = receivedMessageOf(request.message, this.deps.brokerNameOf(address));
    } catch (thrown) {
      // A damaged body is not shown to the callback; the broker asks again later.
      logger.warn(`transaction check skipped: message ${request.msgId} from ${address}: ${toMqError(thrown).message}`);
      return;
    }
    let outcome: TransactionOutcome;
    try {
      outcome = outcomeOf(await this.deps.check(message), 'the transaction check', logger);
    } catch (thrown) {
      logger.warn(`transaction check threw for message ${request.msgId} (counted as UNKNOWN): ${thrown instanceof Error ? thrown.message : String(thrown)}`);
      outcome = 'UNKNOWN';
    }
    try {
      await this.deps.endTransaction(address, {
        producerGroup: request.producerGroup,
        commitLogOffset: request.commitLogOffset,
        msgId: request.msgId,
        outcome,
        fromCheck: true,
      });
    } catch (thrown) {
      logger.warn(`transaction check answer failed: ${outcome} for message ${request.msgId} to ${address}: ${toMqError(thrown).message}; the broker asks again later`);
    }
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined || value === null) return String(value);
  return typeof value;
}
