import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { makeTestCertificates, tls_skip } from '../helpers/test_certificates.js';
import { runCli } from './node_process.js';

/**
 * The TLS flags of `mq-node` and of its client commands as users run them: every mistake
 * (a half pair, a file that cannot be read, a file that is no certificate or no key, a key
 * of another certificate) exits 2 with one stderr line that names the flag, before anything
 * listens; good files pass (--print-config shows their absolute paths).
 */

const usage_exit_code = 2;

t.test('bad TLS flags exit 2 with one stderr line naming the flag', { skip: tls_skip }, async (t) => {
  const certs = makeTestCertificates(t);
  const missing = join(certs.dir, 'missing.pem');
  const unreadable = join(certs.dir, 'unreadable.pem');
  writeFileSync(unreadable, certs.server.cert);
  chmodSync(unreadable, 0o000);
  const not_pem = join(certs.dir, 'not_pem.txt');
  writeFileSync(not_pem, 'hello\n');
  const standalone = ['--role', 'standalone'];
  const cases: Array<{ name: string; args: string[]; env?: NodeJS.ProcessEnv; line: RegExp }> = [
    { name: 'cert without key', args: [...standalone, '--tls-cert', certs.server.cert_path], line: /^mq-node: --tls-cert needs --tls-key: / },
    { name: 'key without cert', args: [...standalone, '--tls-key', certs.server.key_path], line: /^mq-node: --tls-key needs --tls-cert: / },
    { name: 'ca without cert', args: ['--role', 'namesrv', '--tls-ca', certs.ca_path], line: /^mq-node: --tls-ca needs --tls-cert and --tls-key: / },
    { name: 'missing cert file', args: [...standalone, '--tls-cert', missing, '--tls-key', certs.server.key_path], line: /^mq-node: --tls-cert .*missing\.pem: cannot read the file \(ENOENT/ },
    { name: 'cert file not PEM', args: [...standalone, '--tls-cert', not_pem, '--tls-key', certs.server.key_path], line: /^mq-node: --tls-cert .*not_pem\.txt: not a PEM file/ },
    { name: 'key file holds a certificate', args: [...standalone, '--tls-cert', certs.server.cert_path, '--tls-key', certs.ca_path], line: /^mq-node: --tls-key .*ca\.pem: not a usable private key \(/ },
    { name: 'cert file holds a key', args: [...standalone, '--tls-cert', certs.server.key_path, '--tls-key', certs.server.key_path], line: /^mq-node: --tls-cert .*server_key\.pem: not a usable certificate \(/ },
    { name: 'key of another certificate', args: [...standalone, '--tls-cert', certs.server.cert_path, '--tls-key', certs.client.key_path], line: /^mq-node: --tls-key .*client_key\.pem is not the key of --tls-cert .*server\.pem \(.*key values mismatch/ },
    { name: 'ca file holds a key', args: [...standalone, '--tls-cert', certs.server.cert_path, '--tls-key', certs.server.key_path, '--tls-ca', certs.server.key_path], line: /^mq-node: --tls-ca .*server_key\.pem: no certificate in it/ },
    { name: 'cert from the environment without key', args: standalone, env: { MQ_TLS_CERT: certs.server.cert_path }, line: /^mq-node: --tls-cert needs --tls-key: / },
    { name: 'admin: cert without key', args: ['admin', 'cluster', '--tls-ca', certs.ca_path, '--tls-cert', certs.client.cert_path], line: /^mq-node admin: --tls-cert needs --tls-key/ },
    { name: 'admin: missing CA file', args: ['admin', 'cluster', '--tls-ca', missing], line: /^mq-node admin: --tls-ca .*missing\.pem: cannot read the file \(ENOENT/ },
    { name: 'bench: CA file not PEM', args: ['bench', 'produce', '--topic', 'T', '--tls-ca', not_pem], line: /^mq-node bench: --tls-ca .*not_pem\.txt: not a PEM file/ },
    { name: 'inspect: key without cert', args: ['inspect', '--admin', '127.0.0.1:1', '--tls-key', certs.client.key_path], line: /^mq-node inspect: --tls-key needs --tls-cert/ },
  ];
  // Root reads any file: the unreadable case only means something for other users.
  if (process.getuid?.() !== 0) {
    cases.push({ name: 'unreadable key file', args: [...standalone, '--tls-cert', certs.server.cert_path, '--tls-key', unreadable], line: /^mq-node: --tls-key .*unreadable\.pem: cannot read the file \(EACCES/ });
  }
  const results = await Promise.all(cases.map((c) => runCli(t, c.args, c.env)));
  for (const [index, c] of cases.entries()) {
    const result = results[index];
    if (result === undefined) throw new Error(`no result for ${c.name}`);
    t.equal(result.code, usage_exit_code, `${c.name}: exit code (stderr: ${result.stderr})`);
    t.equal(result.stdout, '', `${c.name}: nothing on stdout`);
    t.match(result.stderr.split('\n')[0], c.line, c.name);
    // The client commands follow the line with their usage text; the node prints the line alone.
    if (c.args[0] === '--role') t.equal(result.stderr.split('\n').length, 2, `${c.name}: one line on stderr`);
  }
});

t.test('good TLS files pass: --print-config shows their paths, from a flag, the environment or the config file', { skip: tls_skip }, async (t) => {
  const certs = makeTestCertificates(t);
  const config_file = join(certs.dir, 'node.json');
  writeFileSync(config_file, JSON.stringify({ role: 'namesrv', tlsCa: certs.ca_path }));
  const result = await runCli(t, ['--config', config_file, '--tls-cert', certs.server.cert_path, '--print-config'], { MQ_TLS_KEY: certs.server.key_path });
  t.equal(result.code, 0, result.stderr);
  t.match(JSON.parse(result.stdout), { 'tls-cert': certs.server.cert_path, 'tls-key': certs.server.key_path, 'tls-ca': certs.ca_path });
  t.notMatch(result.stdout, /BEGIN/, 'the configuration holds paths, never the PEM text');
  const plain = await runCli(t, ['--role', 'namesrv', '--print-config']);
  t.match(JSON.parse(plain.stdout), { 'tls-cert': null, 'tls-key': null, 'tls-ca': null });
});
