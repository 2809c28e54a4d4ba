import { EventEmitter } from 'node:events';
import type tls from 'node:tls';
import t from 'tap';
import { resolveTls } from '../../src/client/client_options.js';
import type { Logger } from '../../src/runtime/log.js';
import { nodeTrustsPartialChains } from '../../src/server/config_tls.js';
import { nodeDialOptions, nodeServerOptions } from '../../src/tls/node_tls.js';
import { describeDialError } from '../../src/tls/tls_dial.js';
import { logHandshakeFailures, tls_listener_limits } from '../../src/tls/tls_listener.js';

/** The TLS pieces that need no network: log bounds, error wording, option checks. */

function codeError(message: string, code: string, reason?: string): Error {
  return Object.assign(new Error(message), { code, ...(reason === undefined ? {} : { reason }) });
}

t.test('failed handshakes are logged one line each, at most lines_per_interval_max per interval; the rest are counted', async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const log = { warn: (fields: Record<string, unknown>) => lines.push(fields) } as unknown as Logger;
  const server = new EventEmitter() as unknown as tls.Server;
  let now_ms = 0;
  logHandshakeFailures(server, { log, listener: 'broker' }, () => now_ms);
  const socket = { remoteAddress: '10.0.0.9', remotePort: 4242 };
  const failures = tls_listener_limits.lines_per_interval_max + 5;
  for (let index = 0; index < failures; index++) server.emit('tlsClientError', codeError('long openssl text', 'ERR_SSL_WRONG_VERSION_NUMBER', 'wrong version number'), socket);
  t.equal(lines.length, tls_listener_limits.lines_per_interval_max, 'no more lines than the bound');
  t.match(lines[0], { listener: 'broker', remote: '10.0.0.9:4242', reason: 'wrong version number', code: 'ERR_SSL_WRONG_VERSION_NUMBER', suppressed_before: 0 });
  now_ms += tls_listener_limits.interval_ms;
  server.emit('tlsClientError', codeError('socket hang up', 'ECONNRESET'), {});
  t.equal(lines.length, tls_listener_limits.lines_per_interval_max + 1, 'the next interval logs again');
  t.match(lines.at(-1), { remote: 'gone', reason: 'socket hang up', suppressed_before: 5 }, 'with the count left out before it');
});

t.test('a failed dial says what to check', async (t) => {
  t.match(describeDialError(codeError('unable to verify the first certificate', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'), true), /^TLS certificate verify failed: unable to verify the first certificate \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\); .*tls\.ca/);
  t.match(describeDialError(codeError("Host: x. is not in the cert's altnames", 'ERR_TLS_CERT_ALTNAME_INVALID'), true), /^TLS certificate verify failed: .*ERR_TLS_CERT_ALTNAME_INVALID/);
  t.match(describeDialError(codeError('80:error:0A00045C:SSL routines:...', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'tlsv13 alert certificate required'), true), /^TLS handshake failed: tlsv13 alert certificate required \(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED\); .*tls\.cert and tls\.key$/);
  t.match(describeDialError(codeError('Client network socket disconnected before secure TLS connection was established', 'ECONNRESET'), true), /does the server run TLS/);
  t.equal(describeDialError(codeError('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED'), false), 'connect ECONNREFUSED 127.0.0.1:1', 'a plain dial keeps Node\'s message');
  t.equal(describeDialError(codeError('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED'), true), 'TLS handshake failed: connect ECONNREFUSED 127.0.0.1:1');
});

t.test('the SDK tls option: checked, and true means the system CAs', async (t) => {
  t.equal(resolveTls(undefined), undefined);
  t.equal(resolveTls(false), undefined);
  t.same(resolveTls(true), {});
  t.same(resolveTls({ ca: 'A', cert: 'C', key: 'K', servername: 'mq.example', rejectUnauthorized: true }), { ca: 'A', cert: 'C', key: 'K', servername: 'mq.example', rejectUnauthorized: true });
  t.throws(() => resolveTls({ key: 'K' }), { code: 'BAD_REQUEST', message: /tls\.cert and tls\.key go together/ });
  t.throws(() => resolveTls({ ca: [1] as unknown as string[] }), { code: 'BAD_REQUEST', message: /tls\.ca must be/ });
  t.throws(() => resolveTls({ servername: '' }), { code: 'BAD_REQUEST', message: /tls\.servername/ });
  t.throws(() => resolveTls('yes' as unknown as boolean), { code: 'BAD_REQUEST', message: /tls must be true, false or an object/ });
});

t.test('a node: its listeners require client certificates only with a CA; it dials trusting the CA (or the system\'s) and itself', async (t) => {
  const own = { cert: 'CERT', key: 'KEY', ca: null };
  t.match(nodeServerOptions(own), { cert: 'CERT', key: 'KEY', requestCert: false, rejectUnauthorized: false });
  t.match(nodeServerOptions({ ...own, ca: 'CA' }), { ca: 'CA', requestCert: true, rejectUnauthorized: true });
  const dial = nodeDialOptions(own);
  t.equal(dial, nodeDialOptions(own), 'the same options for the same material (its TLS context is built once)');
  t.equal((dial.ca as string[]).at(-1), 'CERT', 'its own certificate is a trust anchor');
  t.ok((dial.ca as string[]).length > 1, 'besides the system CAs');
  t.same(nodeDialOptions({ ...own, ca: 'CA' }).ca, ['CA', 'CERT'], 'with a CA: only the CA and itself');
  t.ok(nodeTrustsPartialChains('20.18.0') && nodeTrustsPartialChains('22.9.0') && nodeTrustsPartialChains('24.0.0'));
  t.notOk(nodeTrustsPartialChains('20.17.9') || nodeTrustsPartialChains('21.7.0') || nodeTrustsPartialChains('22.8.0'));
});
