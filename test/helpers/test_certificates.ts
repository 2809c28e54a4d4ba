import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';

/**
 * Certificates for the TLS tests, made at run time in a temporary directory with Debian's
 * `openssl` (none are committed): a CA, a server certificate for 127.0.0.1 (IP SAN, as the
 * tests dial loopback by address) signed by it, a client certificate signed by it, and a
 * second CA that signed nothing the nodes present (a client that trusts only it must be
 * refused). Keys are EC P-256: made in milliseconds, unlike RSA.
 *
 * Tests that need them skip without /usr/bin/openssl (`apt-get install openssl`; .ci/run
 * installs it).
 */

export const openssl_path = '/usr/bin/openssl';

/** Why TLS tests skip here, or false when they can run (tap's `skip` option). */
export const tls_skip: string | false = existsSync(openssl_path)
  ? false
  : `no ${openssl_path}: install Debian's openssl (apt-get install openssl) to run the TLS tests`;

export const test_certificate_limits = {
  /** Long enough for any test run; a short life keeps a leaked temporary key worthless. */
  valid_days: 2,
  /** One openssl run; each takes a few milliseconds. */
  command_timeout_ms: 10_000,
} as const;

/** A certificate and its key: the files (for node flags) and their PEM text (for the SDK). */
export interface TestIdentity {
  cert_path: string;
  key_path: string;
  cert: string;
  key: string;
}

export interface TestCertificates {
  dir: string;
  /** The CA that signed `server` and `client`. */
  ca_path: string;
  ca: string;
  /** For the nodes: CN mq-node, SAN IP:127.0.0.1 and DNS:localhost; server and client use. */
  server: TestIdentity;
  /** For clients under mutual TLS: CN mq-client; client use only. */
  client: TestIdentity;
  /** A CA that signed none of these: trusting only it, a client must refuse the nodes. */
  other_ca_path: string;
  other_ca: string;
}

/** Makes the certificates in a temporary directory removed at the test's teardown. */
export function makeTestCertificates(t: Test): TestCertificates {
  const dir = mkdtempSync(path.join(tmpdir(), 'mq-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ca_path = makeCa(dir, 'ca', 'mq-node test CA');
  const other_ca_path = makeCa(dir, 'other_ca', 'mq-node unrelated CA');
  const server = makeLeaf(dir, 'server', 'mq-node', ['subjectAltName=IP:127.0.0.1,DNS:localhost', 'extendedKeyUsage=serverAuth,clientAuth']);
  const client = makeLeaf(dir, 'client', 'mq-client', ['extendedKeyUsage=clientAuth']);
  return {
    dir,
    ca_path,
    ca: readFileSync(ca_path, 'utf8'),
    server,
    client,
    other_ca_path,
    other_ca: readFileSync(other_ca_path, 'utf8'),
  };
}

function openssl(args: readonly string[], cwd: string): void {
  execFileSync(openssl_path, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: test_certificate_limits.command_timeout_ms });
}

function makeCa(dir: string, name: string, common_name: string): string {
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}_key.pem`], dir);
  openssl([
    'req', '-x509', '-new', '-key', `${name}_key.pem`, '-sha256', '-days', String(test_certificate_limits.valid_days), '-subj', `/CN=${common_name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', `${name}.pem`,
  ], dir);
  return path.join(dir, `${name}.pem`);
}

/** A key, a request and a certificate signed by `ca` with the extensions given. */
function makeLeaf(dir: string, name: string, common_name: string, extensions: readonly string[]): TestIdentity {
  const extension_file = `${name}_ext.cnf`;
  writeFileSync(path.join(dir, extension_file), `${['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', ...extensions].join('\n')}\n`);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}_key.pem`], dir);
  openssl(['req', '-new', '-key', `${name}_key.pem`, '-subj', `/CN=${common_name}`, '-out', `${name}.csr`], dir);
  openssl([
    'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca_key.pem', '-CAcreateserial', '-sha256',
    '-days', String(test_certificate_limits.valid_days), '-extfile', extension_file, '-out', `${name}.pem`,
  ], dir);
  const cert_path = path.join(dir, `${name}.pem`);
  const key_path = path.join(dir, `${name}_key.pem`);
  return { cert_path, key_path, cert: readFileSync(cert_path, 'utf8'), key: readFileSync(key_path, 'utf8') };
}
