import { checkName } from '../../../protocol/index.js';
import { assert } from '../../../runtime/assert.js';
import type { Clock } from '../../../runtime/clock.js';
import { MqError } from '../../../runtime/errors.js';
import type { PopBroker } from './pop_broker.js';
import type { PopCollector } from './pop_collector.js';
import type { PopCommits } from './pop_commits.js';
import type { PopLimits } from './pop_limits.js';
import { PopQueue } from './pop_queue.js';
import { PopSubscription, subscriptionKey, type PopSettings } from './pop_subscription.js';

/** A group's settings as its Telemetry settings or Heartbeat give them (all optional). */
export interface RegisterSettings {
  fifo?: boolean;
  max_attempts?: number;
}

export interface PopRegistryDeps {
  broker: PopBroker;
  limits: PopLimits;
  clock: Clock;
  collector: PopCollector;
  commits: PopCommits;
}

/**
 * The (group, topic) pairs the pop engine knows, bounded by subscriptions_max, and where
 * each queue of each starts: its committed offset from the offset store, or, without one,
 * its current end for a new group (committed at once, so that a restart resumes there) and
 * its start for a queue the topic gained later (all of it is new to the group).
 *
 * Owned by the broker's main thread. Its awaits are the offset-store queries; a pair being
 * set up is in the map already (so a second register waits on the same queries), its queues
 * are added in queue-id order once their offsets are known.
 */
export class PopRegistry {
  private readonly subscriptions = new Map<string, PopSubscription>();

  constructor(private readonly deps: PopRegistryDeps) {}

  get size(): number {
    return this.subscriptions.size;
  }

  values(): IterableIterator<PopSubscription> {
    return this.subscriptions.values();
  }

  /** The pair, registered first if new; its settings updated with those given. */
  async get(group: string, topic: string, settings: RegisterSettings): Promise<PopSubscription> {
    for (const [what, name] of [['group', group], ['topic', topic]] as const) {
      const bad = checkName(what, name);
      if (bad !== undefined) throw new MqError('BAD_REQUEST', bad.message);
    }
    const { broker, clock, limits } = this.deps;
    const key = subscriptionKey(group, topic);
    const now_ms = clock.monotonicMs();
    let subscription = this.subscriptions.get(key);
    if (subscription !== undefined) {
      subscription.settings = settingsOf(settings, subscription.settings, limits);
      subscription.last_active_ms = now_ms;
      await this.grow(subscription, 'start');
      return subscription;
    }
    broker.readQueues(topic); // TOPIC_NOT_FOUND or ACCESS_DENIED before any state is kept
    this.makeRoom(now_ms);
    subscription = new PopSubscription(group, topic, settingsOf(settings, undefined, limits), now_ms);
    this.subscriptions.set(key, subscription);
    try {
      await this.grow(subscription, 'end');
    } catch (error) {
      // Tried again from scratch by the next register or receive.
      if (this.subscriptions.get(key) === subscription && subscription.in_flight === 0) this.subscriptions.delete(key);
      throw error;
    }
    return subscription;
  }

  /**
   * Adds PopQueues for the read queues the topic has and the pair has not yet (all of them
   * at first); `where` a queue without a committed offset starts.
   */
  private async grow(subscription: PopSubscription, where: 'end' | 'start'): Promise<void> {
    for (;;) {
      if (subscription.growing !== undefined) {
        await subscription.growing;
        continue;
      }
      const read_queues = this.deps.broker.readQueues(subscription.topic);
      this.deps.collector.setReadQueues(subscription, read_queues);
      if (subscription.queues.length >= read_queues) return;
      subscription.growing = this.addQueues(subscription, read_queues, where);
      try {
        await subscription.growing;
      } finally {
        subscription.growing = undefined;
      }
    }
  }

  private async addQueues(subscription: PopSubscription, read_queues: number, where: 'end' | 'start'): Promise<void> {
    const { broker, limits, commits } = this.deps;
    const { group, topic } = subscription;
    while (subscription.queues.length < read_queues) {
      const first = subscription.queues.length;
      const ids = Array.from({ length: Math.min(limits.offset_queries_parallel_max, read_queues - first) }, (_, index) => first + index);
      const committed = await Promise.all(ids.map((queue_id) => broker.queryOffset(group, topic, queue_id)));
      assert(subscription.queues.length === first, `queues of ${group}/${topic} were added twice`);
      ids.forEach((queue_id, index) => {
        const offset = committed[index] as number;
        const window = broker.window(topic, queue_id);
        const start = offset >= 0 ? offset : where === 'end' ? window?.max_offset ?? 0 : window?.min_offset ?? 0;
        const queue = new PopQueue(group, topic, queue_id, start);
        subscription.queues.push(queue);
        if (offset < 0) {
          // Committed now, so that a restart before the first ack resumes here.
          queue.committed_sent = -1;
          commits.mark(queue);
        }
      });
    }
  }

  /** At subscriptions_max: forgets the idle pairs (their offsets are in the store), or BUSY. */
  private makeRoom(now_ms: number): void {
    const { broker, limits, commits } = this.deps;
    if (this.subscriptions.size < limits.subscriptions_max) return;
    commits.flush();
    for (const [key, subscription] of this.subscriptions) {
      if (!subscription.idle(now_ms, limits.subscription_idle_ms)) continue;
      if (subscription.queues.some((queue) => commits.has(queue))) continue;
      this.subscriptions.delete(key);
    }
    if (this.subscriptions.size >= limits.subscriptions_max) {
      throw new MqError('BUSY', `broker ${broker.broker_name} tracks ${this.subscriptions.size} (group, topic) pairs for pop consumers, its bound, none idle for ${limits.subscription_idle_ms} ms; try again later`);
    }
  }
}

function settingsOf(given: RegisterSettings, current: PopSettings | undefined, limits: PopLimits): PopSettings {
  return {
    fifo: given.fifo ?? current?.fifo ?? false,
    max_attempts: given.max_attempts === undefined ? current?.max_attempts ?? limits.max_attempts_default : maxAttemptsOf(given.max_attempts, limits),
  };
}

/** A max delivery attempts a group or a receive asks for, capped; below 1: BAD_REQUEST. */
export function maxAttemptsOf(value: number, limits: PopLimits): number {
  if (!Number.isInteger(value) || value < 1) throw new MqError('BAD_REQUEST', `max delivery attempts is ${value}; give 1 to ${limits.max_attempts_max}`);
  return Math.min(value, limits.max_attempts_max);
}
