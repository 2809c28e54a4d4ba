import { defineActor, type ActorContext } from '../../runtime/actor.js';
import type { ActorRef } from '../../runtime/actor_ref.js';
import { CommitLogReader } from '../../storage/commit_log_reader.js';
import { queueKey } from '../../storage/commit_log.js';
import { consume_queue_entry_bytes, writeEntry } from '../../storage/consume_queue_entry.js';
import { KnownQueues } from '../../storage/known_queues.js';
import { QueuePositions } from '../../storage/queue_positions.js';
import { readQueueTails } from '../../storage/queue_tails.js';
import { SegmentSet } from '../../storage/segment_set.js';
import { store_control, type StoreControl } from '../../storage/store_control.js';
import { readableEnd, readableEndMoved } from '../../storage/readable_end.js';
import { commitLogDirs } from '../../storage/storage_paths.js';
import { consume_queue_module_url, consume_queue_protocol, consumeQueueAddress, type ConsumeQueueMessage, type ConsumeQueueStatus } from '../consume_queue/consume_queue_messages.js';
import type { StoreArgs } from '../store/store_args.js';
import { dispatch_protocol, type DispatchMessage } from './dispatch_messages.js';

/** Records dispatched per tick: the thread turns to its queues (and I/O) between ticks. */
const records_per_tick_max = 8_192;
/** When caught up, wait at most this long for the writer before looking again. */
const idle_wait_ms = 1_000;

interface PendingQueue {
  ref: ActorRef<ConsumeQueueMessage, ConsumeQueueStatus>;
  first_queue_offset: number;
  entries: Buffer;
  count: number;
}

/**
 * Follows the CommitLog and feeds the ConsumeQueues: reads records (its own read-only
 * mapping) up to what is readable — the write offset under async flush, the flush offset
 * under sync flush, so an entry exists only for a record durable per the flush mode — and
 * sends each queue one batch of entries per tick. Creates the ConsumeQueue actor (and its
 * position slot) of a queue met for the first time.
 *
 * Resumes at start from the oldest queue tail: re-sent entries are checked and skipped by
 * the queues, so a restart never duplicates or loses one.
 */
class DispatchActor {
  private readonly control: StoreControl;
  private readonly positions: QueuePositions;
  private readonly known: KnownQueues;
  private reader!: CommitLogReader;
  private position = 0;
  private readonly queues = new Map<string, ActorRef<ConsumeQueueMessage, ConsumeQueueStatus>>();
  private readonly self;
  private waiting = false;
  private stopped = false;

  constructor(
    private readonly context: ActorContext,
    private readonly args: StoreArgs,
  ) {
    this.control = store_control.attach(args.control);
    this.positions = new QueuePositions(args.queue_positions);
    this.known = new KnownQueues(args.data_dir, context.log);
    this.self = context.actorOf(context.address, dispatch_protocol);
  }

  async start(): Promise<void> {
    this.known.load();
    const segments = new SegmentSet(commitLogDirs(this.args), this.args.commit_log_segment_bytes, 'read-only').load();
    this.reader = new CommitLogReader(segments);
    const tails = readQueueTails(this.args.data_dir, this.args.consume_queue_entries_per_segment);
    this.position = tails.length === 0 ? segments.min_offset : Math.min(...tails.map((tail) => tail.coverage_end));
    this.position = Math.max(this.position, segments.min_offset);
    for (const tail of tails) await this.queueRef(tail.topic, tail.queue_id);
    this.self.tell({ kind: 'tick' });
  }

  async receive(message: DispatchMessage): Promise<number> {
    switch (message.kind) {
      case 'tick':
        await this.tick();
        return this.position;
      case 'status':
        return this.position;
    }
  }

  stop(): void {
    this.stopped = true;
  }

  inspect(): Record<string, unknown> {
    return { dispatched_offset: this.position, queues: this.queues.size };
  }

  private readable(): { offset: number; seq: number } {
    return readableEnd(this.control, this.args.flush_mode);
  }

  private async tick(): Promise<void> {
    this.waiting = false;
    // The batches told before this tick are in their queues now: the queue actors live on
    // this thread, and their mailboxes ran before this tick came round.
    this.control.store('dispatched_offset', this.position);
    const min_offset = this.control.load('min_offset');
    this.reader.forgetBefore(min_offset);
    // Retention may have deleted records dispatch had not reached (it lagged that far): skip them.
    if (this.position < min_offset) this.position = min_offset;
    const { offset: readable, seq } = this.readable();
    if (this.position < readable) {
      const pending = new Map<string, PendingQueue>();
      const records: Array<{ topic: string; queue_id: number; queue_offset: number; offset: number; size: number; tag_hash: number }> = [];
      // Structural checks only (magic, size, own offset): these bytes were written by this
      // process's writer a moment ago; the CRC is checked by readers before serving them.
      this.position = this.reader.scan(this.position, readable, (record, offset) => {
        if (records.length === records_per_tick_max) return false;
        records.push({ topic: record.topic, queue_id: record.queue_id, queue_offset: record.queue_offset, offset, size: record.total_size, tag_hash: record.tag_hash });
      }, { verify_crc: false });
      for (const record of records) {
        const key = queueKey(record.topic, record.queue_id);
        let queue = pending.get(key);
        if (queue === undefined) {
          queue = { ref: await this.queueRef(record.topic, record.queue_id), first_queue_offset: record.queue_offset, entries: Buffer.allocUnsafe(64 * consume_queue_entry_bytes), count: 0 };
          pending.set(key, queue);
        }
        if ((queue.count + 1) * consume_queue_entry_bytes > queue.entries.length) {
          const larger = Buffer.allocUnsafe(queue.entries.length * 2);
          queue.entries.copy(larger, 0, 0, queue.count * consume_queue_entry_bytes);
          queue.entries = larger;
        }
        writeEntry(queue.entries, queue.count * consume_queue_entry_bytes, record.offset, record.size, record.tag_hash);
        queue.count++;
      }
      for (const queue of pending.values()) {
        queue.ref.tell({ kind: 'append', first_queue_offset: queue.first_queue_offset, entries: queue.entries.subarray(0, queue.count * consume_queue_entry_bytes) });
      }
    }
    if (this.stopped) return;
    if (this.position < this.readable().offset) {
      this.self.tell({ kind: 'tick' });
      return;
    }
    this.waitForWriter(seq);
  }

  private waitForWriter(seen_seq: number): void {
    if (this.waiting) return;
    this.waiting = true;
    void readableEndMoved(this.control, this.args.flush_mode, seen_seq, idle_wait_ms).then(() => {
      if (!this.stopped) this.self.tell({ kind: 'tick' });
    });
  }

  private async queueRef(topic: string, queue_id: number): Promise<ActorRef<ConsumeQueueMessage, ConsumeQueueStatus>> {
    const key = queueKey(topic, queue_id);
    const known = this.queues.get(key);
    if (known !== undefined) return known;
    this.known.add(topic, queue_id);
    const slot = this.positions.claim(topic, queue_id);
    const address = consumeQueueAddress(topic, queue_id);
    // On this (service) thread, never the writer's: the queues share dispatch's work, not
    // the writer's CPU.
    const ref = await this.context.spawn({
      address,
      module: consume_queue_module_url,
      protocol: consume_queue_protocol,
      thread: this.context.thread,
      args: { ...this.args, topic, queue_id, slot },
    }).catch((error: { code?: string }) => {
      // Spawned already (by an earlier life of this actor): use it.
      if (error.code === 'BAD_REQUEST') return this.context.actorOf(address, consume_queue_protocol);
      throw error;
    });
    this.queues.set(key, ref);
    return ref;
  }
}

export const actor = defineActor<DispatchMessage, number, StoreArgs>({
  name: 'dispatch',
  protocol: dispatch_protocol,
  create: (context, args) => new DispatchActor(context, args),
});
