import net from 'node:net';

/** Ports that were free a moment ago (bound on port 0 of 127.0.0.1 by the kernel, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<net.Server>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** A port nothing listens on (bound, then closed). */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0] as number;
}
