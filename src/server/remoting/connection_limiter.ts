import type { Logger } from '../../runtime/log.js';
import { system_clock, type Clock } from '../../runtime/clock.js';
import { assert } from '../../runtime/assert.js';
import { server_connection_limits } from './remoting_limits.js';

export interface ConnectionLimiterOptions {
  /** Connections kept open from one source address; must be at least 1. */
  per_address_max: number;
  log: Logger;
  clock?: Clock;
}

interface RefusalLog {
  /** When this address was last logged (monotonic). */
  logged_ms: number;
  /** Refused since then, not logged yet. */
  unlogged: number;
}

/**
 * Counts one listener's open connections per source address and refuses those over the
 * limit. A refusal is logged at once for an address, then at most once per
 * `refusal_log_interval_ms` with the number refused meanwhile, so a flood of connections
 * costs one log line a minute per address, not one per connection.
 *
 * Memory is bounded: an address is counted only while it has connections open (at most the
 * listener's `connections_max`), and the refusal log remembers at most
 * `refusal_log_addresses_max` addresses. Owned by the thread that owns the listener.
 */
export class ConnectionLimiter {
  private readonly open_by_address = new Map<string, number>();
  private readonly refusals = new Map<string, RefusalLog>();
  private readonly clock: Clock;
  /** Connections refused since start (every address). */
  refused_total = 0;

  constructor(private readonly options: ConnectionLimiterOptions) {
    assert(Number.isInteger(options.per_address_max) && options.per_address_max >= 1, `per_address_max must be an integer >= 1, not ${options.per_address_max}`);
    this.clock = options.clock ?? system_clock;
  }

  /** Counts a new connection from `address`; false (and counted nowhere) when that address
   *  has its maximum open already: the caller closes the connection. */
  admit(address: string): boolean {
    const open = this.open_by_address.get(address) ?? 0;
    if (open >= this.options.per_address_max) {
      this.refuse(address, open);
      return false;
    }
    this.open_by_address.set(address, open + 1);
    return true;
  }

  /** An admitted connection from `address` closed. */
  release(address: string): void {
    const open = this.open_by_address.get(address);
    assert(open !== undefined && open > 0, `a connection from ${address} was released that was never admitted`);
    if (open === 1) this.open_by_address.delete(address);
    else this.open_by_address.set(address, open - 1);
  }

  /** Connections open from `address` now. */
  openFrom(address: string): number {
    return this.open_by_address.get(address) ?? 0;
  }

  private refuse(address: string, open: number): void {
    this.refused_total++;
    const now_ms = this.clock.monotonicMs();
    const last = this.refusals.get(address);
    if (last !== undefined && now_ms - last.logged_ms < server_connection_limits.refusal_log_interval_ms) {
      last.unlogged++;
      return;
    }
    // Re-inserted so that the map's order is the order of last logging: the first entry is
    // the one to forget when it is full.
    this.refusals.delete(address);
    if (this.refusals.size >= server_connection_limits.refusal_log_addresses_max) {
      const oldest = this.refusals.keys().next().value;
      if (oldest !== undefined) this.refusals.delete(oldest);
    }
    this.refusals.set(address, { logged_ms: now_ms, unlogged: 0 });
    this.options.log.warn(
      {
        remote_address: address,
        open_connections: open,
        connections_per_address_max: this.options.per_address_max,
        refused_unlogged: last?.unlogged ?? 0,
        log_interval_ms: server_connection_limits.refusal_log_interval_ms,
      },
      'too many connections from one address: closing new ones at once (logged once per interval; raise --connections-per-address-max if these are legitimate clients behind one NAT address)',
    );
  }
}
