import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { MqError } from '../../src/runtime/errors.js';
import { counter_module_url, counter_protocol } from './fixtures/counter_messages.js';
import { echo_module_url, echo_protocol } from './fixtures/echo_messages.js';
import { nextEvent, rejectionOf, startSystem, tempDir } from './helpers.js';
import { startActorSystem } from '../helpers/actor_systems.js';

t.test('an ask that gets no reply in time rejects with TIMEOUT', async (t) => {
  const system = await startSystem(t);
  const echo = await system.spawn({ address: 'echo/slow', module: echo_module_url, protocol: echo_protocol });
  // The handler answers after 1 s; a TIMEOUT rejection (not a reply) shows the 100 ms bound won.
  const error = await rejectionOf(echo.ask({ kind: 'slow', ms: 1_000 }, { timeout_ms: 100 }));
  t.equal(error.code, 'TIMEOUT');
  t.ok(error instanceof MqError && error.retriable, 'TIMEOUT is retriable');
});

t.test('asks to unknown addresses reject with ACTOR_NOT_FOUND', async (t) => {
  const system = await startSystem(t);
  const ghost = system.actorOf('nobody/here', echo_protocol);
  const error = await rejectionOf(ghost.ask({ kind: 'slow', ms: 1 }));
  t.equal(error.code, 'ACTOR_NOT_FOUND');
});

t.test('a handler that throws: the ask fails, the actor restarts from its durable state and keeps serving', async (t) => {
  const system = await startSystem(t);
  const dir = tempDir(t);
  const args = { state_file: path.join(dir, 'count'), journal_file: path.join(dir, 'journal') };
  const counter = await system.spawn({ address: 'counter/1', module: counter_module_url, protocol: counter_protocol, args, thread: 2 });
  for (let i = 0; i < 5; i++) await counter.ask({ kind: 'add', amount: 1 });

  const refused = await rejectionOf(counter.ask({ kind: 'refuse' }));
  t.equal(refused.code, 'BAD_REQUEST', 'an MqError from the handler reaches the caller as is');

  const restarted = nextEvent<{ address: string; error: string }>(system, 'actor-restarted', 5_000);
  const crash = await rejectionOf(counter.ask({ kind: 'crash', reason: 'boom on purpose' }));
  t.equal(crash.code, 'INTERNAL');
  t.match(crash.message, /boom on purpose/);
  const event = await restarted;
  t.equal(event.address, 'counter/1');

  t.equal(await counter.ask({ kind: 'add', amount: 1 }), 6, 'the new instance read the count back from its file');
  const stats = (await system.listActors()).find((entry) => entry.address === 'counter/1');
  t.equal(stats?.restarts, 1);
  t.equal(stats?.status, 'running');
  t.match(stats?.lastError ?? '', /boom on purpose/);
  t.match(readFileSync(args.journal_file, 'utf8'), /^started counter\/1 0\nstarted counter\/1 5\n$/, 'started twice; the refused ask did not restart it');
});

t.test('a restart storm is capped: the actor is marked failed and asks fail fast', async (t) => {
  const system = await startSystem(t, { limits: { restarts_in_window_max: 3, restart_backoff_initial_ms: 1 } });
  const dir = tempDir(t);
  const counter = await system.spawn({
    address: 'counter/storm',
    module: counter_module_url,
    protocol: counter_protocol,
    args: { state_file: path.join(dir, 'count'), journal_file: path.join(dir, 'journal') },
  });
  const failed = nextEvent<{ address: string }>(system, 'actor-failed', 10_000);
  const crashes = [];
  for (let i = 0; i < 4; i++) crashes.push(rejectionOf(counter.ask({ kind: 'crash', reason: `crash ${i}` })));
  const codes = (await Promise.all(crashes)).map((error) => error.code);
  t.same(codes, ['INTERNAL', 'INTERNAL', 'INTERNAL', 'INTERNAL'], 'each crash answered its ask');
  t.equal((await failed).address, 'counter/storm');
  const after = await rejectionOf(counter.ask({ kind: 'get' }, { timeout_ms: 30_000 }));
  t.equal(after.code, 'ACTOR_UNAVAILABLE');
  const stats = (await system.listActors()).find((entry) => entry.address === 'counter/storm');
  t.equal(stats?.status, 'failed');
});

t.test('a worker thread that exits: pending asks fail fast, its actors come back on a new thread', async (t) => {
  const system = await startSystem(t);
  const dir = tempDir(t);
  const args = { state_file: path.join(dir, 'count'), journal_file: path.join(dir, 'journal') };
  const counter = await system.spawn({ address: 'counter/victim', module: counter_module_url, protocol: counter_protocol, args, thread: 1 });
  const echo = await system.spawn({ address: 'echo/victim', module: echo_module_url, protocol: echo_protocol, thread: 1 });
  for (let i = 0; i < 3; i++) await counter.ask({ kind: 'add', amount: 10 });

  const restarted = nextEvent<{ thread: number }>(system, 'thread-restarted', 20_000);
  const pending = rejectionOf(echo.ask({ kind: 'slow', ms: 60_000 }, { timeout_ms: 60_000 }));
  counter.tell({ kind: 'exit_thread' });
  const error = await pending;
  t.equal(error.code, 'ACTOR_UNAVAILABLE', 'the ask waiting on the dead thread failed at once with a clear code, not with its 60 s TIMEOUT');
  t.equal((await restarted).thread, 1);

  t.equal(await counter.ask({ kind: 'get' }), 30, 'the counter came back with its durable count');
  const echoed = await echo.ask({ kind: 'echo', sender: 1, seq: 1, payload: Buffer.from('back') });
  t.equal(echoed.payload.toString(), 'back');
  t.same(await system.health(), { ok: true }, 'every thread answers its probe again');
  const stats = (await system.listActors()).find((entry) => entry.address === 'counter/victim');
  t.equal(stats?.restarts, 1, 'the restart is counted');
});

t.test('a full mailbox answers BUSY instead of growing', async (t) => {
  const system = await startSystem(t);
  const echo = await system.spawn({ address: 'echo/small', module: echo_module_url, protocol: echo_protocol, mailbox_messages_max: 8 });
  const slow = echo.ask({ kind: 'slow', ms: 200 });
  const flood = Array.from({ length: 40 }, (_, seq) =>
    echo.ask({ kind: 'echo', sender: 0, seq, payload: Buffer.alloc(1) }).then(() => 'ok', (error: MqError) => error.code));
  const outcomes = await Promise.all(flood);
  await slow;
  const busy = outcomes.filter((outcome) => outcome === 'BUSY').length;
  const ok = outcomes.filter((outcome) => outcome === 'ok').length;
  t.equal(busy + ok, 40, 'every ask ended in a reply or BUSY');
  t.ok(busy >= 40 - 8, `at least 32 refused (got ${busy})`);
  t.ok(ok >= 7, `the ones that fit were served (got ${ok})`);
});

t.test('stop drains mailboxes and stops actors in reverse spawn order', async (t) => {
  const dir = tempDir(t);
  const journal_file = path.join(dir, 'journal');
  const system = await startActorSystem({ threads: 2 });
  let stopped = false;
  t.teardown(() => (stopped ? undefined : system.stop()));
  const first = await system.spawn({ address: 'counter/first', module: counter_module_url, protocol: counter_protocol, thread: 1, args: { state_file: path.join(dir, 'first'), journal_file } });
  const second = await system.spawn({ address: 'counter/second', module: counter_module_url, protocol: counter_protocol, thread: 2, args: { state_file: path.join(dir, 'second'), journal_file } });
  for (let i = 0; i < 1_000; i++) {
    first.tell({ kind: 'add', amount: 1 });
    second.tell({ kind: 'add', amount: 2 });
  }
  await system.stop();
  stopped = true;
  const stops = readFileSync(journal_file, 'utf8').split('\n').filter((line) => line.startsWith('stopped'));
  t.same(stops, ['stopped counter/second 2000', 'stopped counter/first 1000'], 'every told message handled; the later actor stopped first');
  const error = await rejectionOf(first.ask({ kind: 'get' }));
  t.equal(error.code, 'SHUTTING_DOWN');
});

t.test('an operator restart (the inspector button): the instance stops, a new one starts from its durable state, asks sent meanwhile are served', async (t) => {
  const system = await startSystem(t);
  const dir = tempDir(t);
  const args = { state_file: path.join(dir, 'count'), journal_file: path.join(dir, 'journal') };
  const counter = await system.spawn({ address: 'counter/operator', module: counter_module_url, protocol: counter_protocol, args, thread: 2 });
  for (let i = 0; i < 3; i++) await counter.ask({ kind: 'add', amount: 1 });

  const restarted = nextEvent<{ address: string; error: string }>(system, 'actor-restarted', 5_000);
  t.equal(await system.restartActor('counter/operator'), 'restarting', 'a running actor restarts');
  const during = counter.ask({ kind: 'add', amount: 10 });
  t.match(await restarted, { kind: 'actor-restarted', address: 'counter/operator', thread: 2, error: 'restarted by an operator' }, 'reported like a supervisor restart, with the reason');
  t.equal(await during, 13, 'the ask sent during the restart waited and was served by the new instance');
  const stats = (await system.listActors()).find((entry) => entry.address === 'counter/operator');
  t.same([stats?.status, stats?.restarts, stats?.lastError], ['running', 1, 'restarted by an operator']);
  t.match(readFileSync(args.journal_file, 'utf8'), /^started counter\/operator 0\nstopped counter\/operator 3\nstarted counter\/operator 3\n$/, 'stopped as at shutdown, then started from its file');
  t.equal(await system.restartActor('nobody/here'), 'not_running', 'an unknown address restarts nothing');

  // Held down (a drill): restarting until the hold ends, asks wait, then served.
  t.equal(await system.restartActor('counter/operator', 500), 'restarting');
  const held = (await system.listActors()).find((entry) => entry.address === 'counter/operator');
  t.equal(held?.status, 'restarting', 'restarting while held down');
  t.equal(await system.restartActor('counter/operator'), 'not_running', 'a restarting actor cannot be restarted again');
  t.equal(await counter.ask({ kind: 'get' }), 13, 'an ask during the hold is served after it');
  const after = (await system.listActors()).find((entry) => entry.address === 'counter/operator');
  t.same([after?.status, after?.restarts], ['running', 2]);
});

t.test('an operator restart: during a handler it waits for it; a stop during the hold leaves no instance behind', async (t) => {
  const system = await startSystem(t);
  const echo = await system.spawn({ address: 'echo/busy', module: echo_module_url, protocol: echo_protocol, thread: 2 });
  const slow = echo.ask({ kind: 'slow', ms: 400 }, { timeout_ms: 5_000 });
  await new Promise((resolve) => setTimeout(resolve, 50)); // the handler is running by now
  t.equal(await system.restartActor('echo/busy'), 'after_handler', 'busy in a handler: it restarts after it');
  await slow;
  const restarted = await until(async () => {
    const stats = (await system.listActors()).find((entry) => entry.address === 'echo/busy');
    return stats?.restarts === 1 && stats.status === 'running' ? stats : undefined;
  });
  t.equal(restarted.lastError, 'restarted by an operator', 'restarted once the handler settled');

  const dir = tempDir(t);
  const args = { state_file: path.join(dir, 'count'), journal_file: path.join(dir, 'journal') };
  await system.spawn({ address: 'counter/held', module: counter_module_url, protocol: counter_protocol, args, thread: 2 });
  t.equal(await system.restartActor('counter/held', 300), 'restarting');
  await system.stopActor('counter/held');
  await new Promise((resolve) => setTimeout(resolve, 500)); // past the hold: a leaked restart would have started by now
  t.same(readFileSync(args.journal_file, 'utf8').split('\n').filter(Boolean), ['started counter/held 0', 'stopped counter/held 0'], 'stopped during the hold: started once, stopped once, never started again');
});

async function until<T>(check: () => Promise<T | undefined>): Promise<T> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('condition not reached within 5 s');
}
