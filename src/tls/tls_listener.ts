import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../runtime/log.js';
import { trackForNetFault } from '../runtime/net_fault.js';

/**
 * The accepting side of TLS, for every framed-protocol port (client, nameserver, HA): a
 * net.Server that hands its callback plain sockets, or a tls.Server that hands it a
 * TLSSocket once the handshake is done. A TLSSocket is a net.Socket, so the connection
 * classes take either.
 *
 * A handshake that fails (a plaintext client, an untrusted or missing client certificate,
 * a scanner) closes that connection only; it is logged as one line — at most
 * `lines_per_interval_max` per interval, the rest counted in the next line — so a flood of
 * bad handshakes cannot flood the log. A handshake that stalls is cut after
 * `handshake_timeout_ms` (the protocol's own HELLO deadline starts after it).
 */

export const tls_listener_limits = {
  /** Failed handshakes logged per interval and listener; more are only counted. */
  lines_per_interval_max: 20,
  interval_ms: 60_000,
} as const;

export interface TlsListenerOptions {
  /** Node's TLS server options (node_tls.ts nodeServerOptions); absent: plain TCP. */
  tls: tls.TlsOptions | undefined;
  handshake_timeout_ms: number;
  log: Logger;
  /** Names the port in the log line: `broker`, `namesrv`, `ha`, `admin`. */
  listener: string;
}

/** A server whose `accept` gets each connection ready for protocol bytes. */
export function createFrameListener(options: TlsListenerOptions, accept: (socket: net.Socket) => void): net.Server {
  const accepted = (socket: net.Socket): void => {
    trackForNetFault(socket);
    accept(socket);
  };
  if (options.tls === undefined) return net.createServer(accepted);
  const server = tls.createServer({ ...options.tls, handshakeTimeout: options.handshake_timeout_ms }, accepted);
  logHandshakeFailures(server, options);
  return server;
}

/** Logs the failed handshakes of `server` (a tls.Server or an https.Server), bounded. */
export function logHandshakeFailures(server: tls.Server, options: Pick<TlsListenerOptions, 'log' | 'listener'>, now_ms: () => number = () => performance.now()): void {
  let window_start_ms = now_ms();
  let logged = 0;
  let suppressed = 0;
  server.on('tlsClientError', (error: Error & { code?: string; reason?: string }, socket: tls.TLSSocket) => {
    const now = now_ms();
    if (now - window_start_ms >= tls_listener_limits.interval_ms) {
      window_start_ms = now;
      logged = 0;
    }
    if (logged >= tls_listener_limits.lines_per_interval_max) {
      suppressed++;
      return;
    }
    logged++;
    options.log.warn(
      {
        listener: options.listener,
        // A peer that hung up has no address any more.
        remote: socket.remoteAddress === undefined ? 'gone' : `${socket.remoteAddress}:${socket.remotePort ?? 0}`,
        // OpenSSL's `reason` ("wrong version number") without the file and line of its message.
        reason: error.reason ?? error.message,
        code: error.code,
        suppressed_before: suppressed,
      },
      'TLS handshake failed; connection closed',
    );
    suppressed = 0;
  });
}
