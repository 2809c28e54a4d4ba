import t from 'tap';
import { checkTag, messageTagHash, no_tag_hash, parseSubscription, tag_limits, tagFilterAccepts, tagHash } from '../../src/storage/tag_hash.js';

t.test('tag hash: 32-bit FNV-1a of the UTF-8 bytes, as clients compute it', async (t) => {
  // Published FNV-1a 32 check values.
  t.equal(tagHash(''), 0x811c9dc5);
  t.equal(tagHash('a'), 0xe40c292c);
  t.equal(tagHash('foobar'), 0xbf9cf968);
  t.equal(tagHash('é'), fnv1a(Buffer.from('é', 'utf8')), 'non-ASCII tags hash their UTF-8 bytes');
  t.equal(tagHash('订单-✓'), fnv1a(Buffer.from('订单-✓', 'utf8')));
  for (const tag of ['TagA', 'orders', 'x'.repeat(255)]) {
    const hash = tagHash(tag);
    t.ok(Number.isInteger(hash) && hash >= 0 && hash < 2 ** 32, `${tag.slice(0, 10)}: a non-negative 32-bit number`);
  }
  t.equal(messageTagHash(null), no_tag_hash);
  t.equal(messageTagHash('a'), tagHash('a'));
});

t.test('subscription expressions', async (t) => {
  for (const all of ['*', ' * ', '', '   ']) {
    const subscription = parseSubscription(all);
    t.equal(subscription.filter, '*', `${JSON.stringify(all)} subscribes to everything`);
    t.same(subscription.tags, []);
  }
  const two = parseSubscription('a||b');
  t.same(two.tags, ['a', 'b']);
  t.same([...(two.filter as ReadonlySet<number>)], [tagHash('a'), tagHash('b')]);
  t.same(parseSubscription('  red ||  green||red|| ||blue ').tags, ['red', 'green', 'blue'], 'whitespace and empty pieces tolerated, duplicates dropped');
  t.ok(tagFilterAccepts(two.filter, tagHash('b')));
  t.notOk(tagFilterAccepts(two.filter, tagHash('c')));
  t.notOk(tagFilterAccepts(two.filter, no_tag_hash), 'a message without a tag only goes to *');
  t.ok(tagFilterAccepts('*', no_tag_hash));

  t.throws(() => parseSubscription('a||*'), { code: 'BAD_REQUEST', message: /mixes "\*" with tags/ });
  t.throws(() => parseSubscription('a|b'), { code: 'BAD_REQUEST', message: /single "\|".*separate tags with "\|\|"/ });
  t.throws(() => parseSubscription(' || '), { code: 'BAD_REQUEST', message: /names no tag/ });
  t.throws(() => parseSubscription('x'.repeat(tag_limits.tag_bytes_max + 1)), { code: 'BAD_REQUEST', message: /at most 255/ });
  const many = Array.from({ length: tag_limits.subscription_tags_max + 1 }, (_, index) => `t${index}`).join('||');
  t.throws(() => parseSubscription(many), { code: 'BAD_REQUEST', message: /more than 64 tags/ });
  t.equal(parseSubscription(Array.from({ length: 64 }, (_, index) => `t${index}`).join('||')).tags.length, 64, 'exactly the bound is fine');
  t.throws(() => parseSubscription('a'.repeat(tag_limits.subscription_expression_chars_max + 1)), { code: 'BAD_REQUEST', message: /characters/ }, 'an overlong expression is refused before it is split');
});

t.test('tags a producer may give', async (t) => {
  t.doesNotThrow(() => checkTag('orders-eu'));
  for (const bad of ['', ' a', 'a ', 'a|b', '*', 'x'.repeat(256)]) t.throws(() => checkTag(bad), { code: 'BAD_REQUEST' }, JSON.stringify(bad.slice(0, 10)));
});

function fnv1a(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash;
}
