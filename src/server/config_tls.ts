import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import tls from 'node:tls';
import type { NodeTls } from '../tls/node_tls.js';
import { ConfigError } from './config_error.js';

/**
 * `--tls-cert`, `--tls-key`, `--tls-ca`: checked when the configuration is loaded, by reading
 * the files and building a TLS context from them, so a missing, unreadable or mismatched
 * file stops the node at start with one line naming the flag (exit 2) instead of failing
 * the first handshake. The configuration keeps the paths (what --print-config shows); the
 * node reads the files again when it starts (readNodeTls).
 */

export const config_tls_limits = {
  /** A certificate chain or a CA bundle is kilobytes; megabytes is the wrong file. */
  pem_file_bytes_max: 1 << 20,
  /** Node releases whose TLS can trust a certificate that is not a CA (allowPartialTrustChain):
   *  without --tls-ca a node trusts its own certificate that way (tls/node_tls.ts). */
  partial_chain_node_20_minor_min: 18,
  partial_chain_node_22_minor_min: 9,
} as const;

/** The TLS flags as given: absolute paths, or null. */
export interface TlsPaths {
  tlsCert: string | null;
  tlsKey: string | null;
  tlsCa: string | null;
}

/** Throws ConfigError naming the flag when the TLS flags cannot work together. */
export function checkTlsPaths(paths: TlsPaths): void {
  if (paths.tlsCert === null && paths.tlsKey === null) {
    if (paths.tlsCa !== null) throw new ConfigError('--tls-ca needs --tls-cert and --tls-key: a node that requires client certificates must run TLS itself', 'tls-ca');
    return;
  }
  if (paths.tlsKey === null) throw new ConfigError('--tls-cert needs --tls-key: give the private key of the certificate too', 'tls-key');
  if (paths.tlsCert === null) throw new ConfigError('--tls-key needs --tls-cert: give the certificate of the key too', 'tls-cert');
  const node_tls = readNodeTls(paths) as NodeTls;
  tryContext('tls-cert', paths.tlsCert, { cert: node_tls.cert });
  tryContext('tls-key', paths.tlsKey, { key: node_tls.key });
  if (node_tls.ca !== null) checkCertificates('tls-ca', paths.tlsCa as string, node_tls.ca);
  else if (!nodeTrustsPartialChains(process.versions.node)) {
    throw new ConfigError(`--tls-cert without --tls-ca needs Node 20.18, 22.9 or later (this is ${process.versions.node}) to trust its own certificate; give --tls-ca with the CA that signed it`, 'tls-ca');
  }
  try {
    tls.createSecureContext({ cert: node_tls.cert, key: node_tls.key });
  } catch (error) {
    throw new ConfigError(`--tls-key ${paths.tlsKey} is not the key of --tls-cert ${paths.tlsCert} (${reasonOf(error)})`, 'tls-key');
  }
}

/** The files' text, or null when the node runs without TLS. Throws ConfigError naming the flag. */
export function readNodeTls(paths: TlsPaths): NodeTls | null {
  if (paths.tlsCert === null || paths.tlsKey === null) return null;
  return {
    cert: readPem('tls-cert', paths.tlsCert),
    key: readPem('tls-key', paths.tlsKey),
    ca: paths.tlsCa === null ? null : readPem('tls-ca', paths.tlsCa),
  };
}

function readPem(flag: string, path: string): string {
  let text: string;
  try {
    const size_bytes = statSync(path).size;
    if (size_bytes > config_tls_limits.pem_file_bytes_max) {
      throw new ConfigError(`--${flag} ${path}: the file is ${size_bytes} bytes, more than the ${config_tls_limits.pem_file_bytes_max} a PEM file may have`, flag);
    }
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`--${flag} ${path}: cannot read the file (${reasonOf(error)})`, flag);
  }
  if (!text.includes('-----BEGIN ')) throw new ConfigError(`--${flag} ${path}: not a PEM file (no "-----BEGIN" line)`, flag);
  return text;
}

/** Every certificate of a CA file must parse: Node's TLS skips what it cannot read, silently. */
function checkCertificates(flag: string, path: string, text: string): void {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ConfigError(`--${flag} ${path}: no certificate in it (no "-----BEGIN CERTIFICATE-----" block)`, flag);
  for (const [index, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (error) {
      throw new ConfigError(`--${flag} ${path}: certificate ${index + 1} cannot be read (${reasonOf(error)})`, flag);
    }
  }
}

function tryContext(flag: string, path: string, options: tls.SecureContextOptions): void {
  try {
    tls.createSecureContext(options);
  } catch (error) {
    throw new ConfigError(`--${flag} ${path}: not a usable ${flag === 'tls-key' ? 'private key' : 'certificate'} (${reasonOf(error)})`, flag);
  }
}

export function nodeTrustsPartialChains(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major === 20) return minor >= config_tls_limits.partial_chain_node_20_minor_min;
  if (major === 22) return minor >= config_tls_limits.partial_chain_node_22_minor_min;
  return major > 22;
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
