import type { InFlightMessage } from './in_flight_message.js';
import type { PopQueue } from './pop_queue.js';

/** A group's consumption settings (from its Telemetry settings or Heartbeat). */
export interface PopSettings {
  /** Ordered per queue: a queue with a message in flight is not read (pop_collector.ts). */
  fifo: boolean;
  /** Deliveries of a message before it goes to the group's dead letters. */
  max_attempts: number;
}

/**
 * What the pop engine keeps for one (consumer group, topic) on this broker: a PopQueue per
 * read queue, the messages whose invisible time ran out (redelivered first, oldest deadline
 * first), and the counts the bounds are checked against. Owned by the broker's main thread.
 */
export class PopSubscription {
  /** Index = queue id; filled by register() (and later for queues the topic gains). */
  readonly queues: PopQueue[] = [];
  /** The topic's read queue count when last looked at: queues at or past it are not read
   *  (a topic may shrink; their messages in flight still ack). */
  read_queues = 0;
  /** Messages visible again, in the order their deadlines passed (a Set: O(1) removal on ack). */
  readonly visible = new Set<InFlightMessage>();
  /** Messages of this subscription not done (sum of its queues' in_flight). */
  in_flight = 0;
  /** Received messages above the committed offsets, in flight or done (sum of its queues'). */
  tracked = 0;
  /** Where the next receive starts reading new messages (round robin over queues). */
  round_robin_next = 0;
  /** Receives of this subscription long-polling now: it is not forgotten while any is. */
  held = 0;
  /** Monotonic ms of the last register, receive or ack. */
  last_active_ms: number;
  /** Set while queues are being added (their committed offsets queried): await it first. */
  growing: Promise<void> | undefined;

  constructor(
    readonly group: string,
    readonly topic: string,
    public settings: PopSettings,
    now_ms: number,
  ) {
    this.last_active_ms = now_ms;
  }

  /** Forgettable: nothing in flight or held, and idle for `idle_ms`. */
  idle(now_ms: number, idle_ms: number): boolean {
    return this.in_flight === 0 && this.held === 0 && this.growing === undefined && now_ms - this.last_active_ms >= idle_ms;
  }
}

export function subscriptionKey(group: string, topic: string): string {
  return `${group}\u0000${topic}`;
}
