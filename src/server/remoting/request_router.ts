import { requestCodeName } from '../../protocol/index.js';
import { MqError } from '../../runtime/errors.js';
import type { ServerConnection } from './server_connection.js';

/** What a handler learns about the request besides its body. */
export interface RequestContext {
  connection: ServerConnection;
  code: number;
  headers: Record<string, string>;
  oneway: boolean;
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
