import type { NamesrvReplication } from '../../config.js';
import { MqError } from '../../../runtime/errors.js';
import type { Logger } from '../../../runtime/log.js';

export interface CommitTrackerOptions {
  mode: NamesrvReplication;
  /** semi-sync: followers that must apply a write, and how long to wait for them. */
  semi_sync_acks: number;
  semi_sync_timeout_ms: number;
  /** sync: followers that must hold a write however few the leader sees (a majority less
   *  the leader), so an acknowledged write survives the loss of any minority. */
  sync_followers_min: number;
  log: Logger;
}

interface Waiter {
  seq: number;
  resolve: () => void;
  reject: (error: MqError) => void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The leader's answer to "may the write logged as `seq` be acknowledged now?", per mode:
 *   async      at once: the leader applied it;
 *   sync       once every follower in the leader's view has acknowledged it, and never
 *              fewer than a majority less the leader (a new leader's view starts empty);
 *   semi-sync  once `semi_sync_acks` followers have; after the timeout, at once, counted as a
 *              fallback, and every later write too until enough followers catch up again;
 *   chain      once the leader's successor acknowledged it (its acks come from the tail);
 *              a head without a successor acknowledges nothing.
 * Followers report what they applied (NS_ACK); the view of followers (`members`) is set by
 * the cluster from who answers beats. Owned by the nameserver's main thread.
 */
export class CommitTracker {
  private readonly acked = new Map<string, number>();
  private members: readonly string[] = [];
  /** chain: the node after the leader ('' when the leader is alone). */
  private successor = '';
  private waiters: Waiter[] = [];
  private degraded = false;
  private last_seq = 0;
  private committed_max = 0;
  fallbacks = 0;

  constructor(private readonly options: CommitTrackerOptions) {}

  /** The followers a sync write waits for, and (chain) the leader's successor. */
  setView(members: readonly string[], successor: string): void {
    this.members = members;
    this.successor = successor;
    this.settle();
  }

  /** `follower` applied (chain: it and every node behind it applied) up to `seq`. */
  ack(follower: string, seq: number): void {
    if (seq <= (this.acked.get(follower) ?? 0)) return;
    this.acked.set(follower, seq);
    this.settle();
  }

  /** Resolves when the write logged as `seq` may be acknowledged to its writer. */
  committed(seq: number): Promise<void> {
    this.last_seq = Math.max(this.last_seq, seq);
    if (this.isCommitted(seq)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { seq, resolve, reject, timer: undefined };
      if (this.options.mode === 'semi-sync') waiter.timer = setTimeout(() => this.fallBack(waiter), this.options.semi_sync_timeout_ms);
      this.waiters.push(waiter);
    });
  }

  /** The highest seq the mode's rule allows now (never less than reported before). */
  commitSeq(): number {
    this.committed_max = Math.max(this.committed_max, Math.min(this.last_seq, this.committableSeq()));
    return this.committed_max;
  }

  /** Leadership ended: nobody learns whether the writes still waiting were kept. */
  abandon(reason: string): void {
    const waiting = this.waiters;
    this.waiters = [];
    this.acked.clear();
    this.committed_max = 0;
    this.degraded = false;
    for (const waiter of waiting) {
      clearTimeout(waiter.timer);
      waiter.reject(new MqError('BROKER_UNAVAILABLE', `${reason}; the registry write may or may not have been kept: send it again (registrations are idempotent)`));
    }
  }

  private isCommitted(seq: number): boolean {
    switch (this.options.mode) {
      case 'async':
        return true;
      case 'sync':
        return this.holding(seq) === this.members.length && this.members.length >= this.options.sync_followers_min;
      case 'semi-sync':
        return this.degraded || this.holding(seq) >= this.options.semi_sync_acks;
      case 'chain':
        return this.successor !== '' && (this.acked.get(this.successor) ?? 0) >= seq;
    }
  }

  /** Where the rule of isCommitted holds, computed from the acks (not by trying each seq). */
  private committableSeq(): number {
    const acked = this.members.map((member) => this.acked.get(member) ?? 0).sort((a, b) => b - a);
    switch (this.options.mode) {
      case 'async':
        return this.last_seq;
      case 'sync':
        return acked.length >= this.options.sync_followers_min ? (acked.at(-1) ?? this.last_seq) : 0;
      case 'semi-sync':
        return this.degraded ? this.last_seq : (acked[this.options.semi_sync_acks - 1] ?? 0);
      case 'chain':
        return this.successor === '' ? 0 : (this.acked.get(this.successor) ?? 0);
    }
  }

  private holding(seq: number): number {
    let count = 0;
    for (const member of this.members) if ((this.acked.get(member) ?? 0) >= seq) count++;
    return count;
  }

  private settle(): void {
    if (this.degraded && this.holding(this.last_seq) >= this.options.semi_sync_acks) {
      this.degraded = false;
      this.options.log.info({ seq: this.last_seq }, 'semi-sync: enough followers caught up; writes wait for them again');
    }
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (this.isCommitted(waiter.seq)) {
        clearTimeout(waiter.timer);
        waiter.resolve();
      } else {
        still.push(waiter);
      }
    }
    this.waiters = still;
  }

  private fallBack(waiter: Waiter): void {
    if (!this.waiters.includes(waiter)) return;
    this.fallbacks++;
    if (!this.degraded) {
      this.options.log.warn(
        { seq: waiter.seq, acks_needed: this.options.semi_sync_acks, holding: this.holding(waiter.seq), timeout_ms: this.options.semi_sync_timeout_ms },
        'semi-sync: too few followers applied a write in time; acknowledging writes without them (async) until they catch up',
      );
    }
    this.degraded = true;
    this.settle();
  }
}
