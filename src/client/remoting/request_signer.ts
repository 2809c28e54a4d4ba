import { randomBytes } from 'node:crypto';
import { keyProblem, signatureHeaders } from '../../protocol/index.js';
import { MqError } from '../../runtime/errors.js';

/** An account's keys, as the SDK options take them (`accessKey`, `secretKey`). */
export interface Credentials {
  accessKey: string;
  secretKey: string;
}

/** Throws BAD_REQUEST naming what is wrong with `credentials`. */
export function checkCredentials(credentials: Credentials): void {
  const problem = keyProblem('access key', credentials.accessKey) ?? keyProblem('secret key', credentials.secretKey);
  if (problem !== undefined) throw new MqError('BAD_REQUEST', `bad credentials: ${problem}`);
}

/**
 * Signs the requests of one connection (protocol/request_signature.ts): a random session id
 * of its own and a sequence number per request, so that no signed request can be replayed.
 * The connection signs each request right before writing it: requests reach the server in
 * the order of their sequence numbers. Owned by the connection's thread.
 */
export class RequestSigner {
  private readonly session = randomBytes(16).toString('hex');
  private seq = 0;

  constructor(
    private readonly credentials: Credentials,
    /** The server id of the connection's HelloAck: the signature binds each request to it. */
    private readonly server_id: string,
    private readonly now_ms: () => number = Date.now,
  ) {
    checkCredentials(credentials);
  }

  headers(code: number, oneway: boolean, body: Uint8Array): Record<string, string> {
    this.seq += 1;
    return signatureHeaders(this.credentials.secretKey, { server_id: this.server_id, code, oneway, access_key: this.credentials.accessKey, timestamp_ms: this.now_ms(), session: this.session, seq: this.seq }, body);
  }
}
