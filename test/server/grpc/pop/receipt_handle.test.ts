import t from 'tap';
import { prng } from '../../../helpers/prng.js';
import { ReceiptHandleCodec, receipt_handle_chars_max, type ReceiptHandle } from '../../../../src/server/grpc/pop/receipt_handle.js';

const key = Buffer.alloc(32, 7);
const handle: ReceiptHandle = { broker_name: 'broker-a', topic: 'orders', queue_id: 3, queue_offset: 2 ** 40 + 17, delivery_seq: 2 ** 50 + 3 };

t.test('a handle decodes to what was encoded, for its group only', async (t) => {
  const codec = new ReceiptHandleCodec(key);
  const text = codec.encode('G', handle);
  t.match(text, /^[A-Za-z0-9_-]+$/, 'base64url without padding');
  t.same(codec.decode('G', text), { ok: true, handle });
  t.equal(codec.decode('H', text).ok, false, 'another group: refused');
  t.equal(new ReceiptHandleCodec(Buffer.alloc(32, 8)).decode('G', text).ok, false, 'another key (another process): refused');
});

t.test('the longest names fit under receipt_handle_chars_max', async (t) => {
  const codec = new ReceiptHandleCodec(key);
  const longest = codec.encode('G'.repeat(255), { ...handle, broker_name: 'b'.repeat(255), topic: 't'.repeat(255), queue_offset: Number.MAX_SAFE_INTEGER, delivery_seq: Number.MAX_SAFE_INTEGER });
  t.ok(longest.length <= receipt_handle_chars_max, `${longest.length} <= ${receipt_handle_chars_max}`);
  t.equal(codec.decode('G'.repeat(255), longest).ok, true);
});

t.test('every truncation, every changed character and garbage are refused', async (t) => {
  const codec = new ReceiptHandleCodec(key);
  const text = codec.encode('G', handle);
  let accepted = 0;
  for (let length = 0; length < text.length; length++) if (codec.decode('G', text.slice(0, length)).ok) accepted++;
  t.equal(accepted, 0, 'no prefix is a handle');
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let changed_accepted = 0;
  for (let index = 0; index < text.length; index++) {
    for (const char of ['A', 'z', '-']) {
      const other = text.slice(0, index) + char + text.slice(index + 1);
      if (other === text) continue;
      const decoded = codec.decode('G', other);
      // The last character carries 2..4 spare bits base64url ignores: a change there can map
      // to the same bytes, which is the same handle.
      if (decoded.ok && Buffer.from(other, 'base64url').compare(Buffer.from(text, 'base64url')) !== 0) changed_accepted++;
    }
  }
  t.equal(changed_accepted, 0, 'no change of one character names other bytes and passes the mac');
  for (const garbage of ['', '!', '====', 'a'.repeat(receipt_handle_chars_max + 1), text + 'AAAA', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 12 as unknown as string, null as unknown as string]) {
    const decoded = codec.decode('G', garbage);
    t.equal(decoded.ok, false, `refused: ${String(garbage).slice(0, 20)}`);
    if (!decoded.ok) t.ok(decoded.reason.length > 10, 'with a reason');
  }
  const seed = 0x5eed;
  const random_unit = prng(seed);
  let random_accepted = 0;
  for (let round = 0; round < 2_000; round++) {
    const length = 1 + (round % 120);
    let random = '';
    for (let index = 0; index < length; index++) random += alphabet[Math.floor(random_unit() * alphabet.length)];
    if (codec.decode('G', random).ok) random_accepted++;
  }
  t.equal(random_accepted, 0, `random base64url strings are refused (seed ${seed})`);
  t.equal(alphabet.length, 64);
});
