import t from 'tap';
import { chaosBody, readChaosBody } from '../../src/chaos/chaos_history.js';

/** The chaos message body: it names its id, and any changed byte is caught. */

t.test('a body reads back as its id, intact', async (t) => {
  for (const [id, size_bytes] of [['0-0', 64], ['12-345678', 1_024], ['3-17', 0]] as const) {
    const body = chaosBody(id, size_bytes);
    t.equal(body.length, Math.max(size_bytes, id.length + 1), `${id}: the size asked, or just the id and newline`);
    t.same(readChaosBody(body), { id, intact: true }, id);
  }
  t.ok(chaosBody('1-2', 256).equals(chaosBody('1-2', 256)), 'the same id makes the same bytes');
  t.notOk(chaosBody('1-2', 256).subarray(4).equals(chaosBody('1-3', 256).subarray(4)), 'another id makes other bytes');
});

t.test('a flipped byte makes the body not intact', async (t) => {
  const body = chaosBody('4-2', 128);
  for (const at of [10, 64, 127]) {
    const copy = Buffer.from(body);
    copy[at] = (copy[at] ?? 0) ^ 0x01;
    t.same(readChaosBody(copy), { id: '4-2', intact: false }, `byte ${at}`);
  }
  // The body does not record its length, so a cut one reads as a shorter intact body:
  // whoever reads it must compare the size with the size sent.
  t.same(readChaosBody(body.subarray(0, 100)), { id: '4-2', intact: true }, 'a truncated body');
  const renamed = Buffer.from(body);
  renamed[0] = '5'.charCodeAt(0);
  t.same(readChaosBody(renamed), { id: '5-2', intact: false }, 'a flipped id byte names another id, whose bytes differ');
});

t.test('a foreign body names no id', async (t) => {
  const foreign = [Buffer.from('hello world'), Buffer.from('hello\nworld'), Buffer.alloc(0), Buffer.from('\n1-2'), Buffer.from(`${'1'.repeat(70)}-2\nxx`), Buffer.from('1-2')];
  for (const body of foreign) t.same(readChaosBody(body), { id: '', intact: false }, JSON.stringify(body.toString('latin1')));
});
