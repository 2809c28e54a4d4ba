import net from 'node:net';
import tls from 'node:tls';
import { MqError } from '../runtime/errors.js';
import { trackForNetFault } from '../runtime/net_fault.js';

/**
 * The dialling side of every framed-protocol connection: plain TCP, or TLS when options are
 * given. One place for both the SDK's connections (client/remoting/client_connection.ts)
 * and a slave's HA link (actors/replicator/ha_slave_link.ts), so that they verify servers
 * alike and describe a failed handshake alike. Imports nothing but Node and MqError: the
 * SDK and the worker threads both load it.
 */

/**
 * TLS of one outgoing connection. Plain data (strings, Buffers, booleans): it is built on
 * the main thread and may be cloned to a worker thread.
 *
 * The server's certificate is always verified (unless `rejectUnauthorized` is false): it
 * must chain to `ca` (default: the system's CAs) and name the host dialled, as a DNS name
 * or, for an address such as 127.0.0.1, as an IP subject alternative name.
 */
export interface TlsDialOptions {
  /** PEM certificates of the CAs trusted to sign servers' certificates (default: the system's). */
  ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /** The client's own certificate and key (PEM), for servers that require one (mutual TLS). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** The name the server's certificate must carry (default: the host dialled). */
  servername?: string;
  /** false accepts any server certificate: an encrypted but unauthenticated link (default true). */
  rejectUnauthorized?: boolean;
  /**
   * Certificates in `ca` that are not CAs themselves count as trust anchors too (OpenSSL's
   * partial chains). A node sets it to trust its own certificate (node_tls.ts); not offered
   * to SDK users. Node 20.18 or later (older ones ignore it).
   */
  allowPartialTrustChain?: boolean;
}

export interface DialedSocket {
  socket: net.Socket;
  /** The event after which the socket carries protocol bytes: `secureConnect` over TLS. */
  ready_event: 'connect' | 'secureConnect';
}

/**
 * TLS contexts by the options they were built from. Building one parses every CA
 * certificate — about 24 ms for the system's ~140 on this machine, 4 ms for one CA — which
 * must not be paid again at every connect on a broker's main thread. Callers keep their
 * options object (a pool, a listener, a node's NodeTls) so that it is built once.
 */
const contexts = new WeakMap<TlsDialOptions, tls.SecureContext>();

function contextOf(options: TlsDialOptions): tls.SecureContext {
  let context = contexts.get(options);
  if (context === undefined) {
    try {
      context = tls.createSecureContext({
        ...(options.ca === undefined ? {} : { ca: options.ca as Array<string | Buffer> | string | Buffer }),
        ...(options.cert === undefined ? {} : { cert: options.cert }),
        ...(options.key === undefined ? {} : { key: options.key }),
        ...(options.allowPartialTrustChain === true ? { allowPartialTrustChain: true } : {}),
      });
    } catch (error) {
      throw new MqError('BAD_REQUEST', `the tls options cannot be used: ${error instanceof Error ? error.message : String(error)} (ca, cert and key must be PEM text)`);
    }
    contexts.set(options, context);
  }
  return context;
}

/**
 * Opens a TCP connection to `host:port`, and a TLS session over it when `options` are given.
 * Throws MqError BAD_REQUEST when the options hold no usable PEM.
 */
export function dialSocket(host: string, port: number, options: TlsDialOptions | undefined): DialedSocket {
  if (options === undefined) {
    const socket = net.connect({ host, port });
    trackForNetFault(socket);
    return { socket, ready_event: 'connect' };
  }
  const socket = tls.connect({
    host,
    port,
    secureContext: contextOf(options),
    // SNI carries host names only (RFC 6066); an address is checked against the IP SANs
    // by Node's checkServerIdentity, which falls back to `host`.
    ...(options.servername !== undefined ? { servername: options.servername } : net.isIP(host) === 0 ? { servername: host } : {}),
    rejectUnauthorized: options.rejectUnauthorized !== false,
  });
  trackForNetFault(socket);
  return { socket, ready_event: 'secureConnect' };
}

/**
 * A failed connect or TLS handshake in words, with what to check: Node's message, its code,
 * and for a certificate that failed verification a hint (the OpenSSL verify codes are
 * upper-case names such as UNABLE_TO_VERIFY_LEAF_SIGNATURE; a name mismatch is
 * ERR_TLS_CERT_ALTNAME_INVALID).
 */
export function describeDialError(error: Error, over_tls: boolean): string {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  // OpenSSL's errors carry their reason ("tlsv13 alert certificate required") apart from a
  // message cluttered with its source file and line.
  const text = (error as { reason?: unknown }).reason;
  const message = typeof text === 'string' && text !== '' ? text : error.message;
  const with_code = code === '' || message.includes(code) ? message : `${message} (${code})`;
  if (!over_tls) return with_code;
  const verify_failed = code === 'ERR_TLS_CERT_ALTNAME_INVALID' || (/^[A-Z0-9_]+$/.test(code) && code.includes('_') && !code.startsWith('ERR_'));
  if (verify_failed) {
    return `TLS certificate verify failed: ${with_code}; the server's certificate must chain to a trusted CA (tls.ca, or the node's --tls-ca) and name the host dialled`;
  }
  if (/CERTIFICATE_REQUIRED|UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN/.test(code)) {
    return `TLS handshake failed: ${with_code}; the server requires a client certificate signed by its CA (--tls-ca): give tls.cert and tls.key`;
  }
  if (error.message.includes('before secure TLS connection was established')) {
    return `TLS handshake failed: ${with_code}; does the server run TLS (--tls-cert)?`;
  }
  return `TLS handshake failed: ${with_code}`;
}
