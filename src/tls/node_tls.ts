import tls from 'node:tls';
import type { TlsDialOptions } from './tls_dial.js';

/**
 * A node's TLS (`--tls-cert`, `--tls-key`, `--tls-ca`) as the listeners and the node's own
 * outgoing connections use it. A cluster runs TLS on every node or on none: a node with TLS
 * dials its peers (nameservers, the master's HA and client ports, other nameservers) over
 * TLS only.
 *
 * Listeners present the certificate; with a CA they also require a client certificate
 * signed by it (mutual TLS), on every port: client, HA, nameserver, admin HTTP.
 *
 * Outgoing connections present the same certificate and key (a peer under mutual TLS asks
 * for them) and verify the server: it must chain to the CA — or, without --tls-ca, to one
 * of the system's CAs — or be this node's own certificate, and name the address dialled.
 * Trusting its own certificate is what lets a standalone node's broker register with its
 * own nameserver, and nodes that share one certificate talk, without a CA file.
 */

/** The PEM text of the files: plain data, cloned to the worker that owns the HA port. */
export interface NodeTls {
  cert: string;
  key: string;
  /** Present: client certificates are required and verified against it. */
  ca: string | null;
}

/** Options of a TLS listener (tls.createServer, https.createServer). */
export function nodeServerOptions(node_tls: NodeTls): tls.TlsOptions {
  const mutual = node_tls.ca !== null;
  return {
    cert: node_tls.cert,
    key: node_tls.key,
    ...(mutual ? { ca: node_tls.ca as string } : {}),
    requestCert: mutual,
    rejectUnauthorized: mutual,
  };
}

/** The same object for the same NodeTls: the TLS context built from it is kept with it (tls_dial.ts). */
const dial_options = new WeakMap<NodeTls, TlsDialOptions>();

/** Options of the node's own outgoing connections (see the module comment). */
export function nodeDialOptions(node_tls: NodeTls): TlsDialOptions {
  let options = dial_options.get(node_tls);
  if (options === undefined) {
    const anchors = node_tls.ca === null ? [...tls.rootCertificates] : [node_tls.ca];
    options = { ca: [...anchors, node_tls.cert], cert: node_tls.cert, key: node_tls.key, allowPartialTrustChain: true };
    dial_options.set(node_tls, options);
  }
  return options;
}
