import { spawn } from 'node:child_process';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { connect, createServer as createNetServer, type Server, type Socket } from 'node:net';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { onTestFinished } from 'vitest';
import type { S3Timeouts } from '../../shared/storage/open.js';

/** Short enough that a test waits out the SDK's 3 attempts in about a second. */
export const TEST_S3_TIMEOUTS: S3Timeouts = { connectMs: 300, idleMs: 300 };

/** Must never appear in an error message. */
export const TEST_SECRET = 'test-secret-never-in-messages';

/** A client configuration as production's, pointed at `endpoint` (path-style, as s3rver needs). */
export function s3ConfigFor(endpoint: string): S3ClientConfig {
  return {
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'AKIATEST', secretAccessKey: TEST_SECRET },
  };
}

export interface StallingEndpoint {
  endpoint: string;
  /** Connections accepted so far: one per SDK attempt, since a timed-out socket is destroyed. */
  connections: () => number;
  /** `METHOD path` of each request received, in order (HTTP endpoints only). */
  requests: string[];
}

/** A TCP server on 127.0.0.1 that accepts every connection, reads what it is sent, and never answers. */
export async function silentEndpoint(): Promise<StallingEndpoint> {
  let connections = 0;
  const server = createNetServer((socket) => {
    connections += 1;
    socket.on('error', () => {});
    socket.resume();
  });
  return { endpoint: await listen(server), connections: () => connections, requests: [] };
}

/** A status with an empty body, an XML body (200), nothing at all, or 200 and 7 of 1,000 bytes. */
export type StallingAnswer = number | { xml: string } | 'stall' | 'stall-body';

/** An HTTP server on 127.0.0.1 that answers each request as `respond` says. */
export async function stallingHttpEndpoint(respond: (request: IncomingMessage) => StallingAnswer): Promise<StallingEndpoint> {
  let connections = 0;
  const requests: string[] = [];
  const server = createHttpServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    request.resume();
    const answer = respond(request);
    if (answer === 'stall') return;
    if (answer === 'stall-body') {
      response.writeHead(200, { 'content-length': '1000', 'content-type': 'application/octet-stream' });
      response.write('partial');
      return;
    }
    if (typeof answer === 'object') {
      response.writeHead(200, { 'content-type': 'application/xml' }).end(answer.xml);
      return;
    }
    response.writeHead(answer, { 'content-length': '0' }).end();
  });
  server.on('connection', (socket) => {
    connections += 1;
    socket.on('error', () => {});
  });
  return { endpoint: await listen(server), connections: () => connections, requests };
}

/**
 * A port whose listener never accepts: a child process listens with a backlog of one, then blocks
 * its event loop. Two connections fill the kernel's accept queue; the kernel then drops further
 * SYNs, so a new connection stays in its handshake, as behind a black-holed route.
 */
export async function unacceptingEndpoint(): Promise<{ endpoint: string }> {
  const listener = `const s = require('node:net').createServer();
    s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
      process.stdout.write(s.address().port + '\\n');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    });`;
  const child = spawn(process.execPath, ['-e', listener], { stdio: ['ignore', 'pipe', 'inherit'] });
  // The helpers are called inside tests, where an afterAll never ran: each run left this process behind.
  onTestFinished(() => {
    child.kill('SIGKILL');
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.stdout.once('data', (data: Buffer) => resolve(Number(String(data).trim())));
  });
  const fillers: Socket[] = [];
  for (let i = 0; i < 2; i++) {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    fillers.push(socket);
  }
  onTestFinished(() => {
    for (const socket of fillers) socket.destroy();
  });
  return { endpoint: `http://127.0.0.1:${port}` };
}

async function listen(server: Server): Promise<string> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}
