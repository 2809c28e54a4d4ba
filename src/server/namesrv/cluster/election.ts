import type { Clock } from '../../../runtime/clock.js';
import type { TermStore } from './term_store.js';

export type ElectionRole = 'follower' | 'candidate' | 'leader';

/** Where a node's registry log ends: (term of the last entry, its seq). */
export interface LogPosition {
  last_seq: number;
  last_term: number;
}

export interface ElectionOptions {
  self: string;
  peers: readonly string[];
  /** A follower that hears no leader for this long, plus up to as much again at random,
   *  stands for election. The leader's lease is a fraction of it (below). */
  election_timeout_ms: number;
  clock: Clock;
  /** In [0, 1): the random part of election timeouts (a seeded PRNG in tests). */
  random: () => number;
  store: TermStore;
}

/** The leader's lease, as a fraction of the election timeout: shorter than the time any
 *  follower waits before it votes for someone else, so the old leader has stopped taking
 *  writes before a new one can be elected (with clocks that run at about the same rate). */
const lease_fraction = 0.75;

/**
 * Leader election with terms (the election half of Raft): a majority of the nameservers
 * (counting the candidate) must vote for a candidate in a term; a node votes once per term,
 * durably, and only for a candidate whose log is at least as far as its own, so a new
 * leader holds every write a majority applied. Two rules keep two leaders from taking
 * writes at once:
 *   - a node that heard a leader within the election timeout refuses votes (the leader is
 *     alive; a node that merely lost its link to it cannot depose it);
 *   - a leader whose beats no majority answered within its lease stops leading.
 *
 * Pure state: the caller sends the messages and reports answers and time. Owned by the
 * nameserver's main thread.
 */
export class Election {
  private record;
  role: ElectionRole = 'follower';
  /** The leader of the current term, once known ('' while unknown). */
  leader = '';
  private election_deadline_ms = 0;
  private last_leader_contact_ms = Number.NEGATIVE_INFINITY;
  private readonly votes = new Set<string>();
  /** Leader: per peer, when the newest beat it answered (in this term) was sent. */
  private readonly beat_answered_ms = new Map<string, number>();
  private leader_since_ms = 0;
  /** When this node last stood: its votes were cast after it, so a lease counted from it ends
   *  before any voter's promise does, however late the answers arrived. */
  private stood_at_ms = 0;

  constructor(private readonly options: ElectionOptions) {
    this.record = options.store.load();
    this.resetDeadline();
  }

  get term(): number {
    return this.record.term;
  }

  get majority(): number {
    return Math.floor((this.options.peers.length + 1) / 2) + 1;
  }

  /** Called periodically: what is due now. */
  tick(): 'stand' | 'step_down' | undefined {
    const now = this.options.clock.monotonicMs();
    if (this.role === 'leader') return this.leaseHolds(now) ? undefined : 'step_down';
    return now >= this.election_deadline_ms ? 'stand' : undefined;
  }

  /** Starts an election: a new term, a vote for itself; returns the term to ask votes in. */
  stand(): number {
    this.record = { term: this.record.term + 1, voted_for: this.options.self };
    this.options.store.save(this.record);
    this.role = 'candidate';
    this.leader = '';
    this.stood_at_ms = this.options.clock.monotonicMs();
    this.votes.clear();
    this.votes.add(this.options.self);
    this.resetDeadline();
    if (this.votes.size >= this.majority) this.becomeLeader();
    return this.record.term;
  }

  /** A candidate asks for this node's vote. */
  onVoteRequest(term: number, candidate: string, candidate_log: LogPosition, own_log: LogPosition): { term: number; granted: boolean } {
    const now = this.options.clock.monotonicMs();
    if (term < this.record.term) return { term: this.record.term, granted: false };
    // A live leader is not deposed by a node that only lost its own link to it.
    const leader_alive = this.role === 'leader' ? this.leaseHolds(now) : now - this.last_leader_contact_ms < this.options.election_timeout_ms;
    if (leader_alive && candidate !== this.leader && candidate !== this.record.voted_for) return { term: this.record.term, granted: false };
    if (term > this.record.term) this.observeTerm(term);
    const up_to_date = candidate_log.last_term > own_log.last_term || (candidate_log.last_term === own_log.last_term && candidate_log.last_seq >= own_log.last_seq);
    const free = this.record.voted_for === '' || this.record.voted_for === candidate;
    if (!up_to_date || !free) return { term: this.record.term, granted: false };
    if (this.record.voted_for !== candidate) {
      this.record = { term: this.record.term, voted_for: candidate };
      this.options.store.save(this.record);
    }
    // A vote counts as hearing a leader: no other candidate gets this node's vote within one
    // election timeout, while the one it voted for may be leading already.
    this.last_leader_contact_ms = now;
    this.resetDeadline();
    return { term: this.record.term, granted: true };
  }

  /** A peer answered this node's vote request; true when that made it the leader. */
  onVoteResponse(peer: string, asked_term: number, answer: { term: number; granted: boolean }): boolean {
    if (answer.term > this.record.term) {
      this.observeTerm(answer.term);
      return false;
    }
    if (this.role !== 'candidate' || asked_term !== this.record.term || !answer.granted) return false;
    this.votes.add(peer);
    if (this.votes.size < this.majority) return false;
    this.becomeLeader();
    return true;
  }

  /** A leader's beat: true when this node accepts it as its leader. */
  onBeat(term: number, leader: string): boolean {
    if (term < this.record.term) return false;
    if (term > this.record.term || this.role !== 'follower') this.observeTerm(term);
    this.leader = leader;
    this.last_leader_contact_ms = this.options.clock.monotonicMs();
    this.resetDeadline();
    return true;
  }

  /** Leader: `peer` answered a beat sent at `sent_ms` (monotonic) in `answer_term`. */
  onBeatAnswer(peer: string, sent_ms: number, answer_term: number): void {
    if (answer_term > this.record.term) {
      this.observeTerm(answer_term);
      return;
    }
    if (this.role !== 'leader') return;
    const earlier = this.beat_answered_ms.get(peer) ?? Number.NEGATIVE_INFINITY;
    if (sent_ms > earlier) this.beat_answered_ms.set(peer, sent_ms);
  }

  /** Any message that shows a higher term: follow it (as a follower with no vote yet). */
  observeTerm(term: number): void {
    if (term > this.record.term) {
      this.record = { term, voted_for: '' };
      this.options.store.save(this.record);
      this.leader = '';
    }
    this.role = 'follower';
    this.beat_answered_ms.clear();
  }

  /** Gives up leadership (its lease ran out): a follower that waits to hear a new leader. */
  stepDown(): void {
    this.role = 'follower';
    this.leader = '';
    this.beat_answered_ms.clear();
    this.resetDeadline();
  }

  private becomeLeader(): void {
    this.role = 'leader';
    this.leader = this.options.self;
    this.leader_since_ms = this.stood_at_ms;
    this.beat_answered_ms.clear();
  }

  /**
   * The lease holds while a majority (the leader counts itself) answered beats sent within
   * the lease; right after winning, the votes stand in for answers for one lease.
   */
  private leaseHolds(now_ms: number): boolean {
    const lease_ms = this.options.election_timeout_ms * lease_fraction;
    if (now_ms - this.leader_since_ms < lease_ms) return true;
    let fresh = 1;
    for (const sent_ms of this.beat_answered_ms.values()) if (now_ms - sent_ms < lease_ms) fresh++;
    return fresh >= this.majority;
  }

  private resetDeadline(): void {
    const timeout_ms = this.options.election_timeout_ms;
    this.election_deadline_ms = this.options.clock.monotonicMs() + timeout_ms + this.options.random() * timeout_ms;
  }
}
