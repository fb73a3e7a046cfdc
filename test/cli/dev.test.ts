import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { freeLoopbackPort, startLocalPostgres } from '../../shared/db/embedded.js';
import { jobNames } from '../../shared/jobs.js';

const BIN = join(import.meta.dirname, '../../bin/chores.mjs');
const home = await mkdtemp(join(tmpdir(), 'chores-dev-home-'));
// As root, Postgres runs as its own user, which must be able to reach its data directory
// (mkdtemp makes the directory private; a project checkout is not).
await chmod(home, 0o755);
afterAll(() => rm(home, { recursive: true, force: true }));

const pgPort = await freeLoopbackPort();
const { DATABASE_URL: _ignored, ...inherited } = process.env; // the embedded database, as a newcomer gets
const env = { ...inherited, CHORES_HOME: home, CHORES_LOCAL_PG_PORT: String(pgPort), CHORES_DEV_RECEIVER_PORT: '0' };
const chores = (args: string[]) => promisify(execFile)('node', [BIN, ...args], { env, timeout: 90_000 });

/** The same embedded server the CLI uses, started by the test to arrange or inspect its state. */
async function withLocalDatabase<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const server = await startLocalPostgres({ dataDir: join(home, 'pg'), port: pgPort, persistent: true });
  const client = new pg.Client({ connectionString: server.urlFor('chores') });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
    await server.stop();
  }
}

describe('chores dev', () => {
  // Two cold starts of the whole local stack (initdb, migrations, demo data, every job).
  it('brings up the local stack on an empty machine, runs every job once and exits 0', { timeout: 180_000 }, async () => {
    const { stdout } = await chores(['dev', '--once']);

    for (const job of jobNames) expect(stdout).toMatch(new RegExp(`${job}\\s+\\w+=`));
    expect(stdout).toContain(`embedded Postgres ready, data in ${home} `); // CHORES_HOME, where the data really is
    expect(stdout).toContain('seeded 2000 task results, a demo endpoint, 3 events and 7 uploads');
    // The three demo events and two expiry notices, each verified by the receiver's own check.
    expect(stdout.match(/webhook {2}✓ .* \(signature verified\)/g)).toHaveLength(5);
    expect(stdout).toMatch(/uploads-notify\s+notified=2 skipped=0/);
    expect(stdout).toMatch(/uploads-cleanup\s+deleted=2 missing=1 shared=0 failed=0/);
    expect(stdout).not.toMatch(/✗|FAILED/);

    // A second pass on the same state, for scripts: nothing left to do, every job ran.
    const again = await chores(['dev', '--once', '--json']);
    const runs = JSON.parse(again.stdout) as { job: string; notified?: number; deleted?: number }[];

    expect(runs.map((run) => run.job).sort()).toEqual([...jobNames].sort());
    expect(runs.find((run) => run.job === 'uploads-notify')!.notified).toBe(0);
    expect(runs.find((run) => run.job === 'results-cleanup')!.deleted).toBe(0);
  });

  // One CLI process; the embedded server starts (and is initialised if this test runs alone).
  it('takes a relative CHORES_HOME as relative to the directory it runs in', { timeout: 90_000 }, async () => {
    const relative = { ...env, CHORES_HOME: basename(home) };

    const { stdout } = await promisify(execFile)('node', [BIN, 'run', 'uploads-cleanup', '--dry-run', '--json'], {
      env: relative,
      cwd: dirname(home),
      timeout: 90_000,
    });

    expect(JSON.parse(stdout)).toMatchObject({ job: 'uploads-cleanup', dryRun: true, failed: 0 });
  });

  // Three CLI processes and two embedded-server starts.
  it('on Ctrl-C mid-delivery lets the running job finish and record itself, then stops Postgres', { timeout: 180_000 }, async () => {
    // A subscriber that answers only once dev has taken the Ctrl-C, so the sweep is mid-POST when
    // the signal lands however slowly this machine runs. (A reply after a fixed second could come
    // first on a starved machine: the job would end, the next start, and the test would fail.)
    let onRequest: () => void = () => {};
    const requested = new Promise<void>((resolve) => (onRequest = resolve));
    let released = false;
    const held: ServerResponse[] = [];
    const answer = (res: ServerResponse) => res.writeHead(200).end('ok');
    const slow: Server = createServer((req, res) => {
      req.resume();
      if (released) answer(res);
      else held.push(res);
      onRequest();
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const slowUrl = `http://127.0.0.1:${(slow.address() as { port: number }).port}/slow`;
    await chores(['endpoints', 'add', '--url', slowUrl, '--events', 'slow.test']);
    await withLocalDatabase((client) => client.query(`INSERT INTO chores.outbox_events (event_type, payload) VALUES ('slow.test', '{}')`));

    // Its own process group, like a terminal's foreground job: Ctrl-C signals the whole group.
    const dev = spawn('node', [BIN, 'dev'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    dev.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    dev.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => dev.once('exit', (code) => resolve(code)));
    const stopping = new Promise<void>((resolve) =>
      dev.stdout.on('data', () => stdout.includes('stopping: waiting for the running job') && resolve()),
    );
    await requested;
    process.kill(-dev.pid!, 'SIGINT');
    await Promise.race([stopping, exited]); // dev has taken the signal (or died, which the asserts report)
    released = true;
    for (const res of held.splice(0)) answer(res);
    const code = await exited;
    slow.close();

    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/stopping: waiting for the running job/);
    expect(stdout).toMatch(/outbox-deliver\s+processed=\d+ delivered=\d+ /);
    expect(stdout).not.toMatch(/uploads-cleanup\s/); // later jobs of the first pass did not start
    expect(existsSync(join(home, 'pg', 'postmaster.pid'))).toBe(false); // Postgres shut down cleanly
    const { runs, slowDelivery } = await withLocalDatabase(async (client) => ({
      runs: (
        await client.query(`SELECT status FROM chores.task_results WHERE task_name = 'chores.outbox-deliver' ORDER BY date_created DESC`)
      ).rows,
      slowDelivery: (
        await client.query(
          `SELECT d.status FROM chores.webhook_deliveries d JOIN chores.webhook_endpoints e ON e.id = d.endpoint_id WHERE e.url = $1`,
          [slowUrl],
        )
      ).rows,
    }));
    expect(slowDelivery).toEqual([{ status: 'delivered' }]); // the POST in flight at Ctrl-C completed and was recorded
    expect(runs[0]).toEqual({ status: 'SUCCESS' });
    expect(runs.filter((run) => run.status === 'STARTED')).toEqual([]);
  });
});
