import t from 'tap';
import * as p from '../../src/protocol/index.js';

t.test('valid topic and group names', async (t) => {
  for (const name of ['T', 'OrderEvents', 'order_events-2', '%RETRY%billing', '%DLQ%billing', 'a|b', '0', 'x'.repeat(127)]) {
    t.equal(p.isValidName(name), true, name);
    t.equal(p.checkName('topic', name), undefined, name);
  }
});

t.test('invalid names are refused with the reason', async (t) => {
  const cases: [unknown, RegExp][] = [
    ['', /it is empty/],
    ['x'.repeat(128), /128 characters, more than 127/],
    ['has space', /contains " "/],
    ['dot.ted', /contains "\."/],
    ['slash/ed', /contains "\/"/],
    ['ünïcode', /contains "ü"/],
    ['emoji😀', /contains "😀"/],
    ['new\nline', /contains "\\n"/],
    [42, /it is number, not a string/],
    [undefined, /it is undefined/],
  ];
  for (const [name, reason] of cases) {
    t.equal(p.isValidName(name), false, String(name));
    const error = p.checkName('group', name);
    t.equal(error?.code, 'INVALID_NAME', String(name));
    t.match(error?.message, reason, String(name));
    t.match(error?.message, /^group name .* is invalid: .*; use 1 to 127 of A-Z a-z 0-9 _ % \| -$/);
  }
  t.match(p.checkName('topic', 'y'.repeat(200))?.message, /"y{37}\.\.\."/, 'long names are shortened in the message');
});

t.test('message size limits: body and properties', async (t) => {
  const fits = { body: Buffer.alloc(p.body_bytes_max), properties: { k: 'v'.repeat(p.properties_bytes_max - 1) } };
  t.equal(p.checkMessageSize(fits), undefined, 'exactly at both limits');
  const big_body = p.checkMessageSize({ body: Buffer.alloc(p.body_bytes_max + 1), properties: {} });
  t.equal(big_body?.code, 'MESSAGE_TOO_LARGE');
  t.match(big_body?.message, /body is 4194305 bytes, more than the limit 4194304/);
  const big_properties = p.checkMessageSize({ body: Buffer.alloc(1), properties: { k: 'v'.repeat(p.properties_bytes_max) } });
  t.match(big_properties?.message, /properties take 32769 bytes, more than the limit 32768/);
  t.equal(p.checkMessageSize({ body: Buffer.alloc(11), properties: {} }, { body_bytes_max: 10, properties_bytes_max: 10 })?.code, 'MESSAGE_TOO_LARGE', 'configured limits');
});

t.test('properties are counted in UTF-8 bytes of keys and values', async (t) => {
  t.equal(p.propertiesBytes({}), 0);
  t.equal(p.propertiesBytes({ ab: 'cde' }), 5);
  t.equal(p.propertiesBytes({ 'é': '😀' }), 2 + 4);
});
