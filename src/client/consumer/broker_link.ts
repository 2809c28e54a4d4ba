import type { RequestBody } from '../remoting/client_connection.js';

/**
 * How the consumer's parts reach a broker group: by name, not address. The implementation
 * (consumer.ts) finds the group's master in the cached routes and sends over the client's
 * shared connection pool, so the parts never hold a connection that may have been replaced.
 */
export interface BrokerLink {
  /** Resolves with the reply's body; rejects with the broker's MqError, NO_ROUTE, TIMEOUT, ... */
  request(broker_name: string, code: number, body: RequestBody, timeout_ms: number): Promise<Uint8Array>;
}
