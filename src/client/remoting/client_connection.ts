import net from 'node:net';
import {
  checkHelloAck,
  decodeErrorResponse,
  decodeHelloAck,
  encodeFrameChunks,
  encodeHello,
  FrameDecoder,
  helloFor,
  isError,
  protocol_version_min,
  isResponse,
  request_codes,
  requestEnvelope,
  type ClientKind,
  type VersionRange,
  type Envelope,
} from '../../protocol/index.js';
import { isMqErrorCode, MqError } from '../../runtime/errors.js';
import { describeDialError, dialSocket, type TlsDialOptions } from '../../tls/tls_dial.js';
import { RequestSigner, type Credentials } from './request_signer.js';

export const client_connection_limits = {
  /** Requests waiting for a reply on one connection; more are refused with BUSY. */
  in_flight_requests_max: 4_096,
  request_timeout_ms_default: 3_000,
  connect_timeout_ms: 3_000,
} as const;

/**
 * A request body, or a function that encodes it for the protocol version the connection
 * negotiated: an API whose record changed between versions must be written in the version
 * the server reads (schemas/index.ts).
 */
export type RequestBody = Uint8Array | ((protocol_version: number) => Uint8Array);

/** A reply's body with the protocol version it is written in (to pick the decoder). */
export interface VersionedReply {
  body: Uint8Array;
  protocol_version: number;
}

interface Pending {
  resolve(envelope: Envelope): void;
  reject(error: MqError): void;
  timer: NodeJS.Timeout;
}

/**
 * One connection from a client (producer, consumer, admin, broker to nameserver) to a
 * server: the handshake, then requests as promises matched by correlation id, each with its
 * own timeout. Closing rejects what is pending with SHUTTING_DOWN; a connection that drops
 * rejects it with BROKER_UNAVAILABLE. Imports nothing of the broker: only the protocol.
 */
export class ClientConnection {
  private readonly pending = new Map<number, Pending>();
  private readonly decoder = new FrameDecoder();
  private next_id = 1;
  private closed_error: MqError | undefined;
  private close_listeners: Array<(error: MqError) => void> = [];
  private push_listeners: Array<(push: Envelope) => void> = [];

  private signer: RequestSigner | undefined;
  private server_id = '';
  /** Negotiated by the handshake; requests before it (HELLO) are version-independent. */
  private negotiated_version = protocol_version_min;

  private constructor(
    private readonly socket: net.Socket,
    readonly address: string,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined); // reported through 'close'
    socket.on('close', () => this.failAll(this.closed_error ?? new MqError('BROKER_UNAVAILABLE', `connection to ${address} closed`)));
  }

  /**
   * Connects and performs the handshake. `versions` narrows the protocol versions offered
   * (default: every one this build speaks), e.g. to act as an older client.
   */
  static async connect(
    address: string,
    options: { client_id: string; kind: ClientKind; timeout_ms?: number; versions?: VersionRange; tls?: TlsDialOptions; credentials?: Credentials | undefined },
  ): Promise<ClientConnection> {
    const [host, port_text] = splitAddress(address);
    // With `tls` the connect includes the TLS handshake and the server's certificate check
    // (tls/tls_dial.ts); the same timeout bounds both.
    const over_tls = options.tls !== undefined;
    const dialed = dialSocket(host, Number(port_text), options.tls);
    const socket = dialed.socket;
    const timeout_ms = options.timeout_ms ?? client_connection_limits.connect_timeout_ms;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new MqError('BROKER_UNAVAILABLE', `could not connect to ${address} within ${timeout_ms} ms${over_tls ? ' (TCP and TLS handshake)' : ''}`));
      }, timeout_ms);
      socket.once(dialed.ready_event, () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(new MqError('BROKER_UNAVAILABLE', `could not connect to ${address}: ${describeDialError(error, over_tls)}`));
      });
    });
    // An error after the connect says why a server dropped the HELLO: a TLS alert (under
    // TLS 1.3 a server refuses a client certificate only after the client's handshake ended).
    let dropped_by: Error | undefined;
    socket.once('error', (error) => {
      dropped_by = error;
    });
    const connection = new ClientConnection(socket, address);
    try {
      const ack = decodeHelloAck(await connection.request(request_codes.HELLO, encodeHello(helloFor(options.client_id, options.kind, options.versions)), { timeout_ms }));
      const version = ack.ok ? checkHelloAck(ack.value, options.versions) : ack;
      if (!version.ok) throw new MqError('BAD_REQUEST', `handshake with ${address} failed: ${version.error.message}`);
      connection.negotiated_version = version.value;
      if (ack.ok) connection.server_id = ack.value.serverId;
      // Every request after HELLO is signed (access control); HELLO itself cannot be.
      if (options.credentials !== undefined) connection.signWith(options.credentials);
    } catch (error) {
      // Closed by the server, or answered with bytes that are no frame (a TLS server's
      // alert to a plaintext client), instead of a HELLO reply.
      const dropped = !connection.open && error instanceof MqError && error.code !== 'SHUTTING_DOWN';
      connection.close();
      if (!dropped) throw error;
      const reason = dropped_by !== undefined ? describeDialError(dropped_by, over_tls) : error.message;
      const hint = over_tls ? '' : '; if the server runs TLS (--tls-cert), connect with the tls option';
      throw new MqError('BROKER_UNAVAILABLE', `the protocol handshake with ${address} failed: ${reason}${hint}`, { cause: error });
    }
    return connection;
  }

  /**
   * Signs every request from now on with `credentials` (access control; HELLO itself is not
   * signed). Called right after connecting, before any other request.
   */
  signWith(credentials: Credentials): void {
    this.signer = new RequestSigner(credentials, this.server_id);
  }

  /** The server's id from its HelloAck (what signatures are bound to). */
  get peer_server_id(): string {
    return this.server_id;
  }

  /** The protocol version this connection speaks (both sides chose it at HELLO). */
  get protocol_version(): number {
    return this.negotiated_version;
  }

  get open(): boolean {
    return this.closed_error === undefined && !this.socket.destroyed;
  }

  onClose(listener: (error: MqError) => void): void {
    this.close_listeners.push(listener);
  }

  /**
   * Listens for requests the server pushes on this connection (one-way, e.g. ROUTE_CHANGED);
   * `push.code` says which, `push.body` is its request record. Without a listener they are
   * dropped. A listener that throws does not disturb the connection.
   */
  onPush(listener: (push: Envelope) => void): void {
    this.push_listeners.push(listener);
  }

  /** Sends a request; resolves with the reply's body, rejects with the server's MqError. */
  async request(code: number, body: RequestBody, options: { timeout_ms?: number; headers?: Record<string, string> } = {}): Promise<Uint8Array> {
    return (await this.requestVersioned(code, body, options)).body;
  }

  /** As `request`, with the protocol version the reply is written in. */
  async requestVersioned(code: number, body: RequestBody, options: { timeout_ms?: number; headers?: Record<string, string> } = {}): Promise<VersionedReply> {
    const protocol_version = this.negotiated_version;
    const bytes = typeof body === 'function' ? body(protocol_version) : body;
    const reply = await this.exchange(code, bytes, options);
    return { body: reply.body, protocol_version };
  }

  /** Sends without waiting for any reply. */
  oneway(code: number, body: Uint8Array): void {
    if (!this.open) throw this.closed_error ?? new MqError('BROKER_UNAVAILABLE', `connection to ${this.address} is closed`);
    const headers = this.signer?.headers(code, true, body);
    this.write(requestEnvelope(code, this.allocateId(), body, headers === undefined ? { oneway: true } : { oneway: true, headers }));
  }

  /** Closes the connection; pending requests reject with SHUTTING_DOWN. */
  close(): void {
    this.closed_error ??= new MqError('SHUTTING_DOWN', `connection to ${this.address} closed by this client`);
    this.socket.destroy();
    this.failAll(this.closed_error);
  }

  private exchange(code: number, body: Uint8Array, options: { timeout_ms?: number; headers?: Record<string, string> }): Promise<Envelope> {
    if (!this.open) return Promise.reject(this.closed_error ?? new MqError('BROKER_UNAVAILABLE', `connection to ${this.address} is closed`));
    if (this.pending.size >= client_connection_limits.in_flight_requests_max) {
      return Promise.reject(new MqError('BUSY', `${this.pending.size} requests already wait for ${this.address}; wait for replies first`));
    }
    const id = this.allocateId();
    const timeout_ms = options.timeout_ms ?? client_connection_limits.request_timeout_ms_default;
    return new Promise<Envelope>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new MqError('TIMEOUT', `no reply from ${this.address} within ${timeout_ms} ms (request code ${code})`));
      }, timeout_ms);
      this.pending.set(id, { resolve, reject, timer });
      const signed = this.signer?.headers(code, false, body);
      const headers = signed === undefined ? options.headers : { ...options.headers, ...signed };
      this.write(requestEnvelope(code, id, body, headers === undefined ? {} : { headers }));
    });
  }

  private write(envelope: Envelope): void {
    const [head, body] = encodeFrameChunks(envelope);
    this.socket.write(head);
    if (body.length > 0) this.socket.write(body);
  }

  private onData(chunk: Buffer): void {
    for (const result of this.decoder.push(chunk)) {
      if (!result.ok) {
        this.closed_error = new MqError('INTERNAL', `bad frame from ${this.address}: ${result.error.message}`);
        this.socket.destroy();
        return;
      }
      const reply = result.envelope;
      if (!isResponse(reply)) {
        this.deliverPush(reply);
        continue;
      }
      const waiting = this.pending.get(reply.correlationId);
      if (waiting === undefined) continue; // timed out already
      this.pending.delete(reply.correlationId);
      clearTimeout(waiting.timer);
      if (!isError(reply)) {
        waiting.resolve(reply);
        continue;
      }
      const failure = decodeErrorResponse(reply.body);
      waiting.reject(failure.ok
        ? new MqError(isMqErrorCode(failure.value.code) ? failure.value.code : 'INTERNAL', failure.value.message, { retriable: failure.value.retriable })
        : new MqError('INTERNAL', `unreadable error reply from ${this.address}`));
    }
  }

  private deliverPush(push: Envelope): void {
    for (const listener of this.push_listeners) {
      try {
        listener(push);
      } catch {
        // The listener's own failure; the connection and the other listeners go on.
      }
    }
  }

  private failAll(error: MqError): void {
    for (const [id, waiting] of this.pending) {
      clearTimeout(waiting.timer);
      waiting.reject(error);
      this.pending.delete(id);
    }
    const listeners = this.close_listeners;
    this.close_listeners = [];
    for (const listener of listeners) listener(error);
  }

  private allocateId(): number {
    const id = this.next_id;
    this.next_id = this.next_id >= 0x7fff_ffff ? 1 : this.next_id + 1;
    return id;
  }
}

function splitAddress(address: string): [string, string] {
  const at = address.lastIndexOf(':');
  if (at <= 0) throw new MqError('BAD_REQUEST', `address '${address}' is not host:port`);
  return [address.slice(0, at), address.slice(at + 1)];
}
