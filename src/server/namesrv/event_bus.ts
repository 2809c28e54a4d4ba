import type { RegistryEvent } from '../../actors/registry/registry_events.js';
import type { Logger } from '../../runtime/log.js';
import { namesrv_limits } from './namesrv_limits.js';
import type { NamesrvPlugin } from './namesrv_plugin.js';

export interface PluginStats {
  name: string;
  delivered: number;
  /** Handler calls that threw, rejected or timed out. */
  failed: number;
  /** Events not delivered because the plugin's queue was full. */
  dropped: number;
  queued: number;
}

/**
 * The nameserver's event bus: registry events in, every plugin gets every event in `seq`
 * order. Each plugin has its own bounded queue, so a slow or failing plugin delays and
 * loses only its own events. A synchronous handler runs inside `publish`; an asynchronous
 * one is awaited (bounded by plugin_event_timeout_ms) before that plugin's next event.
 *
 * Owned by the nameserver's main thread.
 */
export interface EventBusLimits {
  plugin_events_queued_max: number;
  plugin_event_timeout_ms: number;
  plugin_drain_timeout_ms: number;
}

export class EventBus {
  private readonly channels: PluginChannel[] = [];
  private readonly limits: EventBusLimits;
  private last_seq = 0;
  /** Events the bus never saw (a gap in `seq`: a registry reply lost to a timeout). */
  private missed = 0;

  /** `limits`: the namesrv_limits values unless a test shortens them. */
  constructor(
    private readonly log: Logger,
    limits: Partial<EventBusLimits> = {},
  ) {
    this.limits = { ...namesrv_limits, ...limits };
  }

  add(plugin: NamesrvPlugin): void {
    this.channels.push(new PluginChannel(plugin, this.log.child({ plugin: plugin.name }), this.limits));
  }

  publish(events: readonly RegistryEvent[]): void {
    for (const event of events) {
      if (event.seq <= this.last_seq) {
        // Every event comes once, so a lower number means a new registry: the actor was
        // restarted (its thread died) and counts from 1 again, with an empty registry that
        // brokers fill on their next heartbeat (registrationNeeded).
        this.log.warn({ last_seq: this.last_seq, seq: event.seq }, 'the registry restarted; its event numbers start over');
        this.last_seq = event.seq - 1;
      }
      if (event.seq !== this.last_seq + 1) {
        this.missed += event.seq - this.last_seq - 1;
        this.log.warn({ expected: this.last_seq + 1, got: event.seq }, 'registry events were lost before reaching the event bus');
      }
      this.last_seq = event.seq;
      for (const channel of this.channels) channel.offer(event);
    }
  }

  stats(): { missed: number; plugins: PluginStats[] } {
    return { missed: this.missed, plugins: this.channels.map((channel) => channel.stats()) };
  }

  /** Lets the plugins take what is queued (bounded), then closes them. */
  async close(): Promise<void> {
    await Promise.all(this.channels.map((channel) => channel.close()));
  }
}

class PluginChannel {
  private readonly queue: RegistryEvent[] = [];
  /** The current (or last) drain, for close() to wait on. */
  private draining: Promise<void> = Promise.resolve();
  private running = false;
  private delivered = 0;
  private failed = 0;
  private dropped = 0;

  constructor(
    private readonly plugin: NamesrvPlugin,
    private readonly log: Logger,
    private readonly limits: EventBusLimits,
  ) {}

  offer(event: RegistryEvent): void {
    if (this.queue.length >= this.limits.plugin_events_queued_max) {
      if (this.dropped++ === 0) this.log.error({ queued: this.queue.length }, 'plugin falls behind; dropping its events');
      return;
    }
    this.queue.push(event);
    if (!this.running) this.draining = this.drain();
  }

  stats(): PluginStats {
    return { name: this.plugin.name, delivered: this.delivered, failed: this.failed, dropped: this.dropped, queued: this.queue.length };
  }

  async close(): Promise<void> {
    await withTimeout(this.draining, this.limits.plugin_drain_timeout_ms).catch(() => undefined);
    try {
      await withTimeout(Promise.resolve(this.plugin.close?.()), this.limits.plugin_drain_timeout_ms);
    } catch (error) {
      this.log.warn({ err: error }, 'plugin did not close cleanly');
    }
  }

  /** Runs synchronously up to the first handler that returns a promise. */
  private async drain(): Promise<void> {
    this.running = true;
    for (let event = this.queue.shift(); event !== undefined; event = this.queue.shift()) {
      try {
        const pending: unknown = this.plugin.onEvent(event);
        if (isThenable(pending)) await withTimeout(Promise.resolve(pending), this.limits.plugin_event_timeout_ms);
        this.delivered++;
      } catch (error) {
        this.failed++;
        this.log.warn({ err: error, event: event.kind, seq: event.seq, failed: this.failed }, 'plugin failed on an event; going on with the next');
      }
    }
    this.running = false;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function withTimeout<T>(promise: Promise<T>, timeout_ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeout_ms} ms`)), timeout_ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
