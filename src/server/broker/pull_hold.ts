import { assert } from '../../runtime/assert.js';
import type { StoreControl } from '../../storage/store_control.js';
import type { ClientIdentity } from '../remoting/client_limits.js';

export const pull_hold_limits = {
  /** Pulls held at once on this broker; more are answered at once (empty). */
  held_max: 65_536,
  /** Pulls held at once for one connection; more are answered at once (empty). Half of the
   *  connection's in-flight requests (server_connection_limits.in_flight_requests_max, which
   *  held pulls count against): a connection full of held pulls still has room for its
   *  sends, heartbeats and offset commits. A consumer holds one pull per queue it reads from
   *  this broker, so this is a bound on queues per connection that no client reaches. */
  held_per_connection_max: 512,
  /** A held pull is answered after this long at the most, whatever it asked for. */
  hold_ms_max: 30_000,
  /** The wait on the dispatch counter is re-armed at least this often. */
  wait_slice_ms: 1_000,
} as const;

interface HeldPull {
  /** True once the queue has something at or past the pull's offset. */
  ready(): boolean;
  answer(): void;
  deadline_ms: number;
  /** Whose pull it is (the connection): counted against held_per_connection_max. */
  owner: object;
  /** The client the connection speaks for (client_limits.ts): counted against its held_pulls_max. */
  client_key: string;
}

/**
 * Long polling: a pull at the end of its queue is held until the queue grows or its poll
 * time runs out. No busy loop: while pulls are held, one Atomics.waitAsync sleeps on the
 * store's dispatch counter, which every ConsumeQueue actor bumps after publishing entries;
 * each wake re-checks the held pulls (a read of shared positions, no message). Timers answer
 * the pulls whose time runs out. Owned by the broker's main thread.
 *
 * A pull over any bound (the broker's, one connection's, one client's) is not held: the caller answers
 * it at once with NO_NEW_MSG, as if its poll time had run out. A consumer handles that as it
 * handles any empty pull (it pauses briefly and pulls again), where an error would make it
 * log, back off and count the broker as failing.
 */
export class PullHold {
  private readonly held = new Set<HeldPull>();
  /** The held pulls of each owner that has any. */
  private readonly held_by_owner = new Map<object, Set<HeldPull>>();
  /** How many pulls each client that has any holds, over its connections. */
  private readonly held_by_client = new Map<string, number>();
  private waiting = false;
  private timer: NodeJS.Timeout | undefined;
  /** When the timer fires (Infinity: none armed). */
  private timer_deadline_ms = Infinity;
  private closed = false;

  constructor(private readonly control: StoreControl) {}

  get size(): number {
    return this.held.size;
  }

  /** Pulls held for `owner` now. */
  heldFor(owner: object): number {
    return this.held_by_owner.get(owner)?.size ?? 0;
  }

  /** Pulls held for `client_key` now, over its connections. */
  heldForClient(client_key: string): number {
    return this.held_by_client.get(client_key) ?? 0;
  }

  /** Holds a pull of `owner` (its connection), which speaks for `client`; false when the
   *  hold is full, for the broker, that owner or that client (the caller answers at once). */
  hold(ready: () => boolean, answer: () => void, hold_ms: number, owner: object, client: ClientIdentity): boolean {
    if (this.closed || this.held.size >= pull_hold_limits.held_max) return false;
    let owned = this.held_by_owner.get(owner);
    if (owned !== undefined && owned.size >= pull_hold_limits.held_per_connection_max) return false;
    const client_held = this.held_by_client.get(client.key) ?? 0;
    if (client_held >= client.limits.held_pulls_max) return false;
    const pull: HeldPull = { ready, answer, deadline_ms: Date.now() + Math.min(hold_ms, pull_hold_limits.hold_ms_max), owner, client_key: client.key };
    this.held.add(pull);
    this.held_by_client.set(client.key, client_held + 1);
    if (owned === undefined) {
      owned = new Set();
      this.held_by_owner.set(owner, owned);
    }
    owned.add(pull);
    // Only an earlier deadline moves the timer: re-scanning every held pull here would make
    // filling the hold cost time quadratic in its size.
    if (pull.deadline_ms < this.timer_deadline_ms) this.setTimer(pull.deadline_ms);
    this.watch();
    // The caller found the queue empty a moment ago; an entry dispatched since then, before
    // watch() read the counter, would signal nothing this wait sees and wait out a whole
    // slice. The counter is read now: one more look closes that gap.
    if (isReady(pull)) {
      this.remove(pull);
      pull.answer();
    }
    return true;
  }

  /**
   * Answers the held pulls of `owner` now (its connection closed). Without this they would
   * keep their places until their poll time ran out, and a peer that opens connections,
   * fills them with long polls and closes them could fill the broker's hold for everyone.
   */
  release(owner: object): void {
    const owned = this.held_by_owner.get(owner);
    if (owned === undefined) return;
    this.held_by_owner.delete(owner);
    for (const pull of owned) {
      this.held.delete(pull);
      this.countOut(pull);
      pull.answer();
    }
    this.armTimer();
  }

  /** Answers every held pull now (the broker stops). */
  close(): void {
    this.closed = true;
    this.setTimer(Infinity);
    for (const pull of this.held) pull.answer();
    this.held.clear();
    this.held_by_owner.clear();
    this.held_by_client.clear();
  }

  private watch(): void {
    if (this.waiting || this.held.size === 0 || this.closed) return;
    this.waiting = true;
    const seen = this.control.load('dispatch_seq');
    void this.control.waitAsync('dispatch_seq', seen, pull_hold_limits.wait_slice_ms).then(() => {
      this.waiting = false;
      this.check();
      this.watch();
    });
  }

  private check(): void {
    const now_ms = Date.now();
    for (const pull of this.held) {
      if (isReady(pull) || pull.deadline_ms <= now_ms) {
        this.remove(pull);
        pull.answer();
      }
    }
    this.armTimer();
  }

  private remove(pull: HeldPull): void {
    this.held.delete(pull);
    this.countOut(pull);
    const owned = this.held_by_owner.get(pull.owner);
    if (owned === undefined) return;
    owned.delete(pull);
    if (owned.size === 0) this.held_by_owner.delete(pull.owner);
  }

  private countOut(pull: HeldPull): void {
    const held = this.held_by_client.get(pull.client_key);
    assert(held !== undefined && held >= 1, `a held pull of ${pull.client_key} left the hold twice`);
    if (held === 1) this.held_by_client.delete(pull.client_key);
    else this.held_by_client.set(pull.client_key, held - 1);
  }

  private armTimer(): void {
    let next_ms = Infinity;
    for (const pull of this.held) next_ms = Math.min(next_ms, pull.deadline_ms);
    this.setTimer(next_ms);
  }

  private setTimer(deadline_ms: number): void {
    clearTimeout(this.timer);
    this.timer_deadline_ms = this.closed ? Infinity : deadline_ms;
    if (this.timer_deadline_ms === Infinity) return;
    this.timer = setTimeout(() => this.check(), Math.max(0, deadline_ms - Date.now()));
  }
}

/**
 * A held pull's readiness; a check that throws (its queue's files changed under it, e.g.
 * retention) counts as ready, so the pull is answered — by a read that reports the problem —
 * instead of the error escaping the hold's wait and ending the broker.
 */
function isReady(pull: HeldPull): boolean {
  try {
    return pull.ready();
  } catch {
    return true;
  }
}
