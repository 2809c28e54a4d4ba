/**
 * Refuses a signed request seen before: a client signs each request with its connection's
 * random session id and a sequence number that only grows (request_signature.ts), so a
 * sequence number not above the highest seen for its session is a replay — on the same
 * connection or on another. One entry per session lives while the session signs within the
 * timestamp window; an entry older than twice the window can go, because any request of its
 * session is then refused by the window anyway.
 *
 * Owned by one listener's thread; no concurrency.
 */
export const replay_guard_limits = {
  /** Sessions remembered at once (one per live client connection); beyond, new sessions are
   *  refused until old ones age out: the table never grows past this. */
  sessions_max: 200_000,
  /** Entries checked for age per new session: pruning is spread over the inserts. */
  prune_per_insert: 8,
} as const;

interface Session {
  seq: number;
  seen_ms: number;
}

export type ReplayVerdict = 'fresh' | 'replayed' | 'full';

export class ReplayGuard {
  /** Insertion order = first-seen order: the oldest entries are at the front. */
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly window_ms: number) {}

  /** Records (session, seq) when it is new; says why not otherwise. */
  check(session: string, seq: number, now_ms: number): ReplayVerdict {
    const known = this.sessions.get(session);
    if (known !== undefined) {
      if (seq <= known.seq) return 'replayed';
      known.seq = seq;
      known.seen_ms = now_ms;
      return 'fresh';
    }
    this.prune(now_ms);
    if (this.sessions.size >= replay_guard_limits.sessions_max) return 'full';
    this.sessions.set(session, { seq, seen_ms: now_ms });
    return 'fresh';
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Drops a few of the oldest-inserted sessions not seen for twice the window. A session
   *  still in use but inserted long ago is moved to the back instead (seen again). */
  private prune(now_ms: number): void {
    let checked = 0;
    for (const [session, entry] of this.sessions) {
      if (checked++ >= replay_guard_limits.prune_per_insert) break;
      this.sessions.delete(session);
      if (now_ms - entry.seen_ms <= 2 * this.window_ms) this.sessions.set(session, entry);
    }
  }
}
