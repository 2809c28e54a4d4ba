import type { NamesrvReplication } from '../../config.js';

/** What the leader tells one follower in its beat. */
export interface FollowerAssignment {
  /** Where it fetches entries. */
  upstream: string;
  /** Who serves strongly consistent reads ('' in master/slave modes: every node does). */
  tail: string;
  chain: string[];
}

/**
 * The leader's view of its followers: who is alive (answered a beat within the member
 * timeout), what each has applied, and from that where each one fetches.
 *
 * master/slave modes: every follower fetches from the leader; the live ones are the
 * members a sync write waits for.
 *
 * chain: the chain is [leader, members in the order they joined]; each member fetches from
 * the one before it, and the last one is the tail. Membership is the leader's view, nothing
 * else: a member silent past the timeout is cut out (its neighbours joined at the next
 * beat); a live node outside the chain first copies the state from the tail (a learner,
 * whose acknowledgements count for nothing) and joins at the tail once it has applied
 * what the tail has.
 *
 * Owned by the nameserver's main thread; rebuilt when a node becomes leader.
 */
export class ReplicationView {
  private readonly heard = new Map<string, { applied_seq: number; at_ms: number }>();
  private chain_members: string[] = [];

  constructor(
    private readonly self: string,
    private readonly mode: NamesrvReplication,
    private readonly member_timeout_ms: number,
  ) {}

  /** A follower answered a beat. */
  heardFrom(peer: string, applied_seq: number, now_ms: number): void {
    this.heard.set(peer, { applied_seq, at_ms: now_ms });
  }

  /** Recomputes who is in (call before each round of beats). */
  refresh(now_ms: number, leader_last_seq: number): void {
    if (this.mode !== 'chain') return;
    this.chain_members = this.chain_members.filter((peer) => this.isLive(peer, now_ms));
    const tail = this.chain_members.at(-1);
    const tail_applied = tail === undefined ? leader_last_seq : (this.heard.get(tail)?.applied_seq ?? 0);
    for (const [peer, state] of this.heard) {
      if (this.chain_members.includes(peer) || !this.isLive(peer, now_ms)) continue;
      if (state.applied_seq >= tail_applied) this.chain_members.push(peer);
    }
  }

  /** The followers a sync or semi-sync write counts. */
  liveMembers(now_ms: number): string[] {
    if (this.mode === 'chain') return [...this.chain_members];
    return [...this.heard.keys()].filter((peer) => this.isLive(peer, now_ms));
  }

  /** chain: the node after the leader ('' when none); other modes ''. */
  successor(): string {
    return this.mode === 'chain' ? (this.chain_members[0] ?? '') : '';
  }

  chain(now_ms: number): string[] {
    return [this.self, ...(this.mode === 'chain' ? this.chain_members : this.liveMembers(now_ms))];
  }

  assignmentOf(peer: string, now_ms: number): FollowerAssignment {
    const chain = this.chain(now_ms);
    if (this.mode !== 'chain') return { upstream: this.self, tail: '', chain };
    const tail = chain.at(-1) as string;
    const index = chain.indexOf(peer);
    return { upstream: index > 0 ? (chain[index - 1] as string) : tail, tail, chain };
  }

  private isLive(peer: string, now_ms: number): boolean {
    const state = this.heard.get(peer);
    return state !== undefined && now_ms - state.at_ms < this.member_timeout_ms;
  }
}
