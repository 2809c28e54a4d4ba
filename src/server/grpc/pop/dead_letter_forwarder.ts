import { assert } from '../../../runtime/assert.js';
import { MqError } from '../../../runtime/errors.js';
import type { InFlightMessage } from './in_flight_message.js';
import type { PopBroker } from './pop_broker.js';

export type DeadLetterOutcome = 'stored' | 'gone';

/**
 * Moves popped messages into their group's dead letters through the broker (PopBroker
 * .deadLetter: the CONSUMER_SEND_BACK path), with at most `running_max` appends at once.
 * Messages that used up their attempts wait in a FIFO (bounded by the in-flight bound: every
 * waiting message is in flight); ForwardMessageToDeadLetterQueue does not wait: it answers
 * BUSY when every slot is taken, and the client tries again.
 *
 * Owned by the broker's main thread. `done` and `failed` run on a later tick than the call
 * that started the append, never inside the engine's timing-wheel callback.
 */
export class DeadLetterForwarder {
  private readonly waiting: InFlightMessage[] = [];
  private waiting_head = 0;
  private running = 0;

  constructor(
    private readonly broker: PopBroker,
    private readonly running_max: number,
    private readonly done: (entry: InFlightMessage, outcome: DeadLetterOutcome) => void,
    private readonly failed: (entry: InFlightMessage, error: unknown) => void,
  ) {}

  get waiting_count(): number {
    return this.waiting.length - this.waiting_head;
  }

  get running_count(): number {
    return this.running;
  }

  /** Queues a message that used up its attempts; it is forwarded when a slot is free. */
  enqueue(entry: InFlightMessage): void {
    assert(entry.state === 'dead_lettering', `offset ${entry.queue_offset} queued for the dead letters in state ${entry.state}`);
    this.waiting.push(entry);
    this.pump();
  }

  /** Forwards now (on request); throws BUSY when every slot is taken. */
  async forward(entry: InFlightMessage): Promise<DeadLetterOutcome> {
    assert(entry.state === 'dead_lettering', `offset ${entry.queue_offset} forwarded to the dead letters in state ${entry.state}`);
    if (this.running >= this.running_max) {
      throw new MqError('BUSY', `${this.running} messages are being moved to dead-letter topics on this broker (at most ${this.running_max} at once); try again shortly`);
    }
    return this.start(entry);
  }

  private pump(): void {
    while (this.running < this.running_max && this.waiting_head < this.waiting.length) {
      const entry = this.waiting[this.waiting_head++] as InFlightMessage;
      // An explicit forward or a close may have settled it meanwhile.
      if (entry.state === 'dead_lettering') void this.start(entry).catch(() => undefined);
    }
    if (this.waiting_head === this.waiting.length) {
      this.waiting.length = 0;
      this.waiting_head = 0;
    } else if (this.waiting_head >= 1_024 && this.waiting_head * 2 >= this.waiting.length) {
      this.waiting.splice(0, this.waiting_head);
      this.waiting_head = 0;
    }
  }

  private async start(entry: InFlightMessage): Promise<DeadLetterOutcome> {
    this.running++;
    const source = {
      topic: entry.subscription.topic,
      queue_id: entry.queue.queue_id,
      queue_offset: entry.queue_offset,
      commit_log_offset: entry.commit_log_offset,
      msg_id: entry.msg_id,
    };
    try {
      // A later tick: the callbacks below never run inside the caller's own call.
      const outcome = await Promise.resolve().then(() => this.broker.deadLetter(entry.subscription.group, source));
      this.done(entry, outcome);
      return outcome;
    } catch (error) {
      this.failed(entry, error);
      throw error;
    } finally {
      this.running--;
      this.pump();
    }
  }
}
