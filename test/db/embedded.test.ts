import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { freeLoopbackPort, startLocalPostgres } from '../../shared/db/embedded.js';

const ROOT = join(import.meta.dirname, '../..');
const scratch = await mkdtemp(join(tmpdir(), 'chores-embedded-test-'));
await chmod(scratch, 0o755); // as root, Postgres runs as "postgres", which must reach its data directory
afterAll(() => rm(scratch, { recursive: true, force: true }));

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

describe('the embedded Postgres', () => {
  // A fresh Node process loading tsx: 1.5 s on the loaded 2-core machine, more when it is busier.
  it('leaves the exit code of the process that loads it alone', { timeout: 60_000 }, async () => {
    const script = "await import('./shared/db/embedded.ts'); process.exitCode = 3;";

    const exit = await promisify(execFile)('node', ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT }).then(
      () => 0,
      (error: { code: number }) => error.code,
    );

    expect(exit).toBe(3);
  });

  // initdb plus two starts: a few seconds on a loaded 2-core machine.
  it("reuses its own running server, refuses another checkout's on the same port, and stops what it started", {
    timeout: 60_000,
  }, async () => {
    const port = await freeLoopbackPort();
    const first = await startLocalPostgres({
      dataDir: join(scratch, 'one', 'pg'),
      port,
      persistent: true,
      portVariable: 'CHORES_LOCAL_PG_PORT',
    });
    try {
      const again = await startLocalPostgres({ dataDir: join(scratch, 'one', 'pg'), port, persistent: true });
      await again.stop(); // not ours to stop: the first server keeps running

      const other = startLocalPostgres({
        dataDir: join(scratch, 'two', 'pg'),
        port,
        persistent: true,
        portVariable: 'CHORES_LOCAL_PG_PORT',
      });

      await expect(other).rejects.toThrow(
        new RegExp(
          `^port ${port} is served by another embedded Postgres \\(data in ${join(scratch, 'one', 'pg')}\\).*CHORES_LOCAL_PG_PORT`,
        ),
      );
      expect(await answers(first.urlFor('postgres'))).toBe(true);
    } finally {
      await first.stop();
    }
    expect(await answers(first.urlFor('postgres'))).toBe(false);
  });

  it('says so in one line when the port belongs to a program that is not Postgres', async () => {
    const squatter = createServer((socket) => socket.on('error', () => {}).end('hello\n'));
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const { port } = squatter.address() as { port: number };
    try {
      const start = startLocalPostgres({
        dataDir: join(scratch, 'squatted', 'pg'),
        port,
        persistent: true,
        portVariable: 'CHORES_LOCAL_PG_PORT',
      });

      await expect(start).rejects.toThrow(
        `port ${port} on 127.0.0.1 is in use by another program, not this embedded Postgres: free it, or set CHORES_LOCAL_PG_PORT to a free port`,
      );
    } finally {
      squatter.close();
    }
  });

  it.runIf(process.getuid?.() === 0)(
    'as root, refuses a data directory the postgres user cannot reach before spawning anything',
    async () => {
      const privateHome = await mkdtemp(join(tmpdir(), 'chores-private-home-')); // mode 0700, owned by root
      const before = await readdir(tmpdir());
      try {
        const start = startLocalPostgres({ dataDir: join(privateHome, '.chores', 'pg'), port: await freeLoopbackPort(), persistent: true });

        await expect(start).rejects.toThrow(`the "postgres" user, which cannot enter ${privateHome} (mode 0700)`);
        expect(await readdir(privateHome)).toEqual([]); // initdb never ran
        expect((await readdir(tmpdir())).filter((name) => !before.includes(name) && /pg-password|chores-initdb/.test(name))).toEqual([]);
      } finally {
        await rm(privateHome, { recursive: true, force: true });
      }
    },
  );
});
