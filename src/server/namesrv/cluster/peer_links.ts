import { ClientConnection, type VersionedReply } from '../../../client/remoting/client_connection.js';
import { MqError } from '../../../runtime/errors.js';
import type { TlsDialOptions } from '../../../tls/tls_dial.js';
import type { Credentials } from '../../../client/remoting/request_signer.js';

export const peer_link_limits = {
  connect_timeout_ms: 1_000,
} as const;

/**
 * One connection per peer nameserver, opened on first use and again after it closed. A
 * connect in progress is shared by every request that needs it. Owned by the nameserver's
 * main thread.
 */
export class PeerLinks {
  private readonly links = new Map<string, Promise<ClientConnection>>();
  private closed = false;

  constructor(
    private readonly self: string,
    /** The node's TLS (tls/node_tls.ts): peers are dialled over TLS when it is given. */
    private readonly tls?: TlsDialOptions,
    /** The node's account (access control): every request to a peer is signed with it. */
    private readonly credentials?: Credentials,
  ) {}

  async request(address: string, code: number, body: Uint8Array, timeout_ms: number): Promise<Uint8Array> {
    return (await this.requestVersioned(address, code, body, timeout_ms)).body;
  }

  /** As `request`, with the protocol version the link to `address` speaks. */
  async requestVersioned(address: string, code: number, body: Uint8Array, timeout_ms: number): Promise<VersionedReply> {
    const connection = await this.connection(address);
    return connection.requestVersioned(code, body, { timeout_ms });
  }

  /** Sends without waiting for an answer; a peer that cannot be reached now misses it. */
  oneway(address: string, code: number, body: Uint8Array): void {
    this.connection(address).then(
      (connection) => {
        if (connection.open) connection.oneway(code, body);
      },
      () => undefined,
    );
  }

  /** Drops the connection to `address` (a long poll to a node that is no longer upstream). */
  drop(address: string): void {
    const link = this.links.get(address);
    this.links.delete(address);
    link?.then((connection) => connection.close(), () => undefined);
  }

  close(): void {
    this.closed = true;
    for (const address of [...this.links.keys()]) this.drop(address);
  }

  private connection(address: string): Promise<ClientConnection> {
    if (this.closed) return Promise.reject(new MqError('SHUTTING_DOWN', 'this nameserver is stopping'));
    const existing = this.links.get(address);
    if (existing !== undefined) {
      return existing.then((connection) => {
        if (connection.open) return connection;
        if (this.links.get(address) === existing) this.links.delete(address);
        return this.connection(address);
      });
    }
    const link = ClientConnection.connect(address, { client_id: `namesrv@${this.self}`, kind: 'NAMESRV', timeout_ms: peer_link_limits.connect_timeout_ms, tls: this.tls, credentials: this.credentials });
    this.links.set(address, link);
    link.catch(() => {
      if (this.links.get(address) === link) this.links.delete(address);
    });
    return link;
  }
}
