import t from 'tap';
import { pino } from 'pino';
import { MqError } from '../../src/runtime/errors.js';
import { CommitTracker, type CommitTrackerOptions } from '../../src/server/namesrv/cluster/commit_tracker.js';

/**
 * When the leader may acknowledge a registry write, per replication mode, on the plain
 * class: the tests feed views and follower acks by hand and watch which waits settle.
 * semi-sync uses a real timer, kept short; only lower bounds on time are asserted
 * (a write is still waiting before its timeout), never upper ones.
 */

const semi_sync_timeout_ms = 30;
const silent = pino({ level: 'silent' });

function tracker(mode: CommitTrackerOptions['mode'], options: Partial<CommitTrackerOptions> = {}): CommitTracker {
  return new CommitTracker({ mode, semi_sync_acks: 1, semi_sync_timeout_ms, sync_followers_min: 1, log: silent, ...options });
}

interface Watched {
  state: 'waiting' | 'resolved' | 'rejected';
  error: unknown;
  done: Promise<void>;
}

/** Follows a commit wait without awaiting it, so a test can ask "settled yet?". */
function watch(wait: Promise<void>): Watched {
  const watched: Watched = { state: 'waiting', error: undefined, done: Promise.resolve() };
  watched.done = wait.then(
    () => {
      watched.state = 'resolved';
    },
    (error: unknown) => {
      watched.state = 'rejected';
      watched.error = error;
    },
  );
  return watched;
}

/** Lets every settled promise run its handlers (a macrotask: after all microtasks). */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

t.test('async: a write is acknowledged at once, with no follower', async (t) => {
  const commits = tracker('async');
  const write = watch(commits.committed(5));
  await flush();
  t.equal(write.state, 'resolved', 'async needs no view and no ack');
  t.equal(commits.commitSeq(), 5, 'everything logged is committed');
});

t.test('sync: a write waits for every member of the view, and resolves on the last ack', async (t) => {
  const commits = tracker('sync');
  const write = watch(commits.committed(1));
  await flush();
  t.equal(write.state, 'waiting', 'an empty view commits nothing (sync_followers_min 1)');
  commits.setView(['b', 'c'], '');
  commits.ack('b', 1);
  await flush();
  t.equal(write.state, 'waiting', 'one of two members is not enough');
  t.equal(commits.commitSeq(), 0, 'nothing is committed while c has not applied seq 1');
  commits.ack('x', 1);
  await flush();
  t.equal(write.state, 'waiting', 'an ack from outside the view does not count');
  commits.ack('c', 1);
  await flush();
  t.equal(write.state, 'resolved', 'the last member’s ack commits the write');
  t.equal(commits.commitSeq(), 1, 'seq 1 is committed');
});

t.test('sync: a view that drops a silent member lets the wait end', async (t) => {
  const commits = tracker('sync');
  commits.setView(['b', 'c'], '');
  const write = watch(commits.committed(2));
  commits.ack('b', 2);
  await flush();
  t.equal(write.state, 'waiting', 'c is silent');
  commits.setView(['b'], '');
  await flush();
  t.equal(write.state, 'resolved', 'without c in the view, b alone holds the write');
});

t.test('sync: the view never counts for fewer than sync_followers_min followers', async (t) => {
  const commits = tracker('sync', { sync_followers_min: 2 });
  commits.setView(['b', 'c'], '');
  const write = watch(commits.committed(1));
  commits.ack('b', 1);
  commits.setView(['b'], '');
  await flush();
  t.equal(write.state, 'waiting', 'b holds it, but two followers must');
  t.equal(commits.commitSeq(), 0, 'nothing is committed with too few followers');
  commits.setView(['b', 'd'], '');
  commits.ack('d', 3);
  await flush();
  t.equal(write.state, 'resolved', 'two followers of a view of two hold it');
});

t.test('semi-sync: a write resolves once semi_sync_acks followers applied it', async (t) => {
  const commits = tracker('semi-sync', { semi_sync_acks: 2 });
  commits.setView(['b', 'c', 'd'], '');
  const write = watch(commits.committed(1));
  commits.ack('b', 1);
  await flush();
  t.equal(write.state, 'waiting', 'one ack of the two needed');
  commits.ack('d', 1);
  await flush();
  t.equal(write.state, 'resolved', 'two acks are enough; c may stay silent');
  await write.done;
  await new Promise((resolve) => setTimeout(resolve, semi_sync_timeout_ms * 2));
  t.equal(commits.fallbacks, 0, 'a write acknowledged in time is no fallback, even after its timeout');
});

t.test('semi-sync: too few acks in time fall back, and later writes resolve at once until followers catch up', async (t) => {
  const commits = tracker('semi-sync');
  commits.setView(['b', 'c'], '');
  const slow = watch(commits.committed(1));
  await flush();
  t.equal(slow.state, 'waiting', 'before the timeout the write waits');
  t.equal(commits.fallbacks, 0, 'no fallback before the timeout');
  await slow.done;
  t.equal(slow.state, 'resolved', 'after the timeout it is acknowledged without followers');
  t.equal(commits.fallbacks, 1, 'and counted as a fallback');

  const degraded = watch(commits.committed(2));
  await flush();
  t.equal(degraded.state, 'resolved', 'while degraded, a write resolves at once');
  t.equal(commits.fallbacks, 1, 'a write resolved while degraded is no new fallback');
  t.equal(commits.commitSeq(), 2, 'while degraded, every logged write counts as committed');

  commits.ack('b', 1);
  const still_degraded = watch(commits.committed(3));
  await flush();
  t.equal(still_degraded.state, 'resolved', 'an ack of an older seq does not end the degraded mode');

  commits.ack('b', 3);
  const guarded = watch(commits.committed(4));
  await flush();
  t.equal(guarded.state, 'waiting', 'once b applied the newest write, writes wait for acks again');
  commits.ack('c', 4);
  await flush();
  t.equal(guarded.state, 'resolved', 'an ack within the timeout resolves it');
  t.equal(commits.fallbacks, 1, 'the write acknowledged in time adds no fallback');
});

t.test('chain: only the successor’s ack commits a write', async (t) => {
  const commits = tracker('chain');
  commits.setView(['b', 'c'], 'b');
  const write = watch(commits.committed(1));
  commits.ack('c', 5);
  await flush();
  t.equal(write.state, 'waiting', 'an ack from c, which is not the successor, counts for nothing');
  t.equal(commits.commitSeq(), 0, 'nothing is committed before the successor acknowledges');
  commits.ack('b', 1);
  await flush();
  t.equal(write.state, 'resolved', 'the successor b acknowledged for the whole chain');
  t.equal(commits.commitSeq(), 1, 'seq 1 is committed by the successor’s ack');
});

t.test('chain: a head without a successor acknowledges nothing', async (t) => {
  const commits = tracker('chain');
  commits.setView([], '');
  const write = watch(commits.committed(1));
  commits.ack('b', 9);
  await flush();
  t.equal(write.state, 'waiting', 'no successor: no ack counts');
  t.equal(commits.commitSeq(), 0, 'a chain without a successor commits nothing');
  commits.setView(['b'], 'b');
  await flush();
  t.equal(write.state, 'resolved', 'once b becomes the successor, the ack it sent counts');
});

t.test('abandon() rejects every waiting write with a retriable BROKER_UNAVAILABLE', async (t) => {
  const commits = tracker('sync');
  commits.setView(['b'], '');
  const first = watch(commits.committed(1));
  const second = watch(commits.committed(2));
  commits.abandon('this nameserver stopped leading');
  await flush();
  for (const [name, write] of [['first', first], ['second', second]] as const) {
    t.equal(write.state, 'rejected', `the ${name} write is rejected`);
    t.ok(write.error instanceof MqError, `the ${name} write's error is an MqError`);
    const error = write.error as MqError;
    t.equal(error.code, 'BROKER_UNAVAILABLE', 'the code says the leader is unavailable');
    t.equal(error.retriable, true, 'the writer may send the write again');
    t.match(error.message, /this nameserver stopped leading/, 'the message gives the reason');
  }
  commits.ack('b', 2);
  await flush();
  t.equal(first.state, 'rejected', 'a later ack does not revive an abandoned write');
});

t.test('abandon() in semi-sync: an abandoned write never times out into a fallback', async (t) => {
  const commits = tracker('semi-sync');
  commits.setView(['b'], '');
  const write = watch(commits.committed(1));
  commits.abandon('lost the lease');
  await new Promise((resolve) => setTimeout(resolve, semi_sync_timeout_ms * 2));
  t.equal(write.state, 'rejected', 'the abandoned write is rejected');
  t.equal(commits.fallbacks, 0, 'the abandoned write never timed out into a fallback');
});

t.test('commitSeq() reports the highest seq each mode allows', async (t) => {
  const sync = tracker('sync');
  sync.setView(['b', 'c'], '');
  for (let seq = 1; seq <= 5; seq++) watch(sync.committed(seq));
  sync.ack('b', 4);
  sync.ack('c', 3);
  t.equal(sync.commitSeq(), 3, 'sync: the lowest seq any member holds');

  const semi = tracker('semi-sync', { semi_sync_acks: 1 });
  semi.setView(['b', 'c'], '');
  const semi_waits = [1, 2, 3, 4, 5].map((seq) => watch(semi.committed(seq)));
  semi.ack('b', 4);
  t.equal(semi.commitSeq(), 4, 'semi-sync: the highest seq enough followers hold');
  semi.ack('c', 5);
  await Promise.all(semi_waits.map((write) => write.done)); // nothing left on a timer
  t.equal(semi.commitSeq(), 5, 'once c applied seq 5, everything is committed');

  const chain = tracker('chain');
  chain.setView(['b', 'c'], 'b');
  for (let seq = 1; seq <= 5; seq++) watch(chain.committed(seq));
  chain.ack('b', 2);
  chain.ack('c', 5);
  t.equal(chain.commitSeq(), 2, 'chain: what the successor acknowledged');
  chain.abandon('test over');
  sync.abandon('test over');
});
