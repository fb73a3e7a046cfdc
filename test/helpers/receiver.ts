import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll } from 'vitest';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  delayMs?: number;
  /** Answer only once this settles: a test holds requests until it has seen what it waits for. */
  after?: Promise<unknown>;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Replace how the receiver answers; defaults to 200 "ok". */
  respond(fn: (request: Received) => Reply): void;
}

/** A real HTTP server on 127.0.0.1 that records every request; closed after the file. */
export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  let answer: (request: Received) => Reply = () => ({ status: 200, body: 'ok' });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = { path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: performance.now() };
      received.push(request);
      const reply = answer(request);
      void Promise.resolve(reply.after).then(() =>
        setTimeout(() => {
          if (res.destroyed) return;
          res.writeHead(reply.status ?? 200, reply.headers).end(reply.body ?? '');
        }, reply.delayMs ?? 0),
      );
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    respond: (fn) => {
      answer = fn;
    },
  };
}
