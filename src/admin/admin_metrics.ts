import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ActorStats } from '../runtime/actor_stats.js';
import type { AdminSource } from './admin_source.js';
import type { Bound } from './admin_server.js';
import { registerBrokerMetrics } from './metrics_broker.js';
import { registerStoreHistograms } from './metrics_store_histograms.js';
import { registerThreadMetrics } from './metrics_threads.js';

/**
 * The Prometheus registry of one admin server: the default process metrics, one series per
 * actor, and on a broker the series of metrics_broker.ts (topic traffic, group lag, store
 * positions), all read from the node at scrape time (nothing is sampled in between, so an
 * idle node costs nothing and a scrape always shows the present).
 *
 * Each registry is private to its server, so two nodes in one process (tests) do not clash.
 */

const actor_labels = ['address', 'thread'] as const;
type ActorLabel = (typeof actor_labels)[number];

export function createMetricsRegistry(source: AdminSource, bounded: Bound): Registry {
  const read_actors = (): Promise<ActorStats[]> => bounded(source.listActors(), 'listing the actors');
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  // prom-client collects every metric of a scrape concurrently; the four collectors share
  // one in-flight read, so a scrape asks the worker threads once, not four times.
  let in_flight: Promise<ActorStats[]> | null = null;
  const snapshot = (): Promise<ActorStats[]> => {
    if (in_flight === null) {
      in_flight = read_actors().finally(() => {
        in_flight = null;
      });
    }
    return in_flight;
  };
  const labels = (actor: ActorStats): Record<ActorLabel, string> => ({ address: actor.address, thread: String(actor.thread) });

  new Gauge({
    name: 'mq_actor_mailbox_depth',
    help: 'Messages waiting in the actor\'s mailbox.',
    labelNames: actor_labels,
    registers: [registry],
    async collect() {
      const actors = await snapshot();
      this.reset(); // actors that stopped since the last scrape must disappear
      for (const actor of actors) this.set(labels(actor), actor.mailboxDepth);
    },
  });
  // The node keeps the totals; a counter is rebuilt from them on each scrape.
  const totalCounter = (name: string, help: string, read: (actor: ActorStats) => number): void => {
    new Counter({
      name,
      help,
      labelNames: actor_labels,
      registers: [registry],
      async collect() {
        const actors = await snapshot();
        this.reset();
        for (const actor of actors) this.inc(labels(actor), Math.max(0, read(actor)));
      },
    });
  };
  totalCounter('mq_actor_messages_handled_total', 'Messages the actor has handled.', (a) => a.handled);
  totalCounter('mq_actor_restarts_total', 'Times the supervisor restarted the actor.', (a) => a.restarts);
  totalCounter('mq_actor_busy_seconds_total', 'Time spent inside the actor\'s handler.', (a) => a.busyMs / 1000);
  registerBrokerMetrics(registry, source, bounded);
  registerThreadMetrics(registry, source, bounded);
  registerStoreHistograms(registry, source);
  return registry;
}
