import type { Socket } from 'node:net';
import {
  acceptHello,
  apiCodecs,
  isKnownRequestCode,
  decodeHello,
  encodeErrorResponse,
  encodeFrameChunks,
  encodeHelloAck,
  errorEnvelope,
  FrameDecoder,
  isOneway,
  request_codes,
  requestEnvelope,
  responseEnvelope,
  type Envelope,
  type ProtocolError,
} from '../../protocol/index.js';
import { assert } from '../../runtime/assert.js';
import { MqError, toMqError } from '../../runtime/errors.js';
import type { Logger } from '../../runtime/log.js';
import type { Account } from '../auth/acl.js';
import type { RequestAuth } from '../auth/request_auth.js';
import { requestNeed } from '../auth/request_needs.js';
import { accountClient, addressClient, type ClientIdentity, type ClientLimits, type ClientUsage } from './client_limits.js';
import { server_connection_limits } from './remoting_limits.js';
import type { RequestContext, RequestRouter } from './request_router.js';

export interface ServerConnectionOptions {
  server_id: string;
  frame_bytes_max: number;
  router: RequestRouter;
  log: Logger;
  onClose: (connection: ServerConnection) => void;
  /** Access control (ACL on): every request after HELLO is authenticated before its handler. */
  auth?: RequestAuth;
  /** The listener's counts per client (client_limits.ts), and the node's default limits. */
  client_usage: ClientUsage;
  client_limits: ClientLimits;
}

/**
 * One client connection on a server: reads frames, requires a HELLO first, hands each
 * request to its handler and writes the reply. Replies go out in completion order, matched
 * by correlation id, so one slow request does not hold up the others.
 *
 * Hostile input costs only this connection: a frame over the limit, a stream that cannot be
 * resynchronised, or a missing HELLO closes it (logged); a malformed frame whose correlation
 * id is readable, an unknown request code or a bad body is answered with an error reply and
 * the connection goes on. Owned by the thread that owns its server.
 */
export class ServerConnection {
  readonly id: string;
  readonly remote: string;
  /** The peer's IP address alone (what an account's allowed addresses are matched with). */
  readonly remote_ip: string;
  private readonly decoder: FrameDecoder;
  private version: number | undefined;
  private in_flight = 0;
  /** Bytes of replies being built now, as their handlers reserved them (reserveReplyBytes). */
  private reply_bytes_reserved = 0;
  /** Correlation ids of the one-way requests this server pushes (they expect no reply). */
  private next_push_id = 1;
  private closed = false;
  private readonly handshake_timer: NodeJS.Timeout;
  /** Set by the listener's owner (e.g. the client id from HELLO) for logs and admin views. */
  client_id = '';
  /**
   * Whose requests these are (client_limits.ts): the source address with the ACL off; with
   * it on, the account of the first signed request, unset before. A connection speaks for
   * one account: its count of the account's connections is taken once, at that request.
   */
  private client: ClientIdentity | undefined;
  /** Set when a refusal ends the connection once its answer is written. */
  private end_after_reply = false;

  constructor(
    private readonly socket: Socket,
    private readonly options: ServerConnectionOptions,
  ) {
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.remote_ip = socket.remoteAddress ?? '';
    this.id = this.remote;
    this.decoder = new FrameDecoder({ frame_bytes_max: options.frame_bytes_max });
    if (options.auth === undefined) this.client = addressClient(this.remote_ip, options.client_limits);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.options.log.debug({ remote: this.remote, err: error }, 'connection error'));
    socket.on('close', () => this.onClosed());
    this.handshake_timer = setTimeout(() => this.refuse('no HELLO within the handshake time'), server_connection_limits.handshake_timeout_ms);
  }

  /** False from the moment the socket is destroyed ('close' comes a tick later): nothing
   *  more is read, built or written for a connection being closed. */
  get open(): boolean {
    return !this.closed && !this.socket.destroyed;
  }

  /**
   * The protocol version chosen at HELLO. Handlers run only after it, so a handler reading
   * this always gets the connection's version (an API whose record changed between versions
   * decodes and encodes with it).
   */
  get protocol_version(): number {
    assert(this.version !== undefined, 'a request handler ran before the handshake');
    return this.version;
  }

  /**
   * Pushes a one-way request to the client, one it did not ask for (a notification such as
   * ROUTE_CHANGED). False when the connection is closed or has not finished its handshake:
   * before HELLO the client may not speak the protocol version the body is encoded in.
   */
  push(code: number, body: Uint8Array): boolean {
    if (this.closed || this.version === undefined) return false;
    const id = this.next_push_id;
    this.next_push_id = id >= 0x7fff_ffff ? 1 : id + 1;
    this.write(requestEnvelope(code, id, body, { oneway: true }));
    return true;
  }

  /** Closes the connection (replies not yet written are dropped). */
  close(): void {
    this.socket.destroy();
  }

  /** Ends the connection after what is written has been sent. */
  end(): void {
    this.socket.end();
  }

  private onData(chunk: Buffer): void {
    for (const result of this.decoder.push(chunk)) {
      // A connection being refused reads nothing more, not even frames of the same chunk.
      if (!this.open || this.end_after_reply) return;
      if (result.ok) this.onFrame(result.envelope);
      else this.onBadFrame(result.error);
    }
  }

  private onBadFrame(error: ProtocolError): void {
    if (error.fatal || error.correlationId === undefined) {
      this.refuse(`${error.code}: ${error.message}`);
      return;
    }
    this.options.log.warn({ remote: this.remote, code: error.code, reason: error.message }, 'malformed frame answered with an error');
    this.writeError({ code: 0, correlationId: error.correlationId }, new MqError('BAD_REQUEST', `malformed frame: ${error.message}`));
  }

  private onFrame(request: Envelope): void {
    if (this.version === undefined) {
      this.handshake(request);
      return;
    }
    if (this.in_flight >= server_connection_limits.in_flight_requests_max) {
      this.writeError(request, new MqError('BUSY', `more than ${server_connection_limits.in_flight_requests_max} requests in flight on this connection; wait for replies before sending more`));
      return;
    }
    // An API newer than the version this connection chose is refused as the older peer
    // would refuse it: the client must not rely on a server that only happens to know it.
    const in_version = isKnownRequestCode(request.code) ? apiCodecs(request.code, this.version) : undefined;
    if (in_version !== undefined && !in_version.ok) {
      this.writeError(request, new MqError('BAD_REQUEST', in_version.error.message));
      return;
    }
    let handler;
    try {
      handler = this.options.router.handlerFor(request.code);
    } catch (error) {
      this.options.log.warn({ remote: this.remote, code: request.code }, 'unknown request code answered with an error');
      this.writeError(request, toMqError(error));
      return;
    }
    const oneway = isOneway(request);
    let admitted: { client: ClientIdentity; authorize: RequestContext['authorize'] };
    try {
      admitted = this.admit(request, oneway);
    } catch (error) {
      if (!oneway) this.writeError(request, toMqError(error));
      if (this.end_after_reply) this.socket.end(() => this.socket.destroy());
      return;
    }
    const { client, authorize } = admitted;
    // Requests that arrive together start together, so their replies are all built before
    // the first is written: a handler of a large reply reserves its bytes first, and what is
    // reserved here is freed once the reply is written (or dropped).
    let reserved_bytes = 0;
    const reserveReplyBytes = (bytes: number): boolean => {
      if (this.reply_bytes_reserved + bytes > server_connection_limits.reply_bytes_reserved_max) return false;
      this.reply_bytes_reserved += bytes;
      reserved_bytes += bytes;
      return true;
    };
    this.in_flight++;
    // The body is a view into the frame's buffer, which the decoder does not reuse: a
    // handler may keep it for as long as it needs.
    Promise.resolve()
      .then(() => handler(request.body, { connection: this, code: request.code, headers: request.headers, oneway, authorize, access_control: this.options.auth !== undefined, client, reserveReplyBytes }))
      .then(
        (response) => {
          if (oneway) return;
          try {
            this.write(responseEnvelope(request, response));
          } catch (error) {
            // A response the frame cannot hold (a handler that did not bound it): a bug to
            // log and an error to answer, never a rejection that takes the process down.
            this.options.log.error({ remote: this.remote, code: request.code, err: error }, 'response could not be written');
            this.writeError(request, new MqError('INTERNAL', `the response to request ${request.code} could not be written: ${error instanceof Error ? error.message : String(error)}`));
          }
        },
        (error: unknown) => {
          const failure = toMqError(error);
          if (failure.code === 'INTERNAL') this.options.log.error({ remote: this.remote, code: request.code, err: error }, 'request failed');
          if (!oneway) this.writeError(request, failure);
        },
      )
      .finally(() => {
        this.in_flight--;
        this.options.client_usage.endRequest(client);
        this.reply_bytes_reserved -= reserved_bytes;
      });
  }

  /**
   * Who sent `request` and whether it may start: authenticated and, for admin requests,
   * authorized (ACL on), within its client's limits. Runs before anything else is done for
   * the request (frames arrive in order, so the sequence numbers the replay check sees only
   * grow). Throws the MqError to answer.
   */
  private admit(request: Envelope, oneway: boolean): { client: ClientIdentity; authorize: RequestContext['authorize'] } {
    const auth = this.options.auth;
    let authorize: RequestContext['authorize'] = () => undefined;
    let client = this.client;
    if (auth !== undefined) {
      const account = auth.authenticate(request, oneway, this.remote_ip, this.options.server_id);
      if (requestNeed(request.code) === 'admin') auth.authorize(account, { kind: 'admin' }, request.code);
      authorize = (need) => auth.authorize(account, need, request.code);
      client = this.bindAccount(account);
    }
    assert(client !== undefined, 'a connection without access control has its address as its client');
    if (request.body.byteLength > client.limits.request_bytes_max) {
      throw new MqError('MESSAGE_TOO_LARGE', `a request body of ${request.body.byteLength} bytes is more than ${client.key} may send (${client.limits.request_bytes_max})`);
    }
    // Counted here, as the last check: the request's handler ends the count (onFrame).
    if (!this.options.client_usage.startRequest(client)) {
      throw new MqError('BUSY', `${client.key} has ${client.limits.requests_in_flight_max} requests in flight on this port, its limit; wait for replies before sending more`);
    }
    return { client, authorize };
  }

  /**
   * The client of a signed request: its account, with the account's limits as the ACL has
   * them now (a reload applies to the next request). The first signed request binds the
   * connection to its account, counted against the account's connections; a connection
   * over that count is answered and closed.
   */
  private bindAccount(account: Account): ClientIdentity {
    const client = accountClient(account.accessKey, this.options.client_limits, account.limits);
    if (this.client === undefined) {
      if (!this.options.client_usage.connect(client)) {
        this.end_after_reply = true;
        // Retriable: a capacity limit, not a denial; the client may connect again once one of
        // the account's connections closes.
        throw new MqError('BUSY', `account "${account.accessKey}" has ${client.limits.connections_max} connections open on this port, its limit: close some, or raise the account's limits.connections in the ACL file`);
      }
      this.client = client;
      return client;
    }
    if (this.client.key !== client.key) {
      throw new MqError('ACCESS_DENIED', `this connection speaks for ${this.client.key}; a request of account "${account.accessKey}" needs a connection of its own`);
    }
    this.client = client;
    return client;
  }

  private handshake(request: Envelope): void {
    if (request.code !== request_codes.HELLO) {
      this.writeError(request, new MqError('BAD_REQUEST', 'the first request on a connection must be HELLO (the protocol handshake)'));
      this.refuse('first request was not HELLO');
      return;
    }
    const hello = decodeHello(request.body);
    const accepted = hello.ok ? acceptHello(hello.value, { server_id: this.options.server_id, frame_bytes_max: this.options.frame_bytes_max }) : hello;
    if (!accepted.ok) {
      this.writeError(request, new MqError('BAD_REQUEST', accepted.error.message));
      this.refuse(`handshake refused: ${accepted.error.message}`);
      return;
    }
    clearTimeout(this.handshake_timer);
    this.version = accepted.value.version;
    // Under access control HELLO proves nothing: the client id counts (e.g. for leaving its
    // groups when the connection closes) only once a signed heartbeat has set it.
    this.client_id = hello.ok && this.options.auth === undefined ? hello.value.clientId : '';
    this.write(responseEnvelope(request, encodeHelloAck(accepted.value)));
  }

  private writeError(request: Pick<Envelope, 'code' | 'correlationId'>, error: MqError): void {
    this.write(errorEnvelope(request, encodeErrorResponse({ code: error.code, message: error.message, retriable: error.retriable })));
  }

  private write(envelope: Envelope): void {
    if (!this.open) return;
    // Head and body go as two writes: a large body is not copied into a frame buffer.
    const [head, body] = encodeFrameChunks(envelope, { frame_bytes_max: this.options.frame_bytes_max });
    this.socket.write(head);
    if (body.length > 0) this.socket.write(body);
    if (this.socket.writableLength > server_connection_limits.write_buffer_bytes_max) {
      this.refuse(`peer does not read its replies (${this.socket.writableLength} bytes waiting)`);
    }
  }

  /** Closes this connection because of what the peer did; logged once. */
  private refuse(reason: string): void {
    if (!this.open) return;
    this.options.log.warn({ remote: this.remote, client: this.client_id, reason }, 'closing connection');
    this.socket.destroy();
  }

  private onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.handshake_timer);
    // An account's connections were counted at binding; an address's at TCP accept.
    if (this.client !== undefined && this.options.auth !== undefined) this.options.client_usage.disconnect(this.client);
    this.options.onClose(this);
  }
}
