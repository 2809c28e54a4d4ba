import type { Clock } from '../runtime/clock.js';

/**
 * Latency-based fault avoidance (RocketMQ's LatencyFaultTolerance): after a send to a broker
 * group fails, or succeeds slowly, the producer avoids that group for a while, so that one
 * sick broker does not cost every other send a timeout. A fast send clears the mark.
 *
 * The steps below are shorter than RocketMQ's (which avoids a failed broker for 10 minutes):
 * the route refresh removes a dead broker within seconds, and a broker that was only busy
 * should get traffic back soon.
 */
export const fault_avoidance_limits = {
  /** A send at least this slow (ms) ... */
  slow_latency_steps_ms: [550, 1_000, 2_000, 3_000],
  /** ... avoids its broker group this long (ms), step by step. */
  slow_avoid_ms: [2_000, 5_000, 10_000, 20_000],
  /** A failed send (no connection, timeout, busy) avoids its broker group this long. */
  failure_avoid_ms: 10_000,
  /** Broker groups remembered; the oldest marks are dropped beyond this. */
  brokers_max: 4_096,
} as const;

/**
 * Which broker groups to avoid now. Owned by one producer, on the user's thread.
 */
export class BrokerFaultTracker {
  /** brokerName -> monotonic ms until which it is avoided. */
  private readonly avoid_until_ms = new Map<string, number>();
  /** brokerName -> the master address routes named last. */
  private readonly masters = new Map<string, string>();

  constructor(private readonly clock: Clock) {}

  /** `address`: where the send went; an answer from a group's former master marks nothing. */
  recordSuccess(broker_name: string, latency_ms: number, address?: string): void {
    if (this.isFormerMaster(broker_name, address)) return;
    let avoid_ms = 0;
    fault_avoidance_limits.slow_latency_steps_ms.forEach((step_ms, index) => {
      if (latency_ms >= step_ms) avoid_ms = fault_avoidance_limits.slow_avoid_ms[index] ?? avoid_ms;
    });
    if (avoid_ms === 0) this.avoid_until_ms.delete(broker_name);
    else this.mark(broker_name, avoid_ms);
  }

  /**
   * `address`: where the send went. A failure of a group's former master (a send in flight
   * when a failover changed the route, answered by a timeout after it) marks nothing: the
   * group's new master is not the one that failed.
   */
  recordFailure(broker_name: string, address?: string): void {
    if (this.isFormerMaster(broker_name, address)) return;
    this.mark(broker_name, fault_avoidance_limits.failure_avoid_ms);
  }

  isAvailable(broker_name: string): boolean {
    const until_ms = this.avoid_until_ms.get(broker_name);
    return until_ms === undefined || this.clock.monotonicMs() >= until_ms;
  }

  /**
   * A route names each group's master. A group whose master changed (a failover promoted its
   * slave) is no longer avoided: its marks were earned by the old master, and the new one
   * should take writes as soon as it serves — not 10 s later.
   */
  observeMasters(masters: ReadonlyMap<string, string>): void {
    for (const [broker_name, address] of masters) {
      const known = this.masters.get(broker_name);
      if (known === address) continue;
      if (known !== undefined) this.avoid_until_ms.delete(broker_name);
      this.masters.delete(broker_name); // re-inserted last: the map's order is age
      if (this.masters.size >= fault_avoidance_limits.brokers_max) {
        const oldest = this.masters.keys().next().value;
        if (oldest !== undefined) this.masters.delete(oldest);
      }
      this.masters.set(broker_name, address);
    }
  }

  private isFormerMaster(broker_name: string, address: string | undefined): boolean {
    const master = this.masters.get(broker_name);
    return address !== undefined && master !== undefined && master !== address;
  }

  /** Broker groups avoided now (diagnostics, tests). */
  avoided(): string[] {
    return [...this.avoid_until_ms.keys()].filter((name) => !this.isAvailable(name)).sort();
  }

  private mark(broker_name: string, avoid_ms: number): void {
    this.avoid_until_ms.delete(broker_name); // re-inserted last: the map's order is age
    if (this.avoid_until_ms.size >= fault_avoidance_limits.brokers_max) {
      const oldest = this.avoid_until_ms.keys().next().value;
      if (oldest !== undefined) this.avoid_until_ms.delete(oldest);
    }
    this.avoid_until_ms.set(broker_name, this.clock.monotonicMs() + avoid_ms);
  }
}
