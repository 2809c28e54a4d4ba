import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import t from 'tap';
import { CpuPool } from '../../src/runtime/cpu_pool.js';
import { echo_module_url, echo_protocol } from './fixtures/echo_messages.js';
import { startSystem } from './helpers.js';
import { lean_worker_exec_argv } from '../helpers/tap_hooks.js';

t.test('list, stats and inspect through the control plane', async (t) => {
  const system = await startSystem(t);
  const echo = await system.spawn({ address: 'echo/seen', module: echo_module_url, protocol: echo_protocol, thread: 2 });
  for (let seq = 0; seq < 100; seq++) echo.tell({ kind: 'count', sender: 0, seq, payload: Buffer.alloc(4) });
  await echo.ask({ kind: 'echo', sender: 0, seq: 0, payload: Buffer.alloc(0) });

  const actors = await system.listActors();
  t.same(actors.map((entry) => [entry.address, entry.kind, entry.thread]), [
    ['sys/probe/1', 'probe', 1],
    ['sys/probe/2', 'probe', 2],
    ['echo/seen', 'echo', 2],
  ]);
  const seen = actors[2];
  t.equal(seen?.handled, 101);
  t.equal(seen?.mailboxDepth, 0);
  t.equal(seen?.status, 'running');
  t.ok((seen?.busyMs ?? 0) > 0, 'busy time is measured');
  const inspected = await system.inspect('echo/seen');
  t.equal((inspected?.['state'] as { counted: number }).counted, 100, "inspect returns the actor's own state");
  t.same(await system.health(), { ok: true });
});

t.test('the CPU pool computes CRC32 off the actor threads', async (t) => {
  const pool = new CpuPool(2, lean_worker_exec_argv);
  t.teardown(() => pool.destroy());
  const data = randomBytes(8 << 20);
  t.equal(await pool.crc32(data), crc32(data), 'copied input');
  const shared = new Uint8Array(new SharedArrayBuffer(1 << 20));
  shared.set(data.subarray(0, shared.length));
  t.equal(await pool.crc32(shared), crc32(shared), 'shared input (no copy)');
  const moved = Uint8Array.from(data.subarray(0, 4096));
  const expected = crc32(moved);
  t.equal(await pool.crc32(moved, { transfer: true }), expected, 'transferred input');
  t.equal(moved.byteLength, 0, 'a transferred buffer is gone from the caller');
  const tasks = await Promise.all(Array.from({ length: 16 }, (_, i) => pool.crc32(data.subarray(i * 1024, (i + 1) * 1024))));
  t.same(tasks, Array.from({ length: 16 }, (_, i) => crc32(data.subarray(i * 1024, (i + 1) * 1024))), 'many tasks at once');
});
