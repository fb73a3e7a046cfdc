import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { CONNECT_TIMEOUT_MS, createPool } from '../../shared/db/pool.js';

// A server that accepts connections and never says a word: a hung proxy, a half-dead failover.
const sockets: Socket[] = [];
const silent = createServer((socket) => sockets.push(socket));
await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
const { port } = silent.address() as AddressInfo;

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));
});

describe('a pool whose server accepts the connection and never answers', () => {
  it('gives up after its connect timeout instead of waiting forever', async () => {
    const db = createPool({ kind: 'url', url: `postgres://chores@127.0.0.1:${port}/chores` }, 1, undefined, 300);

    // Without the timeout this waits forever, and the test's own timeout fails it.
    await expect(db.query('SELECT 1')).rejects.toThrow(/Connection terminated due to connection timeout/);
    await db.end();
  });

  it('is bounded by default well inside a run, as deployed', () => {
    expect(CONNECT_TIMEOUT_MS).toBeGreaterThan(0);
    expect(CONNECT_TIMEOUT_MS).toBeLessThanOrEqual(15_000);
  });
});
