import type { IncomingMessage } from 'node:http';
import { httpsGet } from '../helpers/https_get.js';
import t from 'tap';
import { AdminAuth, admin_auth_limits, basicAuthorization, basicCredentials } from '../../src/admin/admin_auth.js';
import { AdminServer } from '../../src/admin/admin_server.js';
import type { AdminSource } from '../../src/admin/admin_source.js';
import { nodeServerOptions } from '../../src/tls/node_tls.js';
import { makeTestCertificates, tls_skip } from '../helpers/test_certificates.js';
import { ManualClock } from '../../src/runtime/clock.js';
import type { Logger } from '../../src/runtime/log.js';
import { Acl } from '../../src/server/auth/acl.js';

/**
 * AdminAuth without a server: the Basic header parsed as RFC 7617 says (a password may hold
 * colons and any UTF-8), each verdict for each kind of caller, and the refusal log limited to
 * one line per reason per second on a manual clock. Then the admin server's start: a warning
 * when the ACL is on over plain http, none over https, where Basic authentication works.
 */

const acl = Acl.parse({
  accounts: [
    { accessKey: 'operator', secretKey: 'operator-secret-0123456789', admin: true },
    { accessKey: 'viewer', secretKey: 'viewer-secret-0123456789' },
    { accessKey: 'lan-admin', secretKey: 'lan-admin-secret-0123456789', admin: true, allowAddresses: ['10.0.0.0/8'] },
  ],
});

function requestFrom(remote: string, authorization?: string): IncomingMessage {
  return { socket: { remoteAddress: remote }, headers: authorization === undefined ? {} : { authorization } } as unknown as IncomingMessage;
}

/** A logger keeping its warnings: their fields, or `{ msg }` for a bare message. */
function recordingLog(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const record = (fields: Record<string, unknown> | string): number => lines.push(typeof fields === 'string' ? { msg: fields } : fields);
  return { lines, log: { warn: record, error: record } as unknown as Logger };
}

t.test('basicCredentials: user before the first colon, the rest the password', async (t) => {
  t.same(basicCredentials(basicAuthorization('operator', 'a:b:c')), { access_key: 'operator', secret_key: 'a:b:c' });
  t.same(basicCredentials(basicAuthorization('operator', 'pässwörd✓')), { access_key: 'operator', secret_key: 'pässwörd✓' }, 'UTF-8, as the challenge\'s charset says');
  t.same(basicCredentials(`basic  ${Buffer.from('k:s').toString('base64')} `), { access_key: 'k', secret_key: 's' }, 'the scheme in any case, spaces around');
  for (const header of [undefined, '', 'Basic', 'Basic !!!', 'Bearer azpz', `Basic ${Buffer.from('no-colon').toString('base64')}`, `Basic ${Buffer.from(':only-password').toString('base64')}`]) {
    t.equal(basicCredentials(header), undefined, `no credentials in ${JSON.stringify(header)}`);
  }
});

t.test('verdicts: 401 without or with wrong credentials, 403 for the wrong account or address', async (t) => {
  const auth = new AdminAuth({ acl: () => acl, clock: new ManualClock() });
  const check = (remote: string, key?: string, secret?: string): unknown => {
    const verdict = auth.check(requestFrom(remote, key === undefined ? undefined : basicAuthorization(key, secret ?? '')));
    return verdict.ok ? 'ok' : verdict.status;
  };
  t.equal(check('127.0.0.1', 'operator', 'operator-secret-0123456789'), 'ok');
  t.equal(check('::ffff:127.0.0.1', 'operator', 'operator-secret-0123456789'), 'ok', 'an IPv4-mapped address');
  t.equal(check('127.0.0.1'), 401, 'no header');
  t.equal(check('127.0.0.1', 'operator', 'operator-secret-012345678'), 401, 'a secret one character short');
  t.equal(check('127.0.0.1', 'operator', 'operator-secret-0123456789x'), 401, 'one character long');
  t.equal(check('127.0.0.1', 'nobody', 'operator-secret-0123456789'), 401, 'an unknown key');
  t.equal(check('127.0.0.1', 'viewer', 'viewer-secret-0123456789'), 403, 'a non-admin account');
  t.equal(check('127.0.0.1', 'lan-admin', 'lan-admin-secret-0123456789'), 403, 'an admin from outside its addresses');
  t.equal(check('10.1.2.3', 'lan-admin', 'lan-admin-secret-0123456789'), 'ok', 'and from inside them');
  t.equal(check('10.1.2.3', 'lan-admin', 'wrong-secret-0123456789'), 401, 'a wrong secret is 401 before the address is looked at');
});

t.test('the ACL is read per request', async (t) => {
  let in_force = Acl.empty();
  const auth = new AdminAuth({ acl: () => in_force });
  const request = requestFrom('127.0.0.1', basicAuthorization('operator', 'operator-secret-0123456789'));
  t.match(auth.check(request), { ok: false, status: 401 });
  in_force = acl;
  t.match(auth.check(request), { ok: true, access_key: 'operator' });
});

t.test('refusals are logged once a second per reason, whatever the made-up keys', async (t) => {
  const clock = new ManualClock(5_000);
  const { log, lines } = recordingLog();
  const auth = new AdminAuth({ acl: () => acl, log, clock });
  for (let index = 0; index < 100; index++) auth.check(requestFrom('127.0.0.1', basicAuthorization(`made-up-${index}`, 'whatever-secret')));
  for (let index = 0; index < 100; index++) auth.check(requestFrom('127.0.0.1'));
  for (let index = 0; index < 100; index++) auth.check(requestFrom('127.0.0.1', basicAuthorization('viewer', 'viewer-secret-0123456789')));
  t.same(lines.map((line) => line['reason']), ['unknown access key', 'no credentials', 'account "viewer" is not an admin account'], 'one line per reason');
  t.match(lines[0], { account: 'made-up-0', remote: '127.0.0.1', listener: 'admin' });
  clock.advance(admin_auth_limits.refusal_log_interval_ms - 1);
  auth.check(requestFrom('127.0.0.1'));
  t.equal(lines.length, 3, 'not again within the interval');
  clock.advance(1);
  auth.check(requestFrom('127.0.0.1'));
  auth.check(requestFrom('127.0.0.1', basicAuthorization('operator', 'wrong-secret-0123456789')));
  t.same(lines.slice(3).map((line) => line['reason']), ['no credentials', 'wrong secret key for account "operator"'], 'again after it; a wrong secret under its own reason');
});

t.test('the admin server warns once about Basic authentication over http; over https it does not, and serves an admin', async (t) => {
  const source: AdminSource = { listActors: async () => [], health: async () => ({ ok: true }) };
  const plain = recordingLog();
  const http_server = await AdminServer.start({ host: '127.0.0.1', port: 0, source, log: plain.log, acl: () => acl });
  t.teardown(() => http_server.close());
  t.equal(plain.lines.filter((line) => /plain http while access control is on.*--tls-cert/.test(String(line['msg']))).length, 1, 'plain http with the ACL: one warning naming --tls-cert');
  const open = recordingLog();
  const open_server = await AdminServer.start({ host: '127.0.0.1', port: 0, source, log: open.log });
  t.teardown(() => open_server.close());
  t.same(open.lines, [], 'without the ACL: no warning');

  t.test('over https', { skip: tls_skip }, async (t) => {
    const certs = makeTestCertificates(t);
    const secure = recordingLog();
    const https_server = await AdminServer.start({ host: '127.0.0.1', port: 0, source, log: secure.log, acl: () => acl, tls: nodeServerOptions({ cert: certs.server.cert, key: certs.server.key, ca: null }) });
    t.teardown(() => https_server.close());
    t.same(secure.lines, [], 'no warning');
    const get = (authorization?: string): Promise<{ status: number; body: string }> =>
      httpsGet(`https://127.0.0.1:${https_server.address.port}/api/actors`, { ca: certs.ca, headers: authorization === undefined ? {} : { authorization } });
    t.equal((await get()).status, 401, 'without credentials: 401');
    t.same(await get(basicAuthorization('operator', 'operator-secret-0123456789')), { status: 200, body: '{"actors":[]}\n' }, 'an admin account: the actors');
  });
});
