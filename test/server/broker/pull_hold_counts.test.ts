import t, { type Test } from 'tap';
import { PullHold, pull_hold_limits } from '../../../src/server/broker/pull_hold.js';
import { accountClient, addressClient, client_limit_defaults, type ClientIdentity } from '../../../src/server/remoting/client_limits.js';
import { store_control, type StoreControl } from '../../../src/storage/store_control.js';

/**
 * PullHold's counts, per connection (the owner object) and per client (client_limits.ts),
 * against a real store control block: a pull leaves the hold — and its counts — in each of
 * the four ways it can (its connection closes, its time runs out, its queue grows, the
 * broker stops), is answered exactly once, and the place it held is free again. The queue
 * growing is signalled as a ConsumeQueue actor signals it: Atomics.add and notify on the
 * block's `dispatch_seq`.
 */

const limits = {
  /** A client's own bound, below the per-connection one, so that the client's is what binds. */
  client_held_pulls_max: 5,
  /** Long enough never to run out during a test (the hold caps it at hold_ms_max). */
  long_hold_ms: pull_hold_limits.hold_ms_max,
  short_hold_ms: 60,
  /** Bounds every wait: far above what any of them takes, far below tap's timeout. */
  answer_wait_ms: 5_000,
  poll_ms: 5,
} as const;

/** One pull as the broker's handler gives it to the hold: a readiness check and an answer. */
class Pull {
  ready = false;
  answers = 0;
  answered_at_ms = -1;

  readonly isReady = (): boolean => this.ready;

  readonly answer = (): void => {
    this.answers++;
    this.answered_at_ms = Date.now();
  };
}

/** Polls `check` every few ms until it holds; fails after `timeout_ms`. */
async function until(what: string, check: () => boolean, timeout_ms: number = limits.answer_wait_ms): Promise<void> {
  const deadline_ms = performance.now() + timeout_ms;
  while (!check()) {
    if (performance.now() > deadline_ms) throw new Error(`${what}: not within ${timeout_ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, limits.poll_ms));
  }
}

function newHold(t: Test): { hold: PullHold; control: StoreControl } {
  const control = store_control.create();
  const hold = new PullHold(control);
  t.teardown(() => hold.close());
  return { hold, control };
}

/** Holds a new pull; undefined when the hold refused it (the caller would answer it at once). */
function holdPull(hold: PullHold, owner: object, client: ClientIdentity, hold_ms: number = limits.long_hold_ms): Pull | undefined {
  const pull = new Pull();
  return hold.hold(pull.isReady, pull.answer, hold_ms, owner, client) ? pull : undefined;
}

function holdAll(hold: PullHold, count: number, owner: object, client: ClientIdentity, hold_ms: number = limits.long_hold_ms): Pull[] {
  const pulls: Pull[] = [];
  for (let index = 0; index < count; index++) {
    const pull = holdPull(hold, owner, client, hold_ms);
    if (pull === undefined) throw new Error(`pull ${index} of ${count} was refused`);
    pulls.push(pull);
  }
  return pulls;
}

const answeredOnce = (pulls: readonly Pull[]): boolean => pulls.every((pull) => pull.answers === 1);
const unanswered = (pulls: readonly Pull[]): boolean => pulls.every((pull) => pull.answers === 0);

const small_limits = { ...client_limit_defaults, held_pulls_max: limits.client_held_pulls_max };

t.test('a client full over two connections is refused; closing one connection answers its pulls and frees their places', async (t) => {
  const { hold } = newHold(t);
  const client = addressClient('127.0.0.1', small_limits);
  const other_client = addressClient('127.0.0.2', small_limits);
  const connection_a = {};
  const connection_b = {};
  const on_a = holdAll(hold, 3, connection_a, client);
  const on_b = holdAll(hold, 2, connection_b, client);
  t.equal(hold.heldForClient(client.key), limits.client_held_pulls_max, 'the client holds its maximum over both connections');
  t.same([hold.heldFor(connection_a), hold.heldFor(connection_b)], [3, 2], 'counted per connection too');
  t.equal(holdPull(hold, connection_b, client), undefined, 'one more pull on a connection of the full client is refused');
  t.equal(holdPull(hold, {}, client), undefined, '...and on a new connection of it');
  t.equal(hold.heldForClient(client.key), limits.client_held_pulls_max, 'the refusals are not counted');
  const other = holdPull(hold, {}, other_client);
  t.ok(other !== undefined, 'another client (another address) is held');
  t.equal(hold.size, limits.client_held_pulls_max + 1, 'the broker holds six');
  t.ok(unanswered([...on_a, ...on_b]), 'nothing answered yet');

  hold.release(connection_a);
  t.ok(answeredOnce(on_a), 'closing connection a answers its three pulls, once each');
  t.ok(unanswered(on_b), 'connection b\'s pulls stay held');
  t.same([hold.heldFor(connection_a), hold.heldFor(connection_b), hold.heldForClient(client.key)], [0, 2, 2], 'a holds none, b two, the client two');
  hold.release(connection_a);
  t.ok(answeredOnce(on_a), 'releasing it again answers nothing twice');

  const again = holdAll(hold, 3, {}, client);
  t.equal(again.length, 3, 'the client holds three more on a new connection: the places came back');
  t.equal(holdPull(hold, connection_b, client), undefined, 'and is full again at its maximum');
  t.equal(hold.size, limits.client_held_pulls_max + 1, 'the broker\'s count followed');
});

t.test('an account with its own held_pulls_max is counted apart from its address', async (t) => {
  const { hold } = newHold(t);
  const account = accountClient('team-a', client_limit_defaults, { heldPulls: 2 });
  const address = addressClient('127.0.0.1', small_limits);
  t.equal(account.limits.held_pulls_max, 2, 'the ACL\'s heldPulls is the account\'s bound');
  const connection = {};
  holdAll(hold, 2, connection, account);
  t.equal(holdPull(hold, connection, account), undefined, 'the third pull of the account is refused');
  t.ok(holdPull(hold, connection, address) !== undefined, 'a pull counted against another client on the same connection is held');
  t.same([hold.heldForClient(account.key), hold.heldForClient(address.key), hold.heldFor(connection)], [2, 1, 3], 'each client counted under its own key, the connection over both');
});

t.test('a pull whose time runs out is answered, not before, and leaves the counts', async (t) => {
  const { hold } = newHold(t);
  const client = addressClient('127.0.0.1', small_limits);
  const connection = {};
  const held_at_ms = Date.now();
  const short = holdAll(hold, 3, connection, client, limits.short_hold_ms);
  const [long] = holdAll(hold, 1, connection, client);
  t.equal(hold.heldForClient(client.key), 4, 'four held');
  await until('the short pulls are answered', () => short.every((pull) => pull.answers > 0));
  t.ok(answeredOnce(short), 'each short pull answered once');
  // The hold stamps the deadline with Date.now() after held_at_ms was taken, and answers
  // only once Date.now() reaches it.
  t.ok(short.every((pull) => pull.answered_at_ms - held_at_ms >= limits.short_hold_ms), `not before their ${limits.short_hold_ms} ms (${short.map((pull) => pull.answered_at_ms - held_at_ms).join(', ')} ms)`);
  t.equal(long?.answers, 0, 'the long pull stays held');
  t.same([hold.heldForClient(client.key), hold.heldFor(connection), hold.size], [1, 1, 1], 'only the long pull counted');
  const refill = holdAll(hold, limits.client_held_pulls_max - 1, connection, client);
  t.equal(refill.length, limits.client_held_pulls_max - 1, 'the places of the answered pulls can be held again');
  t.equal(holdPull(hold, connection, client), undefined, 'up to the maximum');
});

t.test('a pull whose queue grows is answered at the dispatch signal and leaves the counts; the others stay', async (t) => {
  const { hold, control } = newHold(t);
  const client = addressClient('127.0.0.1', small_limits);
  const connection = {};
  const pulls = holdAll(hold, 3, connection, client);
  const [growing, waiting_a, waiting_b] = pulls as [Pull, Pull, Pull];
  // Give the hold's wait on dispatch_seq a turn to start before the signal.
  await new Promise((resolve) => setImmediate(resolve));
  growing.ready = true;
  const signalled_ms = performance.now();
  // What a ConsumeQueue actor does after it publishes entries.
  control.add('dispatch_seq', 1);
  control.notify('dispatch_seq');
  await until('the ready pull is answered', () => growing.answers > 0);
  const answered_after_ms = performance.now() - signalled_ms;
  t.equal(growing.answers, 1, 'answered once');
  // Without the signal it would be seen only when the wait's slice (wait_slice_ms, begun at
  // the first hold, just before the signal) runs out.
  t.ok(answered_after_ms < pull_hold_limits.wait_slice_ms / 2, `answered ${answered_after_ms.toFixed(1)} ms after the signal, long before the wait's slice (${pull_hold_limits.wait_slice_ms} ms) ran out`);
  t.ok(unanswered([waiting_a, waiting_b]), 'the pulls whose queues did not grow stay held');
  t.same([hold.heldForClient(client.key), hold.heldFor(connection), hold.size], [2, 2, 2], 'two counted');

  // A second signal, for the two others: the hold watches again after each wake.
  waiting_a.ready = true;
  waiting_b.ready = true;
  control.add('dispatch_seq', 1);
  control.notify('dispatch_seq');
  await until('the other two are answered', () => waiting_a.answers > 0 && waiting_b.answers > 0);
  t.ok(answeredOnce(pulls), 'every pull answered once');
  t.same([hold.heldForClient(client.key), hold.heldFor(connection), hold.size], [0, 0, 0], 'nothing counted');
  t.equal(holdAll(hold, limits.client_held_pulls_max, connection, client).length, limits.client_held_pulls_max, 'the client holds its maximum again');
});

t.test('a pull whose queue grew between the caller\'s read and the hold is answered at once, not after a wait slice', async (t) => {
  const { hold, control } = newHold(t);
  const client = addressClient('127.0.0.1', small_limits);
  const connection = {};
  // The caller read the queue empty; an entry was dispatched (and signalled) before the hold
  // began to watch the counter: no later signal will come for it.
  control.add('dispatch_seq', 1);
  control.notify('dispatch_seq');
  const pull = new Pull();
  pull.ready = true;
  t.equal(hold.hold(pull.isReady, pull.answer, limits.long_hold_ms, connection, client), true, 'taken by the hold');
  t.equal(pull.answers, 1, 'and answered before hold() returned');
  t.same([hold.heldForClient(client.key), hold.heldFor(connection), hold.size], [0, 0, 0], 'nothing counted');
  const waiting = holdPull(hold, connection, client);
  t.equal(waiting?.answers, 0, 'a pull whose queue did not grow is held as before');
});

t.test('close answers every held pull once, empties every count, and holds nothing after', async (t) => {
  const { hold } = newHold(t);
  const client = addressClient('127.0.0.1', small_limits);
  const account = accountClient('team-b', client_limit_defaults, undefined);
  const connections = [{}, {}, {}];
  const pulls = [
    ...holdAll(hold, 2, connections[0] as object, client),
    ...holdAll(hold, 3, connections[1] as object, client),
    ...holdAll(hold, 7, connections[2] as object, account),
  ];
  hold.release(connections[0] as object);
  t.equal(hold.size, 10, 'ten held after one connection closed');
  hold.close();
  t.ok(answeredOnce(pulls), 'every pull answered exactly once (the released ones not again)');
  t.same([hold.heldForClient(client.key), hold.heldForClient(account.key), hold.size], [0, 0, 0], 'no client holds anything');
  t.ok(connections.every((connection) => hold.heldFor(connection) === 0), 'no connection either');
  const late = new Pull();
  t.equal(hold.hold(late.isReady, late.answer, limits.long_hold_ms, {}, client), false, 'a pull after close is not held (its caller answers it)');
  t.equal(late.answers, 0, '...and the hold does not answer it');
  hold.release(connections[1] as object);
  t.ok(answeredOnce(pulls), 'a release after close answers nothing twice');
});

t.test('held_per_connection_max binds a client whose own bound is larger', async (t) => {
  const { hold } = newHold(t);
  const client = addressClient('127.0.0.1', client_limit_defaults);
  t.ok(client.limits.held_pulls_max > pull_hold_limits.held_per_connection_max, 'the default client bound is above the per-connection one');
  const greedy = {};
  const pulls = holdAll(hold, pull_hold_limits.held_per_connection_max, greedy, client);
  t.equal(holdPull(hold, greedy, client), undefined, `pull ${pull_hold_limits.held_per_connection_max + 1} of one connection is refused`);
  t.equal(hold.heldFor(greedy), pull_hold_limits.held_per_connection_max, 'the connection holds its maximum');
  const second = holdPull(hold, {}, client);
  t.ok(second !== undefined, 'the same client\'s next connection is held');
  t.equal(hold.heldForClient(client.key), pull_hold_limits.held_per_connection_max + 1, 'the client counts both');
  hold.release(greedy);
  t.ok(answeredOnce(pulls), 'closing the greedy connection answers its pulls');
  t.same([hold.heldFor(greedy), hold.heldForClient(client.key), hold.size], [0, 1, 1], 'and takes them out of every count');
});
