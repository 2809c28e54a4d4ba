import { networkInterfaces } from 'node:os';

let cached: string | undefined;

/**
 * This client's `host:port` as stored with each message (its born host): the first
 * non-internal IPv4 address, or 127.0.0.1. The port is 0: the SDK shares one connection per
 * broker among all its objects, so no single local port names the producer.
 */
export function bornHost(): string {
  if (cached !== undefined) return cached;
  let address = '127.0.0.1';
  for (const entries of Object.values(networkInterfaces())) {
    const found = entries?.find((entry) => entry.family === 'IPv4' && !entry.internal);
    if (found !== undefined) {
      address = found.address;
      break;
    }
  }
  cached = `${address}:0`;
  return cached;
}
