import { retry_topic_prefix, system_properties, type PullResponse, type SendBackResult } from '../../protocol/index.js';
import { assert, assertNever } from '../../runtime/assert.js';
import { MqError } from '../../runtime/errors.js';
import { backoffDelayMs, type BackoffPolicy } from '../retry_backoff.js';
import type { BrokerLink } from './broker_link.js';
import { receivedMessageOf } from '../message.js';
import type { ResolvedConsumerOptions } from './consumer_options.js';
import { consumer_limits } from './consumer_options.js';
import type { ConsumerEvents } from './consumer_events.js';
import { pullMessages, queueOffset, sendMessageBack } from './consumer_requests.js';
import { listenerViewOf, type Delivery } from './delivery.js';
import { failureOutcome } from './failure_outcome.js';
import { messageQueueKey, type MessageQueue } from './message_queue.js';
import { OffsetTracker } from './offset_tracker.js';
import { no_committed_offset, type OffsetStore } from './offset_store.js';
import { QueueBuffer } from './queue_buffer.js';
import type { TagCheck } from './tag_check.js';

export const assigned_queue_limits = {
  /** After a failed pull (or offset lookup), the next waits 50..100 ms, doubling up to 3 s. */
  pull_retry_backoff: { base_ms: 100, max_ms: 3_000 } satisfies BackoffPolicy,
  /** An empty reply faster than this was not held by the broker (long polling off or full)... */
  empty_pull_fast_ms: 20,
  /** ...so the next pull waits this long instead of spinning. */
  empty_pull_pause_ms: 100,
  /** A backward OFFSET_MOVED waits for the pending messages this often. */
  offset_moved_wait_ms: 100,
  /** Requests other than pulls (offset lookups). */
  request_timeout_ms: 3_000,
  /** A CONSUMER_SEND_BACK; a release waits for those under way (within its drain timeout). */
  send_back_timeout_ms: 3_000,
} as const;

export interface AssignedQueueContext {
  options: ResolvedConsumerOptions;
  link: BrokerLink;
  offsets: OffsetStore;
  events: ConsumerEvents;
  /** The queue may have a message to run now. */
  ready(queue: AssignedQueue): void;
  /** A request to the queue's broker failed: its route may be stale. */
  brokerFailed(queue: MessageQueue): void;
}

type QueueState = 'active' | 'releasing' | 'released';

/** One owned queue's counters (Consumer.stats()). */
export interface QueueStats {
  queue: MessageQueue;
  /** Messages pulled and not finished (waiting, in the listener, or waiting for a retry). */
  held: number;
  heldBytes: number;
  inListener: number;
  /** Failed messages being handed to the broker (CONSUMER_SEND_BACK) now. */
  sendingBack: number;
  /** Pulling is paused because the buffer is full. */
  paused: boolean;
  /** Where the next pull starts; undefined before the start offset is known. */
  nextOffset: number | undefined;
  /** What the next commit would write. */
  committable: number | undefined;
}

/**
 * One queue this consumer owns, from assignment to release: its pull loop, its local buffer
 * (bounded: pulling pauses when it is full) and its offset tracker. The dispatcher takes
 * messages from it (`take`) and reports each outcome (`acked`, `failed`).
 *
 * A failed message, clustering: sent back to its broker, which stores a durable copy in the
 * group's retry topic (or, once consumed `maxReconsumeTimes` times, its dead-letter topic);
 * acked once the broker answers OK. When the send-back fails the message stays un-acked and
 * is redelivered locally after a backoff, and sent back again at its next failure: nothing
 * is acked without a copy somewhere. Orderly: retried locally (order must hold), and after
 * `maxReconsumeTimes` local failures sent back with a bound of 0, which dead-letters it.
 * Broadcasting: retried locally, then given up on (event 'gave-up').
 *
 * Release (a rebalance gave the queue away, or shutdown) stops the pulls, drops the messages
 * not yet started, waits (up to the drain timeout) for those in the listener, then commits
 * the offset below the lowest unfinished one. Messages dropped or given up this way are not
 * acked, so the next owner re-delivers them: a handover causes re-delivery, never loss.
 *
 * Runs on the user's thread; the pull loop is one async task per queue, and no state is
 * touched by anything else.
 */
export class AssignedQueue {
  readonly key: string;
  readonly buffer: QueueBuffer<Delivery>;
  private tracker: OffsetTracker | undefined;
  private state: QueueState = 'active';
  private in_listener = 0;
  private sending_back = 0;
  private readonly retrying = new Map<NodeJS.Timeout, Delivery>();
  private wake_pause: (() => void) | undefined;
  private drained: (() => void) | undefined;
  private releasing: Promise<number | undefined> | undefined;

  constructor(
    readonly queue: MessageQueue,
    private readonly tags: TagCheck,
    private readonly context: AssignedQueueContext,
  ) {
    this.key = messageQueueKey(queue);
    const options = context.options;
    this.buffer = new QueueBuffer({
      messages_max: options.queue_buffer_messages,
      bytes_max: options.queue_buffer_bytes,
      resume_fraction: consumer_limits.queue_buffer_resume_fraction,
    });
  }

  get active(): boolean {
    return this.state === 'active';
  }

  /** Messages in the listener now. */
  get inListener(): number {
    return this.in_listener;
  }

  /** Starts the pull loop (it ends by itself once the queue is released). */
  start(): void {
    void this.pullLoop();
  }

  /**
   * Whether the dispatcher may take a message now: one is waiting, and in orderly mode none
   * of this queue is in the listener, being sent back or waiting for a retry (order holds
   * across failures).
   */
  runnable(): boolean {
    if (this.state !== 'active' || this.buffer.waitingCount === 0) return false;
    return !this.context.options.orderly || (this.in_listener === 0 && this.sending_back === 0 && this.retrying.size === 0);
  }

  take(): Delivery {
    assert(this.runnable(), `take from queue ${this.key} that has nothing runnable`);
    this.in_listener++;
    return this.buffer.take() as Delivery;
  }

  /** The listener resolved: the message is done. */
  acked(delivery: Delivery): void {
    if (this.state === 'released') return; // given up by the drain timeout: the next owner re-delivers it
    this.in_listener--;
    this.settle(delivery, true);
  }

  /** The listener threw or returned 'RETRY'. */
  failed(delivery: Delivery, error: unknown): void {
    if (this.state === 'released') return;
    delivery.failures++;
    this.in_listener--;
    const outcome = failureOutcome(this.context.options, delivery.failures);
    switch (outcome.kind) {
      case 'give-up': {
        const { options, events } = this.context;
        options.logger.warn(`message given up: ${delivery.message.msgId} (${this.key} offset ${delivery.message.queueOffset}) failed ${delivery.failures} times, more than maxReconsumeTimes ${options.max_reconsume_times}; last error: ${describe(error)}`);
        events.emit({ kind: 'gave-up', message: delivery.message, error });
        this.settle(delivery, true);
        return;
      }
      case 'send-back':
        void this.sendBack(delivery, outcome.max_reconsume_times, error);
        return;
      case 'retry-locally':
        this.retryLocally(delivery);
        return;
      default:
        assertNever(outcome);
    }
  }

  /** Back into the buffer after a backoff; while releasing, left un-acked for the next owner. */
  private retryLocally(delivery: Delivery): void {
    if (this.state === 'releasing') {
      this.settle(delivery, false); // not acked: the next owner re-delivers it
      return;
    }
    const options = this.context.options;
    const delay_ms = backoffDelayMs({ base_ms: options.retry_delay_ms, max_ms: options.retry_delay_max_ms }, delivery.failures - 1, options.random);
    const timer = setTimeout(() => {
      this.retrying.delete(timer);
      if (this.state !== 'active') return;
      this.buffer.putBack(delivery, delivery.bytes);
      this.context.ready(this);
    }, delay_ms);
    this.retrying.set(timer, delivery);
  }

  /**
   * Hands the failed message to its broker; acks it once the broker holds the copy. Any
   * failure (broker down, timeout, an error answer) keeps it un-acked and retries it locally:
   * its next failure sends it back again.
   */
  private async sendBack(delivery: Delivery, max_reconsume_times: number, error: unknown): Promise<void> {
    const { options, link, events } = this.context;
    const message = delivery.message;
    this.sending_back++;
    let result: SendBackResult | undefined;
    try {
      result = await sendMessageBack(link, message.brokerName, {
        group: options.group,
        commitLogOffset: message.commitLogOffset,
        msgId: message.properties[system_properties.origin_message_id] || message.msgId, // the producer's id, kept across retries
        maxReconsumeTimes: max_reconsume_times,
      }, assigned_queue_limits.send_back_timeout_ms);
    } catch (send_error) {
      options.logger.warn(`send-back failed: ${message.msgId} (${this.key} offset ${message.queueOffset}) stays un-acked and is retried locally, then sent back at its next failure; broker ${message.brokerName}: ${describe(send_error)}; listener error: ${describe(error)}`);
      this.context.brokerFailed(this.queue);
    } finally {
      this.sending_back--;
    }
    if (this.state === 'released') return; // the drain timed out meanwhile: the next owner re-delivers it
    if (result === undefined) {
      this.retryLocally(delivery);
    } else {
      events.emit({ kind: 'sent-back', message, destination: result.destination, topic: result.topic, reconsumeTimes: result.reconsumeTimes });
      this.settle(delivery, true);
    }
    this.context.ready(this); // orderly: the queue may run its next message now
  }

  stats(): QueueStats {
    return {
      queue: this.queue,
      held: this.buffer.heldCount,
      heldBytes: this.buffer.heldBytes,
      inListener: this.in_listener,
      sendingBack: this.sending_back,
      paused: this.buffer.paused,
      nextOffset: this.tracker?.nextOffset,
      committable: this.tracker?.committable(),
    };
  }

  /** The offset to commit now, or undefined before the start offset is known. */
  committable(): number | undefined {
    return this.tracker?.committable();
  }

  /**
   * Gives the queue up; resolves with the offset committed (undefined when none was known)
   * once the listener calls are done or the drain timeout passed. Idempotent.
   */
  release(): Promise<number | undefined> {
    this.releasing ??= this.drainAndCommit();
    return this.releasing;
  }

  private async drainAndCommit(): Promise<number | undefined> {
    this.state = 'releasing';
    this.wake_pause?.();
    this.buffer.clearWaiting();
    for (const [timer, delivery] of this.retrying) {
      clearTimeout(timer);
      this.buffer.release(delivery.bytes);
    }
    this.retrying.clear();
    this.buffer.wakeWaiters();
    if (this.unfinished() > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        timer = setTimeout(resolve, this.context.options.drain_timeout_ms);
      });
      clearTimeout(timer);
      if (this.unfinished() > 0) {
        this.context.options.logger.warn(`queue handed over with ${this.in_listener} listener calls and ${this.sending_back} send-backs unfinished: ${this.key} after ${this.context.options.drain_timeout_ms} ms (drainTimeoutMs); the next owner re-delivers them`);
      }
    }
    this.state = 'released';
    const offset = this.tracker?.committable();
    if (offset !== undefined) {
      const { offsets, events } = this.context;
      offsets.update(this.queue, offset);
      try {
        const committed = await offsets.persist([this.queue]);
        if (committed.length > 0) events.emit({ kind: 'committed', offsets: committed });
      } catch (error) {
        this.context.options.logger.warn(`offset commit on release failed: ${this.key} at ${offset}: ${describe(error)}; the next owner re-delivers from the last commit`);
      }
      offsets.forget(this.queue);
    }
    this.context.events.emit({ kind: 'released', queue: this.queue, offset, unacked: this.tracker?.pendingCount ?? 0 });
    return offset;
  }

  /** Listener calls and send-backs a release waits for. */
  private unfinished(): number {
    return this.in_listener + this.sending_back;
  }

  /** The message leaves the buffer; acked, it leaves the offset tracker too. */
  private settle(delivery: Delivery, acked: boolean): void {
    this.buffer.release(delivery.bytes);
    if (acked) this.tracker?.ack(delivery.message.queueOffset);
    if (this.state === 'releasing' && this.unfinished() === 0) this.drained?.();
  }

  private async pullLoop(): Promise<void> {
    let failures = 0;
    while (this.state === 'active') {
      try {
        if (this.tracker === undefined) {
          const start_offset = await this.startOffset();
          if (this.state !== 'active') return;
          this.tracker = new OffsetTracker(start_offset);
        }
        if (this.buffer.paused) {
          await this.buffer.whenResumed();
          continue;
        }
        const started_ms = performance.now();
        const response = await this.pull(this.tracker);
        if (this.state !== 'active') return; // released meanwhile: these messages are the next owner's
        failures = 0;
        await this.accept(this.tracker, response, performance.now() - started_ms);
      } catch (error) {
        if (this.state !== 'active') return;
        failures++;
        this.context.options.logger.warn(`pull failed: ${this.key}: ${describe(error)}; retrying`);
        this.context.brokerFailed(this.queue);
        await this.pause(backoffDelayMs(assigned_queue_limits.pull_retry_backoff, failures - 1, this.context.options.random));
      }
    }
  }

  /**
   * Where pulling starts: the committed offset, else where `fromWhere` says. An offset
   * chosen by `fromWhere` is committed at once: were the queue handed over before this member
   * acks anything, the next owner would otherwise ask `fromWhere` again and, with `last`,
   * skip what arrived in between.
   */
  private async startOffset(): Promise<number> {
    const { offsets, options, link, events } = this.context;
    const committed = await offsets.read(this.queue);
    if (committed !== no_committed_offset) {
      if (!Number.isSafeInteger(committed) || committed < 0) throw new MqError('INTERNAL', `broker ${this.queue.brokerName} answered offset ${committed} for ${this.key}`);
      return committed;
    }
    // The retry topic is read from its start whatever `fromWhere` says (RocketMQ does the
    // same): messages sent back before this member took the queue are this group's own.
    const end = options.from_where === 'first' || this.queue.topic.startsWith(retry_topic_prefix) ? 'min' : 'max';
    const offset = await queueOffset(link, this.queue.brokerName, end, { topic: this.queue.topic, queueId: this.queue.queueId }, assigned_queue_limits.request_timeout_ms);
    offsets.update(this.queue, offset);
    const written = await offsets.persist([this.queue]);
    if (written.length > 0) events.emit({ kind: 'committed', offsets: written });
    return offset;
  }

  private pull(tracker: OffsetTracker): Promise<PullResponse> {
    const options = this.context.options;
    const { topic, queueId, brokerName } = this.queue;
    return pullMessages(this.context.link, brokerName, {
      consumerGroup: options.group,
      topic,
      queueId,
      queueOffset: tracker.nextOffset,
      maxCount: Math.min(options.pull_batch_size, this.buffer.room()),
      maxBytes: this.buffer.roomBytes(),
      tagExpression: this.tags.expression,
      longPollTimeoutMs: options.long_poll_timeout_ms,
      // Offsets are committed by the consumer's commit timer, not piggybacked on pulls, so
      // that every commit is one this client saw acknowledged.
      commitOffset: null,
    }, options.long_poll_timeout_ms + consumer_limits.pull_reply_margin_ms);
  }

  private async accept(tracker: OffsetTracker, response: PullResponse, elapsed_ms: number): Promise<void> {
    switch (response.status) {
      case 'FOUND': {
        const deliveries: Delivery[] = [];
        let last = tracker.nextOffset - 1;
        // Converted first, tracked after: a damaged body (CRC) fails the pull as a whole.
        for (const stored of response.messages) {
          if (stored.queueOffset <= last) continue; // never twice, whatever the broker sends
          last = stored.queueOffset;
          const message = listenerViewOf(receivedMessageOf(stored, this.queue.brokerName));
          if (this.tags.accepts(message.tag)) deliveries.push({ message, bytes: message.body.length, failures: 0 });
        }
        tracker.track(deliveries.map((delivery) => delivery.message.queueOffset), Math.max(response.nextOffset, last + 1));
        for (const delivery of deliveries) this.buffer.push(delivery, delivery.bytes);
        if (deliveries.length > 0) this.context.ready(this);
        return;
      }
      case 'NO_MATCHED_MSG':
        tracker.track([], Math.max(response.nextOffset, tracker.nextOffset));
        return;
      case 'NO_NEW_MSG':
        if (elapsed_ms < assigned_queue_limits.empty_pull_fast_ms) await this.pause(assigned_queue_limits.empty_pull_pause_ms);
        return;
      case 'OFFSET_MOVED':
        return this.offsetMoved(tracker, response);
    }
  }

  /** The offset is outside what the broker holds: retention deleted it, or the queue is new. */
  private async offsetMoved(tracker: OffsetTracker, response: PullResponse): Promise<void> {
    const from = tracker.nextOffset;
    if (response.nextOffset >= from) {
      tracker.track([], response.nextOffset);
    } else if (tracker.pendingCount === 0) {
      tracker.moveTo(response.nextOffset);
    } else {
      await this.pause(assigned_queue_limits.offset_moved_wait_ms); // backwards only once nothing is pending
      return;
    }
    this.context.options.logger.warn(`offset moved: ${this.key} has offsets ${response.minOffset}..${response.maxOffset}, not ${from}; continuing at ${response.nextOffset}`);
  }

  /** Waits, or less when the queue is released meanwhile. */
  private pause(delay_ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake_pause = undefined;
        resolve();
      }, delay_ms);
      this.wake_pause = () => {
        clearTimeout(timer);
        this.wake_pause = undefined;
        resolve();
      };
    });
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
