import t from 'tap';
import { AssertionFailure } from '../../src/runtime/assert.js';
import { cache_line_bytes, defineControlBlock } from '../../src/runtime/control_block.js';
import { peer_block } from './fixtures/ring_test_blocks.js';
import { nextMessage, startFixture } from './fixtures/ring_test_support.js';
import type { PeerMessage } from './fixtures/ring_control_block_peer.js';

const mixed = defineControlBlock('test.mixed', { a: 'i32', position: 'i64', b: 'i32', other: 'i64' } as const);

t.test('slots do not overlap: each holds its own value', (t) => {
  const block = mixed.create();
  block.store('a', 11);
  block.store('position', 2 ** 40 + 3);
  block.store('b', -12);
  block.store('other', -(2 ** 50));
  t.same(
    [block.load('a'), block.load('position'), block.load('b'), block.load('other')],
    [11, 2 ** 40 + 3, -12, -(2 ** 50)],
  );
  // packed: 8-byte header, two i64 slots, two i32 slots
  t.equal(mixed.size_bytes, 8 + 16 + 8);
  t.equal(block.slots.position.load(), 2 ** 40 + 3, 'slot handles see the same cells');
  t.end();
});

t.test('cache_line padding puts the header and every slot on its own line', (t) => {
  const padded = defineControlBlock('test.padded', { x: 'i64', y: 'i32', z: 'i32' } as const, { padding: 'cache_line' });
  t.equal(padded.size_bytes, 4 * cache_line_bytes);
  const block = padded.create();
  block.store('x', 5);
  block.store('y', 6);
  block.store('z', 7);
  const i32_cells = new Int32Array(block.sab);
  t.equal(i32_cells[(2 * cache_line_bytes) / 4], 6, 'y starts the third line');
  t.equal(i32_cells[(3 * cache_line_bytes) / 4], 7, 'z starts the fourth line');
  t.equal(new BigInt64Array(block.sab)[cache_line_bytes / 8], 5n, 'x starts the second line');
  t.end();
});

t.test('64-bit slots take and give safe integers only', (t) => {
  const block = mixed.create();
  block.store('position', Number.MAX_SAFE_INTEGER);
  t.equal(block.load('position'), Number.MAX_SAFE_INTEGER);
  block.store('position', Number.MIN_SAFE_INTEGER);
  t.equal(block.load('position'), Number.MIN_SAFE_INTEGER);
  t.throws(() => block.store('position', 2 ** 53), AssertionFailure);
  t.throws(() => block.store('position', 1.5), AssertionFailure);
  new BigInt64Array(block.sab)[1] = 2n ** 60n; // written behind the block's back
  t.throws(() => block.load('position'), /outside the safe integer range/);
  t.throws(() => block.store('a', 2 ** 31), AssertionFailure, 'i32 slot rejects a value past 32 bits');
  t.end();
});

t.test('add and compareExchange return the previous value', (t) => {
  const block = mixed.create();
  block.store('position', 100);
  t.equal(block.add('position', 23), 100);
  t.equal(block.load('position'), 123);
  t.equal(block.compareExchange('position', 999, 1), 123, 'no exchange when expected differs');
  t.equal(block.load('position'), 123);
  t.equal(block.compareExchange('position', 123, 7), 123);
  t.equal(block.load('position'), 7);
  block.store('a', 1);
  t.equal(block.add('a', 2), 1);
  t.equal(block.compareExchange('a', 3, 0), 3);
  t.equal(block.load('a'), 0);
  t.end();
});

t.test('attach checks the declaration, the offset and the size', (t) => {
  const block = mixed.create();
  const other = defineControlBlock('test.other', { a: 'i32', position: 'i64', b: 'i32', other: 'i64' } as const);
  t.throws(() => other.attach(block.sab), /fingerprint .* does not match/);
  t.throws(() => mixed.attach(new SharedArrayBuffer(mixed.size_bytes)), /never initialised/);
  t.throws(() => mixed.attach(block.sab, 4), /multiple of 8/);
  t.throws(() => mixed.attach(new SharedArrayBuffer(8)), /needs 32 bytes/);
  t.throws(() => mixed.createIn(block.sab, 0), /already in use/);
  const again = mixed.attach(block.sab);
  block.store('b', 42);
  t.equal(again.load('b'), 42, 'two wrappers over one buffer see the same slots');
  t.end();
});

t.test('a block can live at an offset inside a larger buffer', (t) => {
  const sab = new SharedArrayBuffer(64 + mixed.size_bytes);
  const block = mixed.createIn(sab, 64);
  block.store('other', 77);
  t.equal(mixed.attach(sab, 64).load('other'), 77);
  t.equal(new Int32Array(sab, 0, 16).every((cell) => cell === 0), true, 'bytes before the block untouched');
  t.end();
});

t.test('Atomics.wait is refused on the main thread; waitAsync works there', async (t) => {
  const block = mixed.create();
  t.throws(() => block.wait('a', 0, 1), /would block the main thread/);
  t.equal(await block.waitAsync('a', 5, 1_000), 'not-equal', 'value already differs');
  const started_ms = performance.now();
  t.equal(await block.waitAsync('a', 0, 20), 'timed-out');
  t.ok(performance.now() - started_ms >= 19, 'waited about its timeout');
  t.equal(block.notify('a'), 0, 'nobody waits any more');
});

t.test('values and wake-ups cross threads through the block', async (t) => {
  const block = peer_block.create();
  block.store('write_position', 2 ** 52 + 1);
  const peer = startFixture(t, 'ring_control_block_peer.js', block.sab);
  const seen = await nextMessage<Extract<PeerMessage, { kind: 'seen' }>>(peer, 'seen', 5_000);
  t.equal(seen.write_position, 2 ** 52 + 1, 'the worker read what the main thread stored');

  // The peer stores its values, then sets turn = 1 and notifies: no message involved.
  const deadline_ms = performance.now() + 5_000;
  while (block.load('turn') === 0 && performance.now() < deadline_ms) {
    await block.waitAsync('turn', 0, Math.max(1, deadline_ms - performance.now()));
  }
  t.equal(block.load('turn'), 1);
  t.equal(block.load('flush_position'), Number.MAX_SAFE_INTEGER - 1, 'i64 written by the worker');
  t.equal(block.load('counter'), -7, 'i32 written by the worker');

  const woken_message = nextMessage<Extract<PeerMessage, { kind: 'woken' }>>(peer, 'woken', 5_000);
  block.store('turn', 2);
  block.notify('turn');
  const woken = await woken_message;
  t.equal(woken.turn, 2, 'the sleeping worker saw the new value');
  t.not(woken.wait_result, 'timed-out', `the worker was woken or never had to sleep (${woken.wait_result})`);
});
