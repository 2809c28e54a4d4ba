import { MqError } from '../runtime/errors.js';
import type { PoolLease } from './connection_pool.js';
import type { RequestBody, VersionedReply } from './remoting/client_connection.js';

/**
 * Requests to "any nameserver that answers": the one that answered last is asked first;
 * when it cannot be reached (or does not answer in time) the next one is asked, and so on
 * through the list. An answer, error answers included (TOPIC_NOT_FOUND, NO_ROUTE), ends the
 * search: nameservers share one registry, so another one would say the same.
 */
export class NamesrvClient {
  private preferred = 0;

  constructor(
    private readonly lease: PoolLease,
    readonly addresses: readonly string[],
    private readonly timeout_ms: number,
  ) {}

  /** The address answered last (where route subscriptions are kept). */
  get current_address(): string {
    return this.addresses[this.preferred] as string;
  }

  async request(code: number, body: RequestBody): Promise<Uint8Array> {
    return (await this.requestVersioned(code, body)).body;
  }

  /** As `request`, with the protocol version the reply is written in (to pick the decoder). */
  async requestVersioned(code: number, body: RequestBody): Promise<VersionedReply> {
    const failures: string[] = [];
    for (let tried = 0; tried < this.addresses.length; tried++) {
      const index = (this.preferred + tried) % this.addresses.length;
      const address = this.addresses[index] as string;
      try {
        const reply = await this.lease.requestVersioned(address, code, body, { timeout_ms: this.timeout_ms });
        this.preferred = index;
        return reply;
      } catch (error) {
        if (!(error instanceof MqError) || !isUnreachable(error)) throw error;
        failures.push(`${address}: ${error.message}`);
      }
    }
    throw new MqError('BROKER_UNAVAILABLE', `no nameserver answered (${failures.join('; ')}); check that one runs at the addresses given as namesrv`);
  }
}

/** Errors that say "this server did not answer" rather than "this server said no". */
export function isUnreachable(error: MqError): boolean {
  return error.code === 'BROKER_UNAVAILABLE' || error.code === 'TIMEOUT' || error.code === 'BUSY' || (error.code === 'SHUTTING_DOWN' && error.retriable);
}
