import net from 'node:net';
import { frame_bytes_max } from '../../protocol/index.js';
import type { Logger } from '../../runtime/log.js';
import { server_connection_limits } from './remoting_limits.js';
import type { RequestRouter } from './request_router.js';
import { ServerConnection } from './server_connection.js';
import type { RequestAuth } from '../auth/request_auth.js';
import { ConnectionLimiter } from './connection_limiter.js';
import { client_limit_defaults, ClientUsage, type ClientLimits } from './client_limits.js';
import { createFrameListener } from '../../tls/tls_listener.js';
import type { TlsOptions } from 'node:tls';

export interface FrameServerOptions {
  /** Shown to clients in the handshake and in logs. */
  server_id: string;
  router: RequestRouter;
  log: Logger;
  frame_bytes_max?: number;
  /** Connections kept open from one source address (--connections-per-address-max). */
  connections_per_address_max?: number;
  /** What one client (account, or address with the ACL off) may hold at once (client_limits.ts). */
  client_limits?: ClientLimits;
  onConnection?: (connection: ServerConnection) => void;
  onDisconnect?: (connection: ServerConnection) => void;
  /** TLS on this port (tls/node_tls.ts nodeServerOptions); absent: plain TCP. */
  tls?: TlsOptions;
  /** Names the port in logs (`broker`, `namesrv`). */
  listener?: string;
  /** Access control (ACL on): requests are authenticated and authorized (auth/request_auth.ts). */
  auth?: RequestAuth;
}

/**
 * A TCP listener speaking the framed protocol: accepts connections (bounded), runs a
 * ServerConnection for each, and stops by refusing new ones, then ending the open ones.
 */
export class FrameServer {
  private readonly server: net.Server;
  private readonly connections = new Set<ServerConnection>();
  private readonly limiter: ConnectionLimiter;
  /** Connections and requests in flight per client, over this listener's connections. */
  readonly client_usage = new ClientUsage();

  constructor(private readonly options: FrameServerOptions) {
    // Over TLS a connection reaches accept() once its TLS handshake is done; the handshake
    // has its own deadline (as long as HELLO's), so a peer that stalls in it is cut too.
    this.server = createFrameListener(
      { tls: options.tls, handshake_timeout_ms: server_connection_limits.handshake_timeout_ms, log: options.log, listener: options.listener ?? options.server_id },
      (socket) => this.accept(socket),
    );
    this.server.maxConnections = server_connection_limits.connections_max;
    this.limiter = new ConnectionLimiter({ per_address_max: options.connections_per_address_max ?? server_connection_limits.connections_per_address_max, log: options.log });
    // Counted at TCP accept, before any TLS handshake, so that a flood from one address costs
    // no handshake: prepended, so that it runs before the listener's own 'connection' handler.
    this.server.prependListener('connection', (socket: net.Socket) => this.admit(socket));
  }

  async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address() as net.AddressInfo;
    return { host: address.address, port: address.port };
  }

  get connection_count(): number {
    return this.connections.size;
  }

  /** Stops accepting; ends open connections, cutting those that do not finish in time. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const connection of this.connections) connection.end();
    const deadline = setTimeout(() => {
      for (const connection of this.connections) connection.close();
    }, server_connection_limits.drain_timeout_ms);
    await closed;
    clearTimeout(deadline);
  }

  /**
   * Over the per-address limit (or already gone: no address), a connection is destroyed
   * before any byte is read; the limiter logs it, once per address and interval. (Over TLS
   * the listener then sees a handshake that hung up, which it logs within its own bound.)
   */
  private admit(socket: net.Socket): void {
    const address = socket.remoteAddress;
    if (address === undefined || !this.limiter.admit(address)) {
      socket.destroy();
      return;
    }
    // The TCP socket closes whatever closes the connection (HELLO timeout, TLS failure, peer).
    socket.once('close', () => this.limiter.release(address));
  }

  private accept(socket: net.Socket): void {
    if (socket.destroyed) return; // refused by admit(), or gone during the TLS handshake
    const connection = new ServerConnection(socket, {
      server_id: this.options.server_id,
      frame_bytes_max: this.options.frame_bytes_max ?? frame_bytes_max,
      router: this.options.router,
      log: this.options.log,
      ...(this.options.auth === undefined ? {} : { auth: this.options.auth }),
      client_usage: this.client_usage,
      client_limits: this.options.client_limits ?? client_limit_defaults,
      onClose: (closed) => {
        this.connections.delete(closed);
        this.options.onDisconnect?.(closed);
      },
    });
    this.connections.add(connection);
    this.options.onConnection?.(connection);
  }
}
