import { frame_bytes_max } from '../../protocol/index.js';
import { assert } from '../../runtime/assert.js';
import type { AccountLimits } from '../auth/acl.js';

/**
 * What one client may hold of a node at once. A client is an account while access control
 * is on (every request is signed, so the account is known from a connection's first request)
 * and a source address while it is off (the only name a client has then). Per-connection
 * bounds (remoting_limits.ts) stop one connection; these stop one client that opens many —
 * one team's runaway consumer fleet, or one host in a reconnect loop — from taking what a
 * port or the broker has for everyone: the broker's 65,536 held pulls, its handlers' time.
 *
 * The node's flags set the defaults; an ACL account may carry its own (`limits` in the ACL
 * file, acl.ts), larger or smaller.
 */
export interface ClientLimits {
  /** Connections one account keeps open on one port (per address: --connections-per-address-max). */
  connections_max: number;
  /** Requests of one client being handled at once on one port, over all its connections. */
  requests_in_flight_max: number;
  /** Pulls of one client held at once by the broker (pull_hold.ts), over all its connections. */
  held_pulls_max: number;
  /** The largest request body one client may send (the frame bound is the node's for all). */
  request_bytes_max: number;
}

export const client_limit_defaults: ClientLimits = {
  /** Half the port's 10,000: two accounts' fleets cannot crowd out the rest. */
  connections_max: 5_000,
  /** 16 connections' worth of their own bound (1,024 each). */
  requests_in_flight_max: 16_384,
  /** A quarter of the broker's hold: at least four clients are needed to fill it. */
  held_pulls_max: 16_384,
  request_bytes_max: frame_bytes_max,
};

/** Who a connection's requests count against, and that client's limits. */
export interface ClientIdentity {
  /** `account <access key>` or `address <ip>`: the key of every per-client count. */
  key: string;
  limits: ClientLimits;
}

export function addressClient(ip: string, limits: ClientLimits): ClientIdentity {
  return { key: `address ${ip}`, limits };
}

/** An account's client: its own limits (the ACL file's `limits`) where it has them. */
export function accountClient(access_key: string, defaults: ClientLimits, own: AccountLimits | undefined): ClientIdentity {
  const key = `account ${access_key}`;
  if (own === undefined) return { key, limits: defaults };
  return {
    key,
    limits: {
      connections_max: own.connections ?? defaults.connections_max,
      requests_in_flight_max: own.requestsInFlight ?? defaults.requests_in_flight_max,
      held_pulls_max: own.heldPulls ?? defaults.held_pulls_max,
      request_bytes_max: own.requestBytes ?? defaults.request_bytes_max,
    },
  };
}

interface Usage {
  connections: number;
  requests: number;
}

/**
 * Counts, per client, the connections bound to it (accounts only: addresses are counted at
 * TCP accept by the ConnectionLimiter) and its requests in flight, on one listener. A client
 * is in the table only while it has something open, so the table is never larger than the
 * listener's connections. Owned by the listener's thread.
 */
export class ClientUsage {
  private readonly usage = new Map<string, Usage>();

  /** Binds one more connection to `client`; false when it has its maximum open. */
  connect(client: ClientIdentity): boolean {
    return this.take(client, 'connections', client.limits.connections_max);
  }

  disconnect(client: ClientIdentity): void {
    this.give(client, 'connections');
  }

  /** Counts one more request of `client` in flight; false when it has its maximum. */
  startRequest(client: ClientIdentity): boolean {
    return this.take(client, 'requests', client.limits.requests_in_flight_max);
  }

  endRequest(client: ClientIdentity): void {
    this.give(client, 'requests');
  }

  /** What the client `key` has open now (tests and admin views). */
  openFor(key: string): Readonly<Usage> {
    return this.usage.get(key) ?? { connections: 0, requests: 0 };
  }

  get clients(): number {
    return this.usage.size;
  }

  private take(client: ClientIdentity, what: keyof Usage, max: number): boolean {
    const usage = this.usageOf(client.key);
    if (usage[what] >= max) {
      this.dropIfIdle(client.key, usage);
      return false;
    }
    usage[what]++;
    return true;
  }

  private give(client: ClientIdentity, what: keyof Usage): void {
    const usage = this.usage.get(client.key);
    assert(usage !== undefined && usage[what] > 0, `${client.key} gave back more ${what} than it took`);
    usage[what]--;
    this.dropIfIdle(client.key, usage);
  }

  private usageOf(key: string): Usage {
    let usage = this.usage.get(key);
    if (usage === undefined) {
      usage = { connections: 0, requests: 0 };
      this.usage.set(key, usage);
    }
    return usage;
  }

  private dropIfIdle(key: string, usage: Usage): void {
    if (usage.connections === 0 && usage.requests === 0) this.usage.delete(key);
  }
}
