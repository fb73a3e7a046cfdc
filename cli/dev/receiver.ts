import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { ChoresError } from '../../shared/errors.js';

export interface DemoReceiver {
  url: string;
  received: number;
  close(): Promise<void>;
}

/**
 * The demo endpoint: a webhook receiver on 127.0.0.1 that verifies each request's Standard
 * Webhooks signature, as a subscriber would, and logs it.
 */
export async function startDemoReceiver(
  port: number,
  secretFor: () => Promise<string | undefined>,
  log: (line: string) => void,
): Promise<DemoReceiver> {
  const receiver = { url: '', received: 0, close: async () => {} };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const secret = await secretFor();
      try {
        if (!secret) throw new Error('no demo endpoint secret');
        const event = new Webhook(secret).verify(body, req.headers as Record<string, string>) as { type: string };
        receiver.received += 1;
        log(`webhook  ✓ ${event.type} ${req.headers['webhook-id']} (signature verified)`);
        res.writeHead(200).end('ok');
      } catch (error) {
        log(`webhook  ✗ ${req.headers['webhook-id'] ?? '?'} rejected: ${(error as Error).message}`);
        res.writeHead(400).end('bad signature');
      }
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve)).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EADDRINUSE') throw error;
      throw new ChoresError(
        `port ${port} for the demo webhook receiver is in use: set CHORES_DEV_RECEIVER_PORT to a free port (0 picks one)`,
      );
    },
  );
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`;
  receiver.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}
