import { defineActor, type ActorContext } from '../../runtime/actor.js';
import { MqError } from '../../runtime/errors.js';
import { ConsumeQueue } from '../../storage/consume_queue.js';
import { QueuePositions } from '../../storage/queue_positions.js';
import { store_control } from '../../storage/store_control.js';
import type { StoreArgs } from '../store/store_args.js';
import { consume_queue_protocol, type ConsumeQueueArgs, type ConsumeQueueMessage, type ConsumeQueueStatus } from './consume_queue_messages.js';

/** A queue's entries are made durable at least this often (and at stop). */
const flush_interval_ms = 1_000;

/**
 * One ConsumeQueue (topic, queue): appends the entries the dispatch actor sends and
 * publishes the queue's window in QueuePositions, from which readers on any thread read.
 * Many of these live on one thread. Start truncates entries whose records the CommitLog no
 * longer has (after a cut), so the queue never points past the log.
 */
class ConsumeQueueActor {
  private readonly queue: ConsumeQueue;
  private readonly positions: QueuePositions;
  private readonly control;
  private timer: NodeJS.Timeout | undefined;
  /** Why this queue takes no more entries (it and the CommitLog disagree), once it does not. */
  private refusal: string | undefined;

  constructor(
    private readonly context: ActorContext,
    private readonly args: StoreArgs & ConsumeQueueArgs,
  ) {
    this.queue = new ConsumeQueue({ data_dir: args.data_dir, topic: args.topic, queue_id: args.queue_id, entries_per_segment: args.consume_queue_entries_per_segment });
    this.positions = new QueuePositions(args.queue_positions);
    this.control = store_control.attach(args.control);
  }

  start(): void {
    this.queue.load();
    const cut = this.queue.truncateToCommitLog(this.control.load('write_offset'));
    if (cut > 0) this.context.log.warn({ entries: cut }, 'dropped entries past the end of the CommitLog');
    this.queue.removeBefore(this.control.load('min_offset'));
    this.publish();
    this.timer = setInterval(() => this.housekeeping(), flush_interval_ms);
  }

  receive(message: ConsumeQueueMessage): ConsumeQueueStatus {
    switch (message.kind) {
      case 'append':
        if (this.append(message.first_queue_offset, message.entries) > 0) {
          this.publish();
          this.control.add('dispatch_seq', 1);
          this.control.notify('dispatch_seq');
        }
        return this.status();
      case 'flush':
        this.flush();
        return this.status();
      case 'status':
        return this.status();
    }
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.refusal !== undefined) this.control.add('queues_refusing', -1);
    this.queue.flush();
    this.queue.close();
  }

  inspect(): Record<string, unknown> {
    return { ...this.status(), ...(this.refusal === undefined ? {} : { refusal: this.refusal }) };
  }

  /**
   * Appends, unless the queue and the CommitLog disagree (an entry already written differs
   * from the log's record, or the log's queue offsets jump): no later entry can be right then,
   * and a queue that skipped them would hand consumers the wrong records. The queue stops
   * taking entries, says so once at error level and in the node's health (store control
   * `queues_refusing`), and keeps serving what it holds; the remedy is in the message.
   */
  private append(first_queue_offset: number, entries: Buffer): number {
    if (this.refusal !== undefined) return 0;
    try {
      return this.queue.appendBatch(first_queue_offset, entries);
    } catch (error) {
      if (!(error instanceof MqError) || error.code !== 'INTERNAL') throw error;
      this.refusal = error.message;
      this.control.add('queues_refusing', 1);
      this.context.log.error({ err: error, max_offset: this.queue.max_offset }, 'ConsumeQueue takes no more entries: it and the CommitLog disagree');
      return 0;
    }
  }

  private publish(): void {
    this.positions.publish(this.args.slot, this.queue.min_offset, this.queue.max_offset);
  }

  /** Flushes, and follows the CommitLog's retention: entries whose records are gone go too. */
  private housekeeping(): void {
    this.flush();
    const before = this.queue.min_offset;
    this.queue.removeBefore(this.control.load('min_offset'));
    if (this.queue.min_offset !== before) this.publish();
  }

  private flush(): void {
    if (this.queue.flushed_offset < this.queue.max_offset) this.queue.flush();
  }

  private status(): ConsumeQueueStatus {
    return { min_offset: this.queue.min_offset, max_offset: this.queue.max_offset, flushed_offset: this.queue.flushed_offset };
  }
}

export const actor = defineActor<ConsumeQueueMessage, ConsumeQueueStatus, StoreArgs & ConsumeQueueArgs>({
  name: 'consume_queue',
  protocol: consume_queue_protocol,
  create: (context, args) => new ConsumeQueueActor(context, args),
});
