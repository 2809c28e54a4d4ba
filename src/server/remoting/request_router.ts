import { requestCodeName } from '../../protocol/index.js';
import { MqError } from '../../runtime/errors.js';
import type { Need } from '../auth/acl.js';
import type { ClientIdentity } from './client_limits.js';
import type { ServerConnection } from './server_connection.js';

/** What a handler learns about the request besides its body. */
export interface RequestContext {
  connection: ServerConnection;
  code: number;
  headers: Record<string, string>;
  oneway: boolean;
  /**
   * Throws ACCESS_DENIED unless the request's account may do `need` (ACL on; with the ACL
   * off it allows everything). A handler of a `resource` request (auth/request_needs.ts)
   * calls it for every topic and group it touches, after decoding and before doing anything.
   */
  authorize(need: Need): void;
  /** Whether access control is on: a handler skips work done only to authorize when it is off. */
  access_control: boolean;
  /** Whose request it is (an account, or a source address with the ACL off) and that client's limits. */
  client: ClientIdentity;
  /**
   * Sets aside `bytes` of the connection's budget for replies being built
   * (server_connection_limits.reply_bytes_reserved_max) until this request's reply is written;
   * false when the budget is spent. A handler whose reply can be large (data it copies out
   * of the store) calls it before copying and answers without the data when it is refused.
   */
  reserveReplyBytes(bytes: number): boolean;
}

/**
 * Handles one request code: decodes `body` (untrusted: use the schema's decoder, which never
 * throws, and answer BAD_REQUEST on failure), does the work, returns the encoded response
 * record. Throwing an MqError answers that error; anything else thrown answers INTERNAL.
 */
export type RequestHandler = (body: Uint8Array, context: RequestContext) => Promise<Uint8Array> | Uint8Array;

/** Request code → handler, for one listener. */
export class RequestRouter {
  private readonly handlers = new Map<number, RequestHandler>();

  on(code: number, handler: RequestHandler): this {
    if (this.handlers.has(code)) throw new Error(`a handler for request code ${code} exists already`);
    this.handlers.set(code, handler);
    return this;
  }

  handlerFor(code: number): RequestHandler {
    const handler = this.handlers.get(code);
    if (handler !== undefined) return handler;
    const name = requestCodeName(code);
    throw new MqError('BAD_REQUEST', name === undefined
      ? `unknown request code ${code}; this server speaks the codes of src/protocol/codes.ts`
      : `request ${name} (${code}) is not served by this listener; send it to the right role`);
  }
}
