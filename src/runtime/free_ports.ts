import net from 'node:net';

/**
 * Ports that were free a moment ago on 127.0.0.1: each bound on port 0 by the kernel, then
 * released, all at once so that they are distinct. Whoever binds them next should do so
 * soon (another process may take one meanwhile).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<net.Server>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('a listening socket without a port');
    return address.port;
  });
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** A port nothing listens on (bound, then closed). */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0] as number;
}
