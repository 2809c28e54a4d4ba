import type { StoredMessage } from '../../../protocol/index.js';
import { assert } from '../../../runtime/assert.js';
import { MqError } from '../../../runtime/errors.js';
import type { Logger } from '../../../runtime/log.js';
import type { TagFilter } from '../../../storage/tag_hash.js';
import type { InFlightMessage } from './in_flight_message.js';
import type { InFlightTable } from './in_flight_table.js';
import type { PopBroker } from './pop_broker.js';
import type { ReceivedMessage } from './pop_engine.js';
import type { PopLimits } from './pop_limits.js';
import type { PopQueue } from './pop_queue.js';
import type { PopSubscription } from './pop_subscription.js';
import type { ReceiptHandleCodec } from './receipt_handle.js';

/** One receive's asks, checked and clamped by the engine. */
export interface CollectParams {
  batch_size: number;
  invisible_ms: number;
  max_attempts: number;
  tag_filter: TagFilter;
}

export interface PopCollectorDeps {
  broker: PopBroker;
  limits: PopLimits;
  table: InFlightTable;
  codec: ReceiptHandleCodec;
  log: Logger;
  /** Called when a message to redeliver cannot be read any more (retention): it is done. */
  settle(entry: InFlightMessage): void;
  /** Called after a queue's next offset moved (its committed offset may have). */
  moved(queue: PopQueue): void;
}

/** What is left of one receive's byte budget. */
interface Budget {
  bytes: number;
}

/**
 * What one receive delivers: the messages whose invisible time ran out, then new messages
 * read round robin over the subscription's queues, within the engine's bounds. Also keeps
 * the in-flight and tracked totals over all subscriptions. Synchronous: one receive's
 * collection runs to its end before anything else on the broker's main thread, so no other
 * receive, ack or expiry interleaves with it.
 */
export class PopCollector {
  in_flight_total = 0;
  tracked_total = 0;

  constructor(private readonly deps: PopCollectorDeps) {}

  collect(subscription: PopSubscription, params: CollectParams, now_ms: number): ReceivedMessage[] {
    const out: ReceivedMessage[] = [];
    const budget: Budget = { bytes: this.deps.limits.receive_bytes_max };
    this.redeliver(subscription, params, now_ms, out, budget);
    const wanted = params.batch_size - out.length;
    if (wanted <= 0 || budget.bytes <= 0) return out;
    const room = this.roomFor(subscription);
    if (room <= 0) {
      // Over a bound with nothing to give: TOO_MANY_REQUESTS (the PushConsumer polls again
      // after 20 ms); with something to give, the bound only stops reading new messages.
      if (out.length === 0) throw new MqError('BUSY', this.busyReason(subscription));
      return out;
    }
    this.readNew(subscription, params, now_ms, Math.min(wanted, room), out, budget);
    return out;
  }

  /** Whether a queue of `subscription` has new messages it may read now (filter aside). */
  hasNew(subscription: PopSubscription): boolean {
    if (this.roomFor(subscription) <= 0) return false;
    const count = Math.min(subscription.read_queues, subscription.queues.length);
    for (let queue_id = 0; queue_id < count; queue_id++) {
      const queue = subscription.queues[queue_id] as PopQueue;
      if (subscription.settings.fifo && queue.in_flight > 0) continue;
      const window = this.deps.broker.window(subscription.topic, queue_id);
      if (window !== undefined && window.max_offset > queue.next_offset) return true;
    }
    return false;
  }

  setReadQueues(subscription: PopSubscription, read_queues: number): void {
    assert(Number.isInteger(read_queues) && read_queues >= 0, `topic ${subscription.topic} has ${read_queues} read queues`);
    subscription.read_queues = read_queues;
  }

  /** Takes a message out of flight (the engine has unnamed it). */
  settle(entry: InFlightMessage): void {
    const released = entry.queue.settle(entry);
    entry.subscription.in_flight--;
    entry.subscription.tracked -= released;
    this.in_flight_total--;
    this.tracked_total -= released;
  }

  handleOf(entry: InFlightMessage): string {
    const subscription = entry.subscription;
    return this.deps.codec.encode(subscription.group, {
      broker_name: this.deps.broker.broker_name,
      topic: subscription.topic,
      queue_id: entry.queue.queue_id,
      queue_offset: entry.queue_offset,
      delivery_seq: entry.delivery_seq,
    });
  }

  /** Messages visible again, oldest deadline first: each is read again from the store. */
  private redeliver(subscription: PopSubscription, params: CollectParams, now_ms: number, out: ReceivedMessage[], budget: Budget): void {
    for (const entry of subscription.visible) {
      if (out.length >= params.batch_size || budget.bytes <= 0 || this.deps.table.client_room < 1) return;
      // A read that throws (a damaged record) leaves the entry visible, for the next receive
      // or the dead letters: never out of both the visible set and the wheel.
      const message = this.readAt(subscription.topic, entry);
      subscription.visible.delete(entry);
      if (message === undefined) {
        this.deps.log.warn({ group: subscription.group, topic: subscription.topic, queue_id: entry.queue.queue_id, queue_offset: entry.queue_offset }, 'a message to deliver again was deleted by retention; dropped');
        this.deps.settle(entry);
        continue;
      }
      entry.attempt++;
      entry.max_attempts = params.max_attempts;
      this.deps.table.schedule(entry, now_ms + params.invisible_ms);
      out.push(this.delivery(entry, message, params.invisible_ms));
      budget.bytes -= message.body.byteLength;
    }
  }

  /**
   * New messages, round robin: each receive starts one queue further, and the first pass
   * gives each queue an equal share of what is wanted, so that one busy queue does not
   * starve the others; a second pass fills the rest from the queues that had more. A FIFO
   * subscription takes one message from each queue with nothing in flight.
   */
  private readNew(subscription: PopSubscription, params: CollectParams, now_ms: number, wanted: number, out: ReceivedMessage[], budget: Budget): void {
    const count = Math.min(subscription.read_queues, subscription.queues.length);
    if (count === 0) return;
    const fifo = subscription.settings.fifo;
    const start = subscription.round_robin_next % count;
    subscription.round_robin_next = (start + 1) % count;
    const had_more: PopQueue[] = [];
    let left = wanted;
    for (let step = 0; step < count && left > 0 && budget.bytes > 0; step++) {
      const queue = subscription.queues[(start + step) % count] as PopQueue;
      if (fifo && queue.in_flight > 0) continue;
      const share = fifo ? 1 : Math.ceil(left / (count - step));
      const taken = this.readQueue(subscription, queue, share, params, now_ms, out, budget);
      left -= taken;
      if (!fifo && taken === share) had_more.push(queue);
    }
    for (const queue of had_more) {
      if (left <= 0 || budget.bytes <= 0) return;
      left -= this.readQueue(subscription, queue, left, params, now_ms, out, budget);
    }
  }

  /** Reads up to `max_count` new messages of one queue and puts them in flight. */
  private readQueue(subscription: PopSubscription, queue: PopQueue, max_count: number, params: CollectParams, now_ms: number, out: ReceivedMessage[], budget: Budget): number {
    assert(max_count >= 1, 'a queue read asks for no message');
    const result = this.deps.broker.pull(subscription.topic, queue.queue_id, queue.next_offset, { max_count, max_bytes: Math.max(1, budget.bytes), tag_filter: params.tag_filter });
    let taken = 0;
    switch (result.status) {
      case 'found':
        assert(result.messages.length <= max_count, `a read of ${max_count} answered ${result.messages.length} messages`);
        for (const message of result.messages) {
          assert(message.queueId === queue.queue_id && message.queueOffset >= queue.next_offset && message.queueOffset < result.next_queue_offset, `queue ${subscription.topic}/${queue.queue_id} read from ${queue.next_offset} answered offset ${message.queueOffset} of queue ${message.queueId}`);
          const entry: InFlightMessage = {
            subscription,
            queue,
            queue_offset: message.queueOffset,
            commit_log_offset: message.commitLogOffset,
            msg_id: message.msgId,
            order_index: -1,
            delivery_seq: 0,
            attempt: 1,
            max_attempts: params.max_attempts,
            deadline_ms: 0,
            state: 'invisible',
          };
          queue.add(entry);
          subscription.in_flight++;
          subscription.tracked++;
          this.in_flight_total++;
          this.tracked_total++;
          this.deps.table.schedule(entry, now_ms + params.invisible_ms);
          out.push(this.delivery(entry, message, params.invisible_ms));
          budget.bytes -= message.body.byteLength;
          taken++;
        }
        queue.next_offset = result.next_queue_offset;
        break;
      case 'no_matched_message':
        // Skipped by the filter: acked as far as this group is concerned.
        queue.next_offset = Math.max(queue.next_offset, result.next_queue_offset);
        break;
      case 'offset_too_small':
        this.deps.log.info({ group: subscription.group, topic: subscription.topic, queue_id: queue.queue_id, from: queue.next_offset, to: result.next_queue_offset }, 'retention deleted messages this group had not received; it moves on to the oldest kept');
        queue.next_offset = Math.max(queue.next_offset, result.next_queue_offset);
        break;
      case 'offset_overflow':
        // The queue ends below where the group reads (a slave's log was cut at a promotion).
        // Moved back only with nothing received above: `order` stays in queue order.
        if (queue.tracked === 0) {
          this.deps.log.warn({ group: subscription.group, topic: subscription.topic, queue_id: queue.queue_id, from: queue.next_offset, to: result.next_queue_offset }, 'the queue ends below this group\'s position; it reads on from the end');
          queue.next_offset = result.next_queue_offset;
          queue.committed_sent = Math.min(queue.committed_sent, queue.next_offset);
        }
        break;
      case 'no_new_message':
      case 'no_such_queue':
        break;
    }
    this.deps.moved(queue);
    return taken;
  }

  /** The message an in-flight entry names, read again; undefined when it is gone. */
  private readAt(topic: string, entry: InFlightMessage): StoredMessage | undefined {
    const result = this.deps.broker.pull(topic, entry.queue.queue_id, entry.queue_offset, { max_count: 1, max_bytes: 1, tag_filter: '*' });
    const message = result.messages[0];
    if (result.status !== 'found' || message === undefined || message.queueOffset !== entry.queue_offset) return undefined;
    return message;
  }

  private delivery(entry: InFlightMessage, message: StoredMessage, invisible_ms: number): ReceivedMessage {
    return { message, receipt_handle: this.handleOf(entry), delivery_attempt: entry.attempt, invisible_ms };
  }

  /** How many new messages `subscription` may put in flight now (0 or less: none). */
  private roomFor(subscription: PopSubscription): number {
    const limits = this.deps.limits;
    return Math.min(
      limits.in_flight_per_subscription_max - subscription.in_flight,
      limits.tracked_per_subscription_max - subscription.tracked,
      limits.in_flight_total_max - this.in_flight_total,
      limits.tracked_total_max - this.tracked_total,
      this.deps.table.client_room,
    );
  }

  /** Which bound roomFor() hit, for the BUSY answer. */
  private busyReason(subscription: PopSubscription): string {
    const limits = this.deps.limits;
    const broker = this.deps.broker.broker_name;
    const { group, topic } = subscription;
    if (subscription.in_flight >= limits.in_flight_per_subscription_max) {
      return `group ${group} has ${subscription.in_flight} messages of topic ${topic} received and not acked, the most it may (${limits.in_flight_per_subscription_max}); ack them or let their invisible time run out`;
    }
    if (subscription.tracked >= limits.tracked_per_subscription_max) {
      return `group ${group} acked ${subscription.tracked - subscription.in_flight} messages of topic ${topic} above older ones it has not acked (at most ${limits.tracked_per_subscription_max} are kept); ack the oldest`;
    }
    if (this.in_flight_total >= limits.in_flight_total_max) return `broker ${broker} has ${this.in_flight_total} popped messages in flight, its bound; try again shortly`;
    if (this.tracked_total >= limits.tracked_total_max) return `broker ${broker} keeps ${this.tracked_total} popped messages above committed offsets, its bound; try again shortly`;
    return `broker ${broker} holds ${this.deps.table.wheel_entries} invisibility deadlines, its bound; try again shortly`;
  }
}
