import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { pino } from 'pino';
import { Acl, type Account } from '../../src/server/auth/acl.js';
import { AclFile } from '../../src/server/auth/acl_file.js';
import { ReplayGuard, replay_guard_limits } from '../../src/server/auth/replay_guard.js';

/**
 * The ACL model: parsing (strict: every bad field named), permissions per topic and group
 * with defaults, admin, allowed addresses, a group's retry topics; the replay guard; and the
 * ACL file reloaded when it changes, a bad edit keeping the ACL in force.
 */

const quiet = pino({ level: 'silent' });

function account(fields: Partial<Account> & { accessKey: string }): Record<string, unknown> {
  return { secretKey: `${fields.accessKey}-secret`, ...fields };
}

const acl = Acl.parse({
  accounts: [
    account({ accessKey: 'orders-app', topicPerms: { Orders: 'PUB|SUB', Audit: 'SUB', Secret: 'DENY' }, groupPerms: { billing: 'SUB' }, defaultTopicPerm: 'PUB', defaultGroupPerm: 'DENY', allowAddresses: ['127.0.0.1', '10.1.0.0/16'] }),
    account({ accessKey: 'reader', defaultTopicPerm: 'SUB', defaultGroupPerm: 'SUB' }),
    account({ accessKey: 'operator', admin: true }),
    account({ accessKey: 'nobody' }),
  ],
});

t.test('permissions: listed topics and groups, defaults, admin, retry topics follow their group', async (t) => {
  const orders = acl.account('orders-app') as Account;
  const cases: Array<[string, boolean]> = [
    ['PUB Orders', acl.permits(orders, { kind: 'topic', topic: 'Orders', perm: 'PUB' })],
    ['SUB Orders', acl.permits(orders, { kind: 'topic', topic: 'Orders', perm: 'SUB' })],
    ['PUB Audit', acl.permits(orders, { kind: 'topic', topic: 'Audit', perm: 'PUB' })],
    ['SUB Audit', acl.permits(orders, { kind: 'topic', topic: 'Audit', perm: 'SUB' })],
    ['SUB Secret', acl.permits(orders, { kind: 'topic', topic: 'Secret', perm: 'SUB' })],
    ['PUB Unlisted (default PUB)', acl.permits(orders, { kind: 'topic', topic: 'Unlisted', perm: 'PUB' })],
    ['SUB Unlisted (default PUB)', acl.permits(orders, { kind: 'topic', topic: 'Unlisted', perm: 'SUB' })],
    ['group billing', acl.permits(orders, { kind: 'group', group: 'billing' })],
    ['group other (default DENY)', acl.permits(orders, { kind: 'group', group: 'other' })],
    ['SUB %RETRY%billing (its group)', acl.permits(orders, { kind: 'topic', topic: '%RETRY%billing', perm: 'SUB' })],
    ['SUB %RETRY%other', acl.permits(orders, { kind: 'topic', topic: '%RETRY%other', perm: 'SUB' })],
    ['admin', acl.permits(orders, { kind: 'admin' })],
  ];
  t.same(cases, [
    ['PUB Orders', true], ['SUB Orders', true], ['PUB Audit', false], ['SUB Audit', true], ['SUB Secret', false],
    ['PUB Unlisted (default PUB)', true], ['SUB Unlisted (default PUB)', false], ['group billing', true], ['group other (default DENY)', false],
    ['SUB %RETRY%billing (its group)', true], ['SUB %RETRY%other', false], ['admin', false],
  ]);
  const operator = acl.account('operator') as Account;
  t.ok(acl.permits(operator, { kind: 'admin' }) && acl.permits(operator, { kind: 'topic', topic: 'Secret', perm: 'PUB' }), 'an admin may do everything');
  const nobody = acl.account('nobody') as Account;
  t.notOk(acl.permits(nobody, { kind: 'topic', topic: 'Orders', perm: 'SUB' }) || acl.permits(nobody, { kind: 'group', group: 'billing' }), 'defaults are DENY when not given');
  t.equal(acl.account('missing'), undefined);
});

t.test('allowed addresses: addresses and CIDR blocks, IPv4-mapped IPv6; no list allows any', async (t) => {
  t.same(['127.0.0.1', '::ffff:127.0.0.1', '10.1.200.3', '10.2.0.1', '::1', 'garbage'].map((address) => acl.addressAllowed('orders-app', address)), [true, true, true, false, false, false]);
  t.ok(acl.addressAllowed('reader', '203.0.113.9'), 'no list: any address');
  t.notOk(acl.addressAllowed('missing', '127.0.0.1'), 'no account: no address');
});

t.test('parsing is strict: each mistake is named', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [[], /not a JSON object/],
    [{ accounts: [], extra: 1 }, /unknown field "extra"/],
    [{ accounts: [{ accessKey: 'ab', secretKey: 'secret1' }] }, /access key must be 3 to 128/],
    [{ accounts: [{ accessKey: 'abc', secretKey: 'has space' }] }, /secret key must be/],
    [{ accounts: [account({ accessKey: 'dup' }), account({ accessKey: 'dup' })] }, /appears twice/],
    [{ accounts: [{ ...account({ accessKey: 'abc' }), topicPerms: { Orders: 'WRITE' } }] }, /topicPerms\.Orders is "WRITE"; use one of DENY, PUB, SUB, PUB\|SUB/],
    [{ accounts: [{ ...account({ accessKey: 'abc' }), groupPerms: { g: 'PUB' } }] }, /groupPerms\.g is "PUB"; use one of DENY, SUB/],
    [{ accounts: [{ ...account({ accessKey: 'abc' }), topicPerms: { 'bad topic': 'SUB' } }] }, /"bad topic" is no valid topic name/],
    [{ accounts: [{ ...account({ accessKey: 'abc' }), allowAddresses: ['10.0.0.0/33'] }] }, /bad prefix length/],
    [{ accounts: [{ ...account({ accessKey: 'abc' }), allowAddresses: ['example.com'] }] }, /no IP address or CIDR block/],
    [{ accounts: [{ ...account({ accessKey: 'abc' }), admin: 'yes' }] }, /admin is not true or false/],
    [{ accounts: [{ ...account({ accessKey: 'abc' }), secretkey: 'x' }] }, /unknown field "secretkey"/],
  ];
  for (const [value, message] of bad) t.throws(() => Acl.parse(value), { message }, JSON.stringify(value).slice(0, 60));
  t.same(Acl.parse(acl.toJson()).toJson(), acl.toJson(), 'what the file writes parses back the same');
});

t.test('the replay guard: a session\'s numbers only grow; old sessions age out; the table is bounded', async (t) => {
  const guard = new ReplayGuard(1_000);
  t.same([guard.check('s1', 1, 0), guard.check('s1', 2, 0), guard.check('s1', 2, 0), guard.check('s1', 1, 0), guard.check('s2', 1, 0), guard.check('s1', 5, 0)], ['fresh', 'fresh', 'replayed', 'replayed', 'fresh', 'fresh']);
  // Sessions not seen for twice the window go as new ones arrive.
  for (let index = 0; index < 64; index++) guard.check(`later-${index}`, 1, 10_000);
  t.ok(guard.size < 64 + 2, `old sessions pruned (${guard.size} left)`);
  t.equal(guard.check('s1', 6, 10_000), 'fresh');
  const full = new ReplayGuard(1_000_000);
  for (let index = 0; index < replay_guard_limits.sessions_max; index++) full.check(`s${index}`, 1, 0);
  t.equal(full.check('one-more', 1, 1), 'full', 'no new session beyond the bound while all are recent');
  t.equal(full.check('s7', 2, 1), 'fresh', 'known sessions go on');
});

t.test('the ACL file: reloaded when it changes; a bad edit keeps the ACL in force; replace writes it whole', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mq-acl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file_path = path.join(dir, 'acl.json');
  writeFileSync(file_path, JSON.stringify({ accounts: [account({ accessKey: 'first' })] }));
  const file = AclFile.open(file_path, quiet);
  t.teardown(() => file.close());
  t.ok(file.acl.account('first'));
  t.notOk(file.reloadIfChanged(), 'unchanged: nothing to do');
  writeFileSync(file_path, JSON.stringify({ accounts: [account({ accessKey: 'first' }), account({ accessKey: 'second' })] }));
  t.ok(file.reloadIfChanged(), 'changed: reloaded');
  t.ok(file.acl.account('second'));
  writeFileSync(file_path, '{ "accounts": [ { "accessKey": "third" ');
  t.notOk(file.reloadIfChanged(), 'a broken file is not applied');
  t.ok(file.acl.account('second') && file.acl.account('third') === undefined, 'the ACL in force stays');
  file.replace(file.acl.withAccount({ accessKey: 'fourth', secretKey: 'fourth-secret', admin: false, allowAddresses: [], defaultTopicPerm: 'SUB', defaultGroupPerm: 'DENY', topicPerms: {}, groupPerms: {} }));
  t.same(AclFile.open(file_path, quiet).acl.list().map((entry) => entry.accessKey), ['first', 'fourth', 'second'], 'replace wrote the ACL in force plus the new account');
  t.throws(() => AclFile.open(path.join(dir, 'missing.json'), quiet), { message: /cannot read the ACL file/ });
});
