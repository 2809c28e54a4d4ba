import type { StoredMessage } from '../../../protocol/index.js';
import { system_clock, type Clock } from '../../../runtime/clock.js';
import { MqError } from '../../../runtime/errors.js';
import { logger, type Logger } from '../../../runtime/log.js';
import { parseSubscription } from '../../../storage/tag_hash.js';
import { DeadLetterForwarder, type DeadLetterOutcome } from './dead_letter_forwarder.js';
import type { InFlightMessage } from './in_flight_message.js';
import { InFlightTable } from './in_flight_table.js';
import type { PopBroker, PopHolder } from './pop_broker.js';
import { PopCollector, type CollectParams } from './pop_collector.js';
import { pop_limits, type PopLimits } from './pop_limits.js';
import { PopCommits } from './pop_commits.js';
import { maxAttemptsOf, PopRegistry, type RegisterSettings } from './pop_registry.js';
import type { PopSubscription } from './pop_subscription.js';
import { ReceiptHandleCodec } from './receipt_handle.js';

export interface PopEngineOptions {
  clock?: Clock;
  /** The receipt handles' HMAC key (default: 32 random bytes, new in every process). */
  receipt_key?: Uint8Array;
  /** Bounds to use instead of pop_limits (tests). */
  limits?: Partial<PopLimits>;
  log?: Logger;
}

export type { RegisterSettings } from './pop_registry.js';

export interface ReceiveRequest {
  group: string;
  topic: string;
  /** A tag expression as PULL takes it: `*` (or empty) for all, else `a||b`. */
  filter: string;
  /** Messages wanted: 1 or more, capped at pop_limits.batch_size_max. */
  batch_size: number;
  /** How long the messages stay invisible; undefined: pop_limits.invisible_ms_default. */
  invisible_ms?: number;
  /** How long to wait when nothing is there (0: answer at once). */
  long_poll_ms: number;
  /** Deliveries before the dead letters, for the messages of this receive; undefined: the group's. */
  max_attempts?: number;
  holder: PopHolder;
}

export interface ReceivedMessage {
  /** The message as stored; `body` is a view into the mapped CommitLog: copy it out (the
   *  response encoding does) before the store closes. */
  message: StoredMessage;
  receipt_handle: string;
  /** 1 on the first delivery. */
  delivery_attempt: number;
  /** How long it stays invisible (the duration asked for, clamped). */
  invisible_ms: number;
}

export type HandleResult = { status: 'ok' } | { status: 'invalid_receipt_handle'; reason: string };
export type ChangeInvisibleResult = { status: 'ok'; receipt_handle: string; invisible_ms: number } | { status: 'invalid_receipt_handle'; reason: string };

type Resolved = { ok: true; entry: InFlightMessage } | { ok: false; reason: string };

/**
 * Pop-style consumption (RocketMQ 5's simple consumer: ReceiveMessage, AckMessage,
 * ChangeInvisibleDuration, ForwardMessageToDeadLetterQueue) over the broker's own storage:
 * messages are read from the ConsumeQueues like a PULL, progress is the group's committed
 * offset per queue in the offset store. There is no second copy of any message and no
 * second log: what is in flight lives in memory only.
 *
 * Semantics (per consumer group and topic, over the topic's read queues on this broker):
 * - receive: first the messages whose invisible time ran out (delivery_attempt + 1, a new
 *   handle), then new messages round robin over the queues; nothing: long-poll, then empty.
 * - a received message is invisible until its deadline, then delivered again (at least once).
 * - ack: the committed offset of the queue moves to its lowest unacked offset.
 * - a message delivered max_attempts times is, when its time runs out again, stored in
 *   `%DLQ%<group>` and counts as acked; forwardToDeadLetter does that on request.
 * - FIFO groups: a queue with a message in flight is not read (ordered per queue).
 * - a new group starts at each queue's end (register), unless it has a committed offset.
 * - a broker restart resumes from the committed offsets: messages received but not acked
 *   before it are delivered again, with delivery_attempt 1 (attempts are not persisted), and
 *   every receipt handle issued before it is refused (the key is new): at least once.
 *
 * Thread: everything runs on the broker's main thread, which also owns the StoreReader,
 * the PullHold and the offset-store reference the PopBroker wraps. Nothing here is shared
 * with another thread; async steps (offset queries, dead-letter appends, long polls) resume
 * on the same thread and re-check state after each await.
 */
export class PopEngine {
  private readonly clock: Clock;
  private readonly limits: PopLimits;
  private readonly log: Logger;
  private readonly codec: ReceiptHandleCodec;
  private readonly table: InFlightTable;
  private readonly collector: PopCollector;
  private readonly forwarder: DeadLetterForwarder;
  private readonly commits: PopCommits;
  private readonly registry: PopRegistry;
  private closed = false;

  constructor(
    private readonly broker: PopBroker,
    options: PopEngineOptions = {},
  ) {
    this.clock = options.clock ?? system_clock;
    this.limits = { ...pop_limits, ...options.limits };
    this.log = options.log ?? logger('pop', { broker: broker.broker_name });
    this.codec = new ReceiptHandleCodec(options.receipt_key);
    this.table = new InFlightTable(this.clock.monotonicMs(), this.limits.wheel_entries_max, this.limits.in_flight_total_max);
    this.forwarder = new DeadLetterForwarder(
      broker,
      this.limits.dead_letters_in_flight_max,
      (entry, outcome) => this.deadLettered(entry, outcome),
      (entry, error) => this.deadLetterFailed(entry, error),
    );
    this.commits = new PopCommits(broker);
    this.collector = new PopCollector({
      broker,
      limits: this.limits,
      table: this.table,
      codec: this.codec,
      log: this.log,
      settle: (entry) => this.settle(entry),
      moved: (queue) => this.commits.mark(queue),
    });
    this.registry = new PopRegistry({ broker, limits: this.limits, clock: this.clock, collector: this.collector, commits: this.commits });
  }

  /**
   * Makes (group, topic) known: each read queue starts at its committed offset, or at its
   * current end when the group has none (that start is committed at once, so that a restart
   * resumes there). Called when a consumer's Telemetry settings or Heartbeat arrive, and by
   * the first receive. Again later: updates the settings given.
   */
  async register(group: string, topic: string, settings: RegisterSettings = {}): Promise<void> {
    this.checkOpen();
    await this.registry.get(group, topic, settings);
  }

  async receive(request: ReceiveRequest): Promise<ReceivedMessage[]> {
    this.checkOpen();
    if (!Number.isInteger(request.batch_size) || request.batch_size < 1) {
      throw new MqError('BAD_REQUEST', `batch_size is ${request.batch_size}; ask for 1 to ${this.limits.batch_size_max} messages`);
    }
    const tag_filter = parseSubscription(request.filter).filter;
    const subscription = await this.registry.get(request.group, request.topic, {});
    this.checkOpen();
    const params: CollectParams = {
      batch_size: Math.min(request.batch_size, this.limits.batch_size_max),
      invisible_ms: clampDuration(request.invisible_ms ?? this.limits.invisible_ms_default, this.limits.receive_invisible_ms_min, this.limits.invisible_ms_max),
      max_attempts: maxAttemptsOf(request.max_attempts ?? subscription.settings.max_attempts, this.limits),
      tag_filter,
    };
    const long_poll_ms = clampDuration(request.long_poll_ms, 0, this.limits.long_poll_ms_max);
    const first = this.collect(subscription, params);
    if (first.length > 0 || long_poll_ms === 0) return first;
    return this.longPoll(subscription, params, long_poll_ms, request.holder);
  }

  /** Acks one delivery; its queue's committed offset moves to the lowest unacked offset. */
  ack(group: string, topic: string, receipt_handle: string): HandleResult {
    const resolved = this.resolve(group, topic, receipt_handle);
    if (!resolved.ok) return { status: 'invalid_receipt_handle', reason: resolved.reason };
    this.settle(resolved.entry);
    return { status: 'ok' };
  }

  /**
   * A new deadline, `invisible_ms` from now (clamped to 0 .. 12 h; 0: visible now), under a
   * new receipt handle; the old one goes stale. The delivery attempt stays: it counts
   * deliveries, and this is not one.
   */
  changeInvisibleDuration(group: string, topic: string, receipt_handle: string, invisible_ms: number): ChangeInvisibleResult {
    const resolved = this.resolve(group, topic, receipt_handle);
    if (!resolved.ok) return { status: 'invalid_receipt_handle', reason: resolved.reason };
    const entry = resolved.entry;
    const duration_ms = clampDuration(invisible_ms, this.limits.change_invisible_ms_min, this.limits.invisible_ms_max);
    if (duration_ms > 0 && this.table.client_room < 1) throw this.wheelFull();
    const subscription = entry.subscription;
    const now_ms = this.clock.monotonicMs();
    subscription.visible.delete(entry);
    subscription.last_active_ms = now_ms;
    if (duration_ms === 0) {
      // Visible now: the next receive delivers it again (after the others visible before it).
      this.table.reveal(entry);
      this.becameVisible(entry);
    } else {
      this.table.schedule(entry, now_ms + duration_ms);
    }
    return { status: 'ok', receipt_handle: this.collector.handleOf(entry), invisible_ms: duration_ms };
  }

  /**
   * Stores the message in `%DLQ%<group>` now and counts it as acked (the FIFO PushConsumer
   * sends this after its local retries). When the copy cannot be stored now, the error is
   * thrown and the message stays in flight under the same handle, so the client's retry works.
   */
  async forwardToDeadLetter(group: string, topic: string, receipt_handle: string): Promise<HandleResult> {
    const resolved = this.resolve(group, topic, receipt_handle);
    if (!resolved.ok) return { status: 'invalid_receipt_handle', reason: resolved.reason };
    const entry = resolved.entry;
    if (this.forwarder.running_count >= this.limits.dead_letters_in_flight_max) {
      throw new MqError('BUSY', `${this.forwarder.running_count} messages are being moved to dead-letter topics on broker ${this.broker.broker_name}; try again shortly`);
    }
    entry.subscription.visible.delete(entry);
    // Its handle stays in the table (refused while dead-lettering): if the copy cannot be
    // stored now, deadLetterFailed makes it invisible again under the same handle and the
    // error reaches the client, whose retry then works.
    entry.state = 'dead_lettering';
    await this.forwarder.forward(entry);
    return { status: 'ok' };
  }

  /** Hands the committed offsets that moved to the offset store now (also done after each
   *  turn that moved any, and at close). */
  flushCommits(): void {
    this.commits.flush();
  }

  /** Stops taking requests and commits what moved. Held receives answer empty. */
  close(): void {
    this.closed = true;
    this.flushCommits();
  }

  inspect(): Record<string, number> {
    let in_flight = 0;
    let visible = 0;
    for (const subscription of this.registry.values()) {
      in_flight += subscription.in_flight;
      visible += subscription.visible.size;
    }
    return {
      subscriptions: this.registry.size,
      in_flight,
      visible,
      tracked: this.collector.tracked_total,
      receipt_handles: this.table.named,
      wheel_entries: this.table.wheel_entries,
      dead_letters_running: this.forwarder.running_count,
      dead_letters_waiting: this.forwarder.waiting_count,
      commits_pending: this.commits.pending,
    };
  }

  private collect(subscription: PopSubscription, params: CollectParams): ReceivedMessage[] {
    const now_ms = this.clock.monotonicMs();
    this.expire(now_ms);
    subscription.last_active_ms = now_ms;
    return this.collector.collect(subscription, params, now_ms);
  }

  private longPoll(subscription: PopSubscription, params: CollectParams, long_poll_ms: number, holder: PopHolder): Promise<ReceivedMessage[]> {
    return new Promise<ReceivedMessage[]>((resolve, reject) => {
      let answered = false;
      subscription.held++;
      const finish = (): boolean => {
        if (answered) return false;
        answered = true;
        subscription.held--;
        return true;
      };
      const answer = (): void => {
        if (!finish()) return;
        // Closed or gone: nothing is read for it (what it would get would stay invisible).
        if (this.closed || holder.open?.() === false) return resolve([]);
        try {
          resolve(this.collect(subscription, params));
        } catch (error) {
          reject(error);
        }
      };
      const ready = (): boolean => !this.closed && this.hasWork(subscription);
      // A hold that is full (the broker's, or this client's share) is not an empty queue: BUSY
      // makes the client back off (TOO_MANY_REQUESTS) instead of polling again at once.
      if (!this.broker.hold(ready, answer, long_poll_ms, holder) && finish()) reject(new MqError('BUSY', 'too many long polls are held on this broker for this client; retry after a pause'));
    });
  }

  /** Whether a receive of `subscription` would find something (ignoring its tag filter). */
  private hasWork(subscription: PopSubscription): boolean {
    this.expire(this.clock.monotonicMs());
    if (subscription.visible.size > 0) return true;
    return this.collector.hasNew(subscription);
  }

  private expire(now_ms: number): void {
    this.table.expire(now_ms, (entry) => this.becameVisible(entry));
  }

  /** Its invisible time ran out: delivered again, or, with its attempts used up, dead-lettered. */
  private becameVisible(entry: InFlightMessage): void {
    if (entry.attempt >= entry.max_attempts) {
      entry.state = 'dead_lettering';
      this.forwarder.enqueue(entry);
      return;
    }
    entry.state = 'visible';
    entry.subscription.visible.add(entry);
  }

  /** Acked, dead-lettered or gone: out of flight; the queue's committed offset may move. */
  private settle(entry: InFlightMessage): void {
    const subscription = entry.subscription;
    this.table.unname(entry);
    subscription.visible.delete(entry);
    subscription.last_active_ms = this.clock.monotonicMs();
    this.collector.settle(entry);
    this.commits.mark(entry.queue);
  }

  private deadLettered(entry: InFlightMessage, outcome: DeadLetterOutcome): void {
    if (entry.state !== 'dead_lettering') return;
    const subscription = entry.subscription;
    if (outcome === 'stored') {
      this.log.warn({ group: subscription.group, topic: subscription.topic, queue_id: entry.queue.queue_id, queue_offset: entry.queue_offset, msg_id: entry.msg_id, attempts: entry.attempt }, `message dead-lettered into %DLQ%${subscription.group}`);
    } else {
      this.log.warn({ group: subscription.group, topic: subscription.topic, queue_offset: entry.queue_offset }, 'message to dead-letter was deleted by retention meanwhile; dropped');
    }
    this.settle(entry);
  }

  private deadLetterFailed(entry: InFlightMessage, error: unknown): void {
    if (entry.state !== 'dead_lettering') return;
    this.log.warn({ err: error, group: entry.subscription.group, topic: entry.subscription.topic, queue_offset: entry.queue_offset }, `the dead-letter copy could not be stored; trying again in ${this.limits.dead_letter_retry_ms} ms`);
    // In flight all along: its place in the wheel is reserved (InFlightTable.client_room).
    // At the deadline it has still used up its attempts, so it comes back here.
    this.table.schedule(entry, this.clock.monotonicMs() + this.limits.dead_letter_retry_ms, true);
  }

  private resolve(group: string, topic: string, receipt_handle: string): Resolved {
    this.checkOpen();
    const decoded = this.codec.decode(group, receipt_handle);
    if (!decoded.ok) return decoded;
    const handle = decoded.handle;
    if (handle.broker_name !== this.broker.broker_name) return { ok: false, reason: `the receipt handle is of broker ${handle.broker_name}, this is ${this.broker.broker_name}` };
    if (handle.topic !== topic) return { ok: false, reason: `the receipt handle is of topic ${handle.topic}, the request names ${topic}` };
    const entry = this.table.find(handle.delivery_seq);
    if (entry === undefined || entry.subscription.group !== group || entry.subscription.topic !== topic || entry.queue.queue_id !== handle.queue_id || entry.queue_offset !== handle.queue_offset) {
      return { ok: false, reason: 'the receipt handle is stale: the message was acked, delivered again or given a new invisible duration since it was issued' };
    }
    if (entry.state === 'dead_lettering') return { ok: false, reason: 'the message is being moved to the dead-letter topic: it used up its delivery attempts or was forwarded there' };
    return { ok: true, entry };
  }

  private wheelFull(): MqError {
    return new MqError('BUSY', `broker ${this.broker.broker_name} holds ${this.table.wheel_entries} invisibility deadlines, its bound; try again shortly`);
  }

  private checkOpen(): void {
    if (this.closed) throw new MqError('SHUTTING_DOWN', `broker ${this.broker.broker_name} is stopping; try another broker`);
  }
}

/** A duration in ms clamped to [min, max]; not a finite number: BAD_REQUEST. */
function clampDuration(value: number, min_ms: number, max_ms: number): number {
  if (!Number.isFinite(value)) throw new MqError('BAD_REQUEST', `duration ${value} ms is not a number of milliseconds`);
  return Math.min(Math.max(Math.round(value), min_ms), max_ms);
}
