import { readFileSync, statSync } from 'node:fs';
import type { ClientTlsOptions } from './client_options.js';

/**
 * The TLS flags of the client commands (`mq-node admin`, `bench`, `inspect`): `--tls`
 * (trust the system's CAs), `--tls-ca FILE`, and `--tls-cert FILE --tls-key FILE` for nodes
 * that require client certificates. Any of them turns TLS on. They are read from the
 * command line only: a shell that exports MQ_TLS_CERT for a node must not make every admin
 * command present the node's certificate.
 */

export const cli_tls_options = {
  tls: { type: 'boolean' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
} as const;

export const cli_tls_usage = 'TLS (nodes run with --tls-cert): --tls-ca FILE (the CA that signed them; --tls alone trusts the system CAs),\n' +
  '          --tls-cert FILE --tls-key FILE (this client\'s certificate, for nodes with --tls-ca)';

/** A PEM file the user named is bigger than any certificate: the wrong file. */
const pem_file_bytes_max = 1 << 20;

export interface CliTlsValues {
  tls?: boolean | undefined;
  'tls-ca'?: string | undefined;
  'tls-cert'?: string | undefined;
  'tls-key'?: string | undefined;
}

/** Thrown with one line that names the flag; the command prints it and exits 2. */
export class CliTlsError extends Error {
  override readonly name = 'CliTlsError';
}

/** The SDK's `tls` option from the flags; undefined when none is given (plain TCP). */
export function cliTls(values: CliTlsValues): ClientTlsOptions | undefined {
  const ca = values['tls-ca'];
  const cert = values['tls-cert'];
  const key = values['tls-key'];
  if (values.tls !== true && ca === undefined && cert === undefined && key === undefined) return undefined;
  if ((cert === undefined) !== (key === undefined)) {
    throw new CliTlsError(cert === undefined ? '--tls-key needs --tls-cert (the certificate of the key)' : '--tls-cert needs --tls-key (the private key of the certificate)');
  }
  return {
    ...(ca === undefined ? {} : { ca: readPem('tls-ca', ca) }),
    ...(cert === undefined || key === undefined ? {} : { cert: readPem('tls-cert', cert), key: readPem('tls-key', key) }),
  };
}

function readPem(flag: string, path: string): string {
  let text: string;
  try {
    text = statSync(path).size > pem_file_bytes_max ? '' : readFileSync(path, 'utf8');
  } catch (error) {
    throw new CliTlsError(`--${flag} ${path}: cannot read the file (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!text.includes('-----BEGIN ')) throw new CliTlsError(`--${flag} ${path}: not a PEM file (no "-----BEGIN" line)`);
  return text;
}
