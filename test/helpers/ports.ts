import { createServer, type AddressInfo } from 'node:net';

/** A loopback port nothing listens on (free when probed): a server that is down. */
export function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}
