import net from 'node:net';
import { frame_bytes_max } from '../../protocol/index.js';
import type { Logger } from '../../runtime/log.js';
import { server_connection_limits } from './remoting_limits.js';
import type { RequestRouter } from './request_router.js';
import { ServerConnection } from './server_connection.js';

export interface FrameServerOptions {
  /** Shown to clients in the handshake and in logs. */
  server_id: string;
  router: RequestRouter;
  log: Logger;
  frame_bytes_max?: number;
  onConnection?: (connection: ServerConnection) => void;
  onDisconnect?: (connection: ServerConnection) => void;
}

/**
 * A TCP listener speaking the framed protocol: accepts connections (bounded), runs a
 * ServerConnection for each, and stops by refusing new ones, then ending the open ones.
 */
export class FrameServer {
  private readonly server: net.Server;
  private readonly connections = new Set<ServerConnection>();

  constructor(private readonly options: FrameServerOptions) {
    this.server = net.createServer((socket) => this.accept(socket));
    this.server.maxConnections = server_connection_limits.connections_max;
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

  private accept(socket: net.Socket): void {
    const connection = new ServerConnection(socket, {
      server_id: this.options.server_id,
      frame_bytes_max: this.options.frame_bytes_max ?? frame_bytes_max,
      router: this.options.router,
      log: this.options.log,
      onClose: (closed) => {
        this.connections.delete(closed);
        this.options.onDisconnect?.(closed);
      },
    });
    this.connections.add(connection);
    this.options.onConnection?.(connection);
  }
}
