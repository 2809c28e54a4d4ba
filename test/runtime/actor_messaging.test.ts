import { randomBytes } from 'node:crypto';
import t from 'tap';
import { echo_module_url, echo_protocol } from './fixtures/echo_messages.js';
import { startSystem } from './helpers.js';

const message_count = 10_000;

t.test('10,000 asks from the main thread to a worker: every reply right, in order per sender', async (t) => {
  const system = await startSystem(t);
  const echo = await system.spawn({ address: 'echo/1', module: echo_module_url, protocol: echo_protocol, thread: 1 });
  const payloads = Array.from({ length: message_count }, (_, seq) => randomBytes(1 + (seq % 700)));
  const resolved_order: number[] = [];
  const replies = await Promise.all(payloads.map((payload, seq) =>
    echo.ask({ kind: 'echo', sender: 7, seq, payload }).then((reply) => {
      resolved_order.push(reply.seq);
      return reply;
    })));
  t.equal(replies.length, message_count);
  let wrong = 0;
  replies.forEach((reply, seq) => {
    if (reply.seq !== seq || reply.sender !== 7 || reply.thread !== 1 || !reply.payload.equals(payloads[seq] as Buffer)) wrong++;
  });
  t.equal(wrong, 0, 'every reply carries its own sequence number and payload bytes');
  t.same(resolved_order, payloads.map((_, seq) => seq), 'replies resolved in the order sent');
});

t.test('10,000 asks between two worker threads, in order', async (t) => {
  const system = await startSystem(t);
  await system.spawn({ address: 'echo/target', module: echo_module_url, protocol: echo_protocol, thread: 1 });
  const relay = await system.spawn({ address: 'echo/relay', module: echo_module_url, protocol: echo_protocol, thread: 2 });
  const summary = await relay.ask({ kind: 'relay', to: 'echo/target', count: message_count, payload_bytes: 64 }, { timeout_ms: 60_000 });
  t.equal(summary.seq, message_count, 'the relay on thread 2 saw all 10,000 replies from thread 1, in order');
  t.equal(summary.thread, 2);
});

t.test('10,000 tells then an ask: the ask sees every tell (FIFO from one sender)', async (t) => {
  const system = await startSystem(t);
  const echo = await system.spawn({ address: 'echo/count', module: echo_module_url, protocol: echo_protocol, thread: 2 });
  let queued = 0;
  for (let seq = 0; seq < message_count; seq++) {
    if (echo.tell({ kind: 'count', sender: 0, seq, payload: Buffer.alloc(16) })) queued++;
  }
  t.equal(queued, message_count, 'no tell was refused');
  const reply = await echo.ask({ kind: 'echo', sender: 0, seq: -1, payload: Buffer.alloc(0) });
  t.equal(reply.counted, message_count, 'all tells were handled before the ask');
  const stats = (await system.listActors()).find((entry) => entry.address === 'echo/count');
  t.equal(stats?.handled, message_count + 1, 'stats count every handled message');
  t.equal(stats?.thread, 2);
});

t.test('same-thread actors talk by queue push', async (t) => {
  const system = await startSystem(t);
  await system.spawn({ address: 'echo/a', module: echo_module_url, protocol: echo_protocol, thread: 1 });
  const relay = await system.spawn({ address: 'echo/b', module: echo_module_url, protocol: echo_protocol, thread: 1 });
  const summary = await relay.ask({ kind: 'relay', to: 'echo/a', count: 1_000, payload_bytes: 8 }, { timeout_ms: 30_000 });
  t.equal(summary.seq, 1_000);
});

t.test('an actor spawns another one and talks to it at once', async (t) => {
  const system = await startSystem(t);
  const parent = await system.spawn({ address: 'echo/parent', module: echo_module_url, protocol: echo_protocol, thread: 1 });
  const reply = await parent.ask({ kind: 'spawn_child', address: 'echo/child', thread: 2 }, { timeout_ms: 20_000 });
  t.equal(reply.sender, 2, 'the child runs on the thread asked for');
  t.equal(reply.seq, 42);
  t.equal(reply.payload.toString(), 'echo/child');
  const child = system.actorOf('echo/child', echo_protocol);
  t.equal((await child.ask({ kind: 'echo', sender: 0, seq: 1, payload: Buffer.from('x') })).thread, 2, 'the main thread reaches it too');
  const again = await parent.ask({ kind: 'spawn_child', address: 'echo/child', thread: 2 }).then(() => 'spawned', (error: { code: string }) => error.code);
  t.equal(again, 'BAD_REQUEST', 'a taken address is refused');
  t.same((await system.listActors()).map((entry) => entry.address), ['sys/probe/1', 'sys/probe/2', 'echo/parent', 'echo/child']);
});
