import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { afterAll } from 'vitest';
import { redisClient, type RedisClient } from '../../shared/results/redis.js';

// How long redis-server may take to accept connections. It starts in milliseconds; this covers a
// loaded 2-core machine without hanging the file if the server never comes up.
const STARTUP_LIMIT_MS = 20_000;

/**
 * A real redis-server (the Debian package) on a free loopback port, in memory only, stopped after
 * the file (and at once if it fails to start). CI installs it (.ci/run); locally: apt-get install redis-server.
 */
export async function startRedis(): Promise<{ url: string; client: RedisClient }> {
  if (spawnSync('redis-server', ['--version']).error) {
    throw new Error('redis-server is not installed: apt-get install redis-server (the Redis store tests run a real one)');
  }
  // A free port can be taken by someone else (another test file's server) between the probe and
  // redis-server's bind: ours then exits, or we reach the other one. Try again on another port, as
  // scratchServer does for Postgres.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnFreePort();
    } catch (error) {
      if (attempt >= 3 || !(error instanceof PortTaken)) throw error;
    }
  }
}

class PortTaken extends Error {}

async function startOnFreePort(): Promise<{ url: string; client: RedisClient }> {
  const port = await freePort();
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  // Stopped by the afterAll below; and whatever happens to the test file, not left behind by this process.
  const stopOnExit = () => server.kill();
  process.once('exit', stopOnExit);
  const url = `redis://127.0.0.1:${port}`;
  let client: RedisClient | undefined;
  try {
    // Wait for the port to accept before the client connects once: a client whose connect() failed
    // cannot be connected again ("Socket already opened").
    await untilAccepting(server, port);
    client = redisClient(url);
    await client.connect();
    const pid = /process_id:(\d+)/.exec(await client.info('server'))?.[1];
    if (pid !== String(server.pid)) throw new PortTaken(`port ${port} is served by redis-server ${pid}, not ours (${server.pid})`);
  } catch (error) {
    client?.destroy();
    await stop(server);
    process.off('exit', stopOnExit);
    throw error;
  }
  const connected = client;
  afterAll(async () => {
    connected.destroy();
    await stop(server);
  });
  return { url, client: connected };
}

async function untilAccepting(server: ChildProcess, port: number): Promise<void> {
  const deadline = Date.now() + STARTUP_LIMIT_MS;
  for (;;) {
    if (server.exitCode !== null || server.signalCode !== null) {
      throw new PortTaken(`redis-server on port ${port} exited during startup (${server.exitCode ?? server.signalCode})`);
    }
    if (await accepts(port)) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not accept connections on port ${port} within ${STARTUP_LIMIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** Stops the server and waits for it to exit, so no redis-server outlives the test file. */
async function stop(server: ChildProcess): Promise<void> {
  if (server.pid === undefined || server.exitCode !== null || server.signalCode !== null) return;
  const exited = once(server, 'exit');
  server.kill('SIGTERM');
  await exited;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
}
