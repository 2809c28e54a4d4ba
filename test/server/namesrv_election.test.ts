import t from 'tap';
import { ManualClock } from '../../src/runtime/clock.js';
import { Election, type LogPosition } from '../../src/server/namesrv/cluster/election.js';
import { MemoryTermStore } from '../../src/server/namesrv/cluster/term_store.js';
import { prng } from '../helpers/prng.js';

/**
 * The election rules on the plain class, with a manual clock, a memory term store and a
 * fixed or seeded random part: when a follower stands, how terms and votes are kept, who
 * wins, when a vote is refused, how a higher term demotes a node, and the leader's lease.
 * The tests play the network by hand: they pass each answer to the node it is meant for.
 */

const timeout_ms = 1_000;
/** The leader's lease: 0.75 of the election timeout (election.ts, lease_fraction). */
const lease_ms = 750;
const empty_log: LogPosition = { last_seq: 0, last_term: 0 };

interface NodeOptions {
  peers?: readonly string[];
  clock?: ManualClock;
  store?: MemoryTermStore;
  random?: () => number;
}

function node(self: string, options: NodeOptions = {}): { election: Election; clock: ManualClock; store: MemoryTermStore } {
  const clock = options.clock ?? new ManualClock();
  const store = options.store ?? new MemoryTermStore();
  const peers = options.peers ?? ['a', 'b', 'c'].filter((name) => name !== self);
  const election = new Election({ self, peers, election_timeout_ms: timeout_ms, clock, random: options.random ?? (() => 0), store });
  return { election, clock, store };
}

/** A candidate of three nodes that won term 1 with b's vote, at the clock's current time. */
function leaderOfThree(clock = new ManualClock()): Election {
  const { election } = node('a', { clock });
  const term = election.stand();
  election.onVoteResponse('b', term, { term, granted: true });
  return election;
}

t.test('a follower stands only once the election timeout and its random part have passed', async (t) => {
  const { election, clock } = node('a', { random: () => 0.5 });
  clock.advance(timeout_ms * 1.5 - 1);
  t.equal(election.tick(), undefined, 'no election before timeout + 0.5 × timeout');
  clock.advance(1);
  t.equal(election.tick(), 'stand', 'the follower stands once timeout + 0.5 × timeout passed');

  t.ok(election.onBeat(0, 'b'), 'a beat in the current term is accepted');
  clock.advance(timeout_ms * 1.5 - 1);
  t.equal(election.tick(), undefined, 'a beat restarts the wait');
  clock.advance(1);
  t.equal(election.tick(), 'stand', 'a full wait after the beat, the follower stands');
});

t.test('with a seeded random part, the deadline is timeout + random × timeout', async (t) => {
  for (const seed of [1, 7, 42, 1234]) {
    const source = prng(seed);
    const drawn: number[] = [];
    const { election, clock } = node('a', { random: () => drawn[drawn.push(source()) - 1] as number });
    t.equal(drawn.length, 1, `seed ${seed}: the constructor draws one random part`);
    const deadline_ms = timeout_ms + (drawn[0] as number) * timeout_ms;
    clock.advance(deadline_ms - 0.5);
    t.equal(election.tick(), undefined, `seed ${seed}: no election half a millisecond before ${deadline_ms} ms`);
    clock.advance(0.5);
    t.equal(election.tick(), 'stand', `seed ${seed}: the follower stands at ${deadline_ms} ms`);
  }
});

t.test('stand() starts a new term with a vote for itself, saved before it asks anyone', async (t) => {
  const { election, store } = node('a');
  t.equal(election.term, 0, 'a new node starts in term 0');
  t.equal(election.stand(), 1, 'the first election is in term 1');
  t.equal(election.role, 'candidate', 'after standing, the node is a candidate');
  t.equal(election.leader, '', 'a candidate knows no leader');
  t.same(store.load(), { term: 1, voted_for: 'a' }, 'the term and the vote for itself are in the store');
  t.equal(election.stand(), 2, 'standing again moves to the next term');
  t.same(store.load(), { term: 2, voted_for: 'a' }, 'the store holds the newest term and the vote for itself');
});

t.test('a candidate leads once a majority, counting itself, granted votes in its term', async (t) => {
  const { election } = node('a', { peers: ['b', 'c', 'd', 'e'] });
  t.equal(election.majority, 3, 'five nodes: three make a majority');
  const term = election.stand();
  t.notOk(election.onVoteResponse('b', term, { term, granted: true }), 'two votes of five do not win');
  t.notOk(election.onVoteResponse('b', term, { term, granted: true }), 'the same voter twice counts once');
  t.notOk(election.onVoteResponse('c', term, { term, granted: false }), 'a refusal counts for nothing');
  t.equal(election.role, 'candidate', 'without a majority the node stays a candidate');
  t.ok(election.onVoteResponse('d', term, { term, granted: true }), 'the third vote wins');
  t.equal(election.role, 'leader', 'with a majority the candidate becomes the leader');
  t.equal(election.leader, 'a', 'a leader knows it leads');
  t.equal(election.term, term, 'winning does not change the term');
});

t.test('votes granted for an older term do not count in the current one', async (t) => {
  const { election } = node('a');
  const old_term = election.stand();
  const term = election.stand();
  t.notOk(election.onVoteResponse('b', old_term, { term: old_term, granted: true }), 'a late vote for the older term does not win');
  t.equal(election.role, 'candidate', 'still a candidate after a vote for an older term');
  t.ok(election.onVoteResponse('c', term, { term, granted: true }), 'one vote in the current term wins with three nodes');
});

t.test('a voter grants one candidate per term, durably, also across a restart', async (t) => {
  const { election, clock, store } = node('c');
  t.same(election.onVoteRequest(1, 'a', empty_log, empty_log), { term: 1, granted: true }, 'the first candidate of term 1 gets the vote');
  t.same(store.load(), { term: 1, voted_for: 'a' }, 'the vote is in the store');
  // Past the election timeout the vote no longer counts as hearing a leader, so only the
  // one-vote-per-term rule can refuse b.
  clock.advance(timeout_ms);
  t.same(election.onVoteRequest(1, 'b', empty_log, empty_log), { term: 1, granted: false }, 'a second candidate in the same term is refused');
  t.same(election.onVoteRequest(1, 'a', empty_log, empty_log), { term: 1, granted: true }, 'the candidate voted for may ask again');

  const restarted = node('c', { store, clock }).election;
  t.equal(restarted.term, 1, 'the term is loaded from the store');
  t.same(restarted.onVoteRequest(1, 'b', empty_log, empty_log), { term: 1, granted: false }, 'after a restart, b still gets no vote in term 1');
  t.same(store.load(), { term: 1, voted_for: 'a' }, 'the refusal did not overwrite the vote');
  t.same(restarted.onVoteRequest(2, 'b', empty_log, empty_log), { term: 2, granted: true }, 'a new term frees the vote');
  t.same(store.load(), { term: 2, voted_for: 'b' }, 'the vote of term 2 is in the store');
});

t.test('a vote is refused to a candidate whose log is behind the voter', async (t) => {
  const own: LogPosition = { last_seq: 10, last_term: 2 };
  const cases: Array<[string, LogPosition, boolean]> = [
    ['a lower last term, however long', { last_seq: 50, last_term: 1 }, false],
    ['the same last term and a lower last seq', { last_seq: 9, last_term: 2 }, false],
    ['the same last term and seq', { last_seq: 10, last_term: 2 }, true],
    ['the same last term and a higher last seq', { last_seq: 11, last_term: 2 }, true],
    ['a higher last term, however short', { last_seq: 1, last_term: 3 }, true],
  ];
  for (const [what, candidate_log, granted] of cases) {
    const { election, store } = node('c');
    const answer = election.onVoteRequest(5, 'a', candidate_log, own);
    t.same(answer, { term: 5, granted }, `${what}: ${granted ? 'granted' : 'refused'}`);
    t.same(store.load(), { term: 5, voted_for: granted ? 'a' : '' }, `${what}: the voter takes term 5 and saves ${granted ? 'the vote' : 'no vote'}`);
  }
});

t.test('a node that heard a leader within the election timeout refuses other candidates', async (t) => {
  const { election, clock } = node('c');
  t.ok(election.onBeat(1, 'a'), 'c follows a in term 1');
  clock.advance(timeout_ms - 1);
  t.same(election.onVoteRequest(5, 'b', empty_log, empty_log), { term: 1, granted: false }, 'a live leader: b is refused even in a higher term');
  t.equal(election.term, 1, 'the refused candidate does not move the term');
  t.equal(election.leader, 'a', 'the leader is still known');
  t.same(election.onVoteRequest(2, 'a', empty_log, empty_log), { term: 2, granted: true }, 'the leader itself may stand again');

  const other = node('c');
  other.election.onBeat(1, 'a');
  other.clock.advance(timeout_ms);
  t.same(other.election.onVoteRequest(5, 'b', empty_log, empty_log), { term: 5, granted: true }, 'a full timeout after the last beat, b gets the vote');
});

t.test('a granted vote counts as hearing a leader: no other candidate for one timeout', async (t) => {
  const { election, clock } = node('c');
  t.ok(election.onVoteRequest(1, 'a', empty_log, empty_log).granted, 'c votes for a in term 1');
  clock.advance(timeout_ms - 1);
  t.same(election.onVoteRequest(2, 'b', empty_log, empty_log), { term: 1, granted: false }, 'b is refused while a may be leading');
  clock.advance(1);
  t.same(election.onVoteRequest(2, 'b', empty_log, empty_log), { term: 2, granted: true }, 'one timeout after the vote, b may win');
});

t.test('a higher term in a vote answer makes a candidate a follower in that term', async (t) => {
  const { election, store } = node('a');
  const term = election.stand();
  t.notOk(election.onVoteResponse('b', term, { term: 3, granted: false }), 'a higher-term answer wins nothing');
  t.equal(election.role, 'follower', 'a higher term in an answer ends the candidacy');
  t.equal(election.term, 3, 'the candidate takes the higher term');
  t.same(store.load(), { term: 3, voted_for: '' }, 'with no vote in it yet');
  t.notOk(election.onVoteResponse('c', term, { term, granted: true }), 'a vote for the abandoned term no longer wins');
  t.equal(election.role, 'follower', 'it stays a follower');
});

t.test('a higher term in a beat answer, or a beat of a newer leader, demotes a leader', async (t) => {
  const clock = new ManualClock();
  const leader = leaderOfThree(clock);
  t.equal(leader.role, 'leader', 'a won term 1');
  leader.onBeatAnswer('c', clock.monotonicMs(), 4);
  t.equal(leader.role, 'follower', 'a beat answer in term 4 ends the leadership');
  t.equal(leader.term, 4, 'the leader takes the answer’s term');
  t.equal(leader.leader, '', 'the new term has no known leader yet');

  const second = leaderOfThree();
  t.ok(second.onBeat(2, 'b'), 'a beat in a higher term is accepted');
  t.equal(second.role, 'follower', 'a beat of a higher term ends the leadership');
  t.equal(second.term, 2, 'the node takes the beat’s term');
  t.equal(second.leader, 'b', 'the node follows the beat sender');
});

t.test('a candidate that hears a leader of its own term follows it', async (t) => {
  const { election, store } = node('a');
  const term = election.stand();
  t.ok(election.onBeat(term, 'b'), 'a beat of its own term is accepted');
  t.equal(election.role, 'follower', 'the candidate gives up its candidacy');
  t.equal(election.leader, 'b', 'and knows the beat sender as leader');
  t.same(store.load(), { term, voted_for: 'a' }, 'the vote in the term stays (no second vote in it)');
});

t.test('a beat from an older term is refused and changes nothing', async (t) => {
  const { election, clock } = node('a');
  election.observeTerm(3);
  clock.advance(timeout_ms - 1);
  t.notOk(election.onBeat(2, 'b'), 'a beat in term 2 is refused in term 3');
  t.equal(election.term, 3, 'the node stays in its newer term');
  t.equal(election.leader, '', 'the old leader is not taken');
  clock.advance(1);
  t.equal(election.tick(), 'stand', 'a refused beat does not restart the wait');
});

t.test('the lease: the leader steps down when no majority answered beats within 0.75 × timeout', async (t) => {
  const clock = new ManualClock();
  const idle = leaderOfThree(clock);
  clock.advance(lease_ms - 1);
  t.equal(idle.tick(), undefined, 'right after winning, the votes hold the lease');
  clock.advance(1);
  t.equal(idle.tick(), 'step_down', 'with no beat answered, the lease ends 0.75 × timeout after winning');
  t.same(idle.onVoteRequest(2, 'c', empty_log, empty_log), { term: 2, granted: true }, 'a leader past its lease no longer refuses votes');
});

t.test('the lease holds while a majority answers beats, counted from when each beat was sent', async (t) => {
  const clock = new ManualClock();
  const leader = leaderOfThree(clock);
  clock.advance(500);
  const sent_ms = clock.monotonicMs();
  clock.advance(100);
  leader.onBeatAnswer('b', sent_ms, leader.term);
  leader.onBeatAnswer('b', sent_ms - 400, leader.term); // a late answer to an older beat
  clock.advance(sent_ms + lease_ms - 1 - clock.monotonicMs());
  t.equal(leader.tick(), undefined, 'b answered a beat sent within the lease: leader + b are a majority');
  t.same(leader.onVoteRequest(2, 'c', empty_log, empty_log), { term: 1, granted: false }, 'a leader in its lease refuses votes');
  clock.advance(1);
  t.equal(leader.tick(), 'step_down', 'the lease ends 0.75 × timeout after the newest answered beat was sent');
  leader.stepDown();
  t.equal(leader.role, 'follower', 'after stepping down the node is a follower');
  t.equal(leader.leader, '', 'and knows no leader');
});

t.test('of five nodes, one answering follower does not hold the lease', async (t) => {
  const clock = new ManualClock();
  const { election } = node('a', { clock, peers: ['b', 'c', 'd', 'e'] });
  const term = election.stand();
  election.onVoteResponse('b', term, { term, granted: true });
  election.onVoteResponse('c', term, { term, granted: true });
  clock.advance(lease_ms);
  election.onBeatAnswer('b', clock.monotonicMs(), term);
  t.equal(election.tick(), 'step_down', 'leader + b are two of five');
  election.onBeatAnswer('c', clock.monotonicMs(), term);
  t.equal(election.tick(), undefined, 'leader + b + c are three of five');
});

t.test('a node without peers leads at once when it stands, and keeps leading', async (t) => {
  const { election, clock, store } = node('a', { peers: [] });
  t.equal(election.majority, 1, 'one node: a majority of one');
  t.equal(election.stand(), 1, 'the first election is in term 1');
  t.equal(election.role, 'leader', 'its own vote is a majority of one');
  t.equal(election.leader, 'a', 'it knows it leads');
  t.same(store.load(), { term: 1, voted_for: 'a' }, 'the term and its own vote are in the store');
  clock.advance(timeout_ms * 10);
  t.equal(election.tick(), undefined, 'alone, it never loses its lease');
});

t.test('a leader’s first lease ends before its voters may elect another', async (t) => {
  // a stands at 0 and b and c grant at once, but only c's answer reaches a, 400 ms later
  // (a vote request may take up to a full timeout); then a's links fail. Its voters refuse
  // other candidates until 0 + timeout, but a's lease runs from when it won: to
  // 400 + 0.75 × timeout = 1150 ms. Counted from standing it would end at 750 ms.
  const clock = new ManualClock();
  const a = node('a', { clock }).election;
  const b = node('b', { clock }).election;
  const c = node('c', { clock }).election;
  const term = a.stand();
  t.ok(b.onVoteRequest(term, 'a', empty_log, empty_log).granted, 'b votes for a (its answer is lost)');
  const vote_of_c = c.onVoteRequest(term, 'a', empty_log, empty_log);
  clock.advance(400);
  t.ok(a.onVoteResponse('c', term, vote_of_c), 'a wins term 1 with c, 400 ms after standing');
  clock.advance(timeout_ms - 400);
  t.equal(b.tick(), 'stand', 'b heard no leader for a full timeout since its vote');
  const b_term = b.stand();
  t.ok(b.onVoteResponse('c', b_term, c.onVoteRequest(b_term, 'b', empty_log, empty_log)), 'b wins term 2 with c');
  t.equal(a.tick(), 'step_down', 'by the time b leads, a has stopped taking writes (its first lease runs from when it stood)');
});
