import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll } from 'vitest';
import { redisClient, type RedisClient } from '../../shared/results/redis.js';

/**
 * A real redis-server (the Debian package) on a free loopback port, in memory only, stopped after
 * the file. CI installs it (.ci/run); locally: apt-get install redis-server.
 */
export async function startRedis(): Promise<{ url: string; client: RedisClient }> {
  if (spawnSync('redis-server', ['--version']).error) {
    throw new Error('redis-server is not installed: apt-get install redis-server (the Redis store tests run a real one)');
  }
  const port = await freePort();
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const client: RedisClient = redisClient(url);
  for (let attempt = 0; ; attempt++) {
    try {
      await client.connect();
      break;
    } catch (error) {
      if (attempt > 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  afterAll(async () => {
    client.destroy();
    server.kill();
  });
  return { url, client };
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
