import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { pino } from 'pino';
import * as p from '../../src/protocol/index.js';
import { HaAccess, ha_access_off, type HaAccessArgs, type HaHelloVerdict } from '../../src/actors/replicator/ha_access.js';
import { ManualClock } from '../../src/runtime/clock.js';
import { until } from '../client/client_helpers.js';
import { tempDir } from '../storage/commit_log_helpers.js';

/**
 * The HA port's access piece on its own (no worker, no socket): a slave's signed hello passes
 * a master with the same ACL; unsigned, unknown, wrong-secret, non-admin, other-group,
 * out-of-window, wrong-address and replayed hellos are refused with ACCESS_DENIED and the
 * account named; without an ACL file every hello passes; an edit of the file applies without
 * a restart.
 */

const quiet = pino({ level: 'silent' });
const window_ms = 10_000;
const group = { cluster: 'c1', broker_name: 'b1' };
const start_ms = 1_700_000_000_000;
const node = { accessKey: 'node-admin', secretKey: 'node-admin-secret' };
const reader = { accessKey: 'reader', secretKey: 'reader-secret' };
const fenced = { accessKey: 'fenced-admin', secretKey: 'fenced-admin-secret' };

function aclJson(extra: Array<Record<string, unknown>> = []): string {
  return JSON.stringify({
    accounts: [
      { ...node, admin: true },
      { ...reader, defaultTopicPerm: 'PUB|SUB', defaultGroupPerm: 'SUB' },
      { ...fenced, admin: true, allowAddresses: ['10.9.9.9'] },
      ...extra,
    ],
  });
}

function helloBody(): Uint8Array {
  return p.encodeHaHelloRequest({ version: p.ha_protocol_version, cluster: group.cluster, brokerName: group.broker_name, brokerId: 1, epoch: 0, maxOffset: 0, segmentBytes: 1 << 20 });
}

function open(t: Test, ha_access: HaAccessArgs, clock: ManualClock, where = group): HaAccess {
  const access = HaAccess.open({ ha_access, ...where }, quiet, clock);
  t.teardown(() => access.close());
  return access;
}

/** A hello as a slave with `credentials` (or none) sends it, signed at the clock's time. */
function hello(t: Test, credentials: { accessKey: string; secretKey: string } | null, clock: ManualClock, where = group): p.Envelope {
  const body = helloBody();
  const slave = open(t, { ...ha_access_off, credentials }, clock, where);
  return p.requestEnvelope(p.ha_codes.HA_HELLO, 1, body, { headers: slave.signHello(body) });
}

function refusal(verdict: HaHelloVerdict): string {
  return verdict.ok ? 'accepted' : `${verdict.error.code} [${verdict.account}]: ${verdict.error.message}`;
}

t.test('a master with an ACL file: only a fresh hello signed by an admin account passes', async (t) => {
  const acl_path = path.join(tempDir(t), 'acl.json');
  writeFileSync(acl_path, aclJson());
  const clock = new ManualClock(start_ms);
  const master = open(t, { acl_file: acl_path, acl_window_ms: window_ms, credentials: null }, clock);
  t.equal(master.server_id, 'ha:c1/b1', 'the hellos are signed for the group\'s HA port');

  const signed = hello(t, node, clock);
  t.same(Object.keys(signed.headers).sort(), Object.values(p.signature_headers).sort(), 'the hello carries the signature headers');
  t.equal(signed.headers[p.signature_headers.seq], '1');
  t.equal(refusal(master.checkHello(signed, '127.0.0.1')), 'accepted', 'an admin account\'s hello');
  t.match(refusal(master.checkHello(signed, '127.0.0.1')), /^ACCESS_DENIED \[node-admin\]: .*seen before \(a replay\)/, 'the same hello again: a replay');
  t.equal(refusal(master.checkHello(hello(t, node, clock), '127.0.0.1')), 'accepted', 'a new connection\'s hello (a new session) passes again');

  t.match(refusal(master.checkHello(hello(t, null, clock), '127.0.0.1')), /^ACCESS_DENIED \[\]: the request is not signed/, 'unsigned');
  t.match(refusal(master.checkHello(hello(t, { accessKey: 'nobody', secretKey: 'nobody-secret' }, clock), '127.0.0.1')), /^ACCESS_DENIED \[nobody\]: access key "nobody" is unknown here, or the signature does not match/, 'an unknown account');
  t.match(refusal(master.checkHello(hello(t, { accessKey: node.accessKey, secretKey: 'not-the-secret' }, clock), '127.0.0.1')), /^ACCESS_DENIED \[node-admin\]: access key "[^"]+" is unknown here, or the signature does not match/, 'a wrong secret');
  t.match(refusal(master.checkHello(hello(t, reader, clock), '127.0.0.1')), /^ACCESS_DENIED \[reader\]: account "reader" is not an admin account: a replica copies every topic/, 'a non-admin account');
  t.match(refusal(master.checkHello(hello(t, node, clock, { cluster: 'c1', broker_name: 'b2' }), '127.0.0.1')), /^ACCESS_DENIED \[node-admin\]: access key "[^"]+" is unknown here, or the signature does not match/, 'signed for another group\'s HA port');
  t.match(refusal(master.checkHello(hello(t, fenced, clock), '127.0.0.1')), /^ACCESS_DENIED \[fenced-admin\]: account "fenced-admin" may not connect from 127.0.0.1/, 'an admin account from an address it may not use');
  t.equal(refusal(master.checkHello(hello(t, fenced, clock), '10.9.9.9')), 'accepted', 'and from its address');

  const stale = hello(t, node, clock);
  clock.advance(window_ms + 1);
  t.match(refusal(master.checkHello(stale, '127.0.0.1')), /^ACCESS_DENIED \[node-admin\]: .*more than 10000 ms from this node's clock/, 'signed longer ago than the window');

  const altered = hello(t, node, clock);
  const tampered = { ...altered, body: p.encodeHaHelloRequest({ version: p.ha_protocol_version, cluster: group.cluster, brokerName: group.broker_name, brokerId: 9, epoch: 0, maxOffset: 0, segmentBytes: 1 << 20 }) };
  t.match(refusal(master.checkHello(tampered, '127.0.0.1')), /signature does not match/, 'a hello whose body was changed on its way');
  const other_code = { ...hello(t, node, clock), code: p.ha_codes.HA_ACK };
  t.match(refusal(master.checkHello(other_code, '127.0.0.1')), /signature does not match/, 'a hello turned into another frame');
});

t.test('without an ACL file every hello passes, signed or not; without an account nothing is signed', async (t) => {
  const clock = new ManualClock(start_ms);
  const master = open(t, ha_access_off, clock);
  t.equal(master.access_key, undefined);
  t.same(master.signHello(helloBody()), {}, 'no account: no headers');
  t.equal(refusal(master.checkHello(hello(t, null, clock), '127.0.0.1')), 'accepted', 'unsigned');
  const signed = hello(t, node, clock);
  t.equal(refusal(master.checkHello(signed, '127.0.0.1')), 'accepted', 'signed');
  t.equal(refusal(master.checkHello(signed, '127.0.0.1')), 'accepted', 'no replay table without access control');
});

t.test('an edit of the ACL file applies to the next hello, without a restart', async (t) => {
  const acl_path = path.join(tempDir(t), 'acl.json');
  writeFileSync(acl_path, aclJson());
  const clock = new ManualClock(start_ms);
  const master = open(t, { acl_file: acl_path, acl_window_ms: window_ms, credentials: null }, clock);
  const late = { accessKey: 'late-replica', secretKey: 'late-replica-secret' };
  t.match(refusal(master.checkHello(hello(t, late, clock), '127.0.0.1')), /access key "late-replica" is unknown here, or the signature does not match/, 'before the edit');
  writeFileSync(acl_path, aclJson([{ ...late, admin: true }]));
  // The file is looked at every second (acl_file.ts), on this thread's own timer.
  await until('the edited ACL applies', () => (master.checkHello(hello(t, late, clock), '127.0.0.1').ok ? true : undefined), 5_000);
  t.pass('after the edit, the new admin account replicates');
});

t.test('a bad ACL file refuses every hello until it reads again; revocation ends what was allowed', async (t) => {
  const acl_path = path.join(tempDir(t), 'acl.json');
  writeFileSync(acl_path, '{"accounts": [{"accessKey": "x"}]}');
  const clock = new ManualClock(start_ms);
  const master = open(t, { acl_file: acl_path, acl_window_ms: window_ms, credentials: null }, clock);
  t.match(refusal(master.checkHello(hello(t, node, clock), '127.0.0.1')), /^ACCESS_DENIED \[node-admin\]: access key "node-admin" is unknown here/, 'a replicator started on a bad file refuses, it does not fail');
  writeFileSync(acl_path, aclJson());
  await until('the repaired file applies', () => (master.checkHello(hello(t, node, clock), '127.0.0.1').ok ? true : undefined), 5_000);
  t.equal(master.stillAllowed(node.accessKey, '127.0.0.1'), true, 'an admin from an allowed address may go on');
  t.equal(master.stillAllowed(fenced.accessKey, '127.0.0.1'), false, 'an address the account does not allow may not');
  writeFileSync(acl_path, JSON.stringify({ accounts: [{ ...node, admin: false }] }));
  await until('the demotion applies', () => (master.stillAllowed(node.accessKey, '127.0.0.1') ? undefined : true), 5_000);
  t.pass('an account no longer admin loses its stream at the next tick');
  const open_master = open(t, ha_access_off, clock);
  t.equal(open_master.stillAllowed('', '127.0.0.1'), true, 'without access control every stream goes on');
});
