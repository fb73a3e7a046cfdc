import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { jobNames } from '../../shared/jobs.js';

const BIN = join(import.meta.dirname, '../../bin/chores.mjs');
const home = await mkdtemp(join(tmpdir(), 'chores-dev-home-'));
// As root, Postgres runs as its own user, which must be able to reach its data directory
// (mkdtemp makes the directory private; a project checkout is not).
await chmod(home, 0o755);
afterAll(() => rm(home, { recursive: true, force: true }));

describe('chores dev --once', () => {
  it('brings up the local stack on an empty machine, runs every job once and exits 0', async () => {
    const { DATABASE_URL: _ignored, ...inherited } = process.env; // the embedded database, as a newcomer gets
    const env = { ...inherited, CHORES_HOME: home, CHORES_LOCAL_PG_PORT: String(56_000 + (process.pid % 3_000)), CHORES_DEV_RECEIVER_PORT: '0' };

    const { stdout } = await promisify(execFile)('node', [BIN, 'dev', '--once'], { env, timeout: 90_000 });

    for (const job of jobNames) expect(stdout).toMatch(new RegExp(`${job}\\s+\\w+=`));
    expect(stdout).toContain('seeded 2000 task results, a demo endpoint, 3 events and 7 uploads');
    // The three demo events and two expiry notices, each verified by the receiver's own check.
    expect(stdout.match(/webhook {2}✓ .* \(signature verified\)/g)).toHaveLength(5);
    expect(stdout).toMatch(/uploads-notify\s+notified=2 skipped=0/);
    expect(stdout).toMatch(/uploads-cleanup\s+deleted=2 missing=1 shared=0 failed=0/);
    expect(stdout).not.toMatch(/✗|FAILED/);

    // A second pass on the same state, for scripts: nothing left to do, every job ran.
    const again = await promisify(execFile)('node', [BIN, 'dev', '--once', '--json'], { env, timeout: 90_000 });
    const runs = JSON.parse(again.stdout) as { job: string; notified?: number; deleted?: number }[];

    expect(runs.map((run) => run.job).sort()).toEqual([...jobNames].sort());
    expect(runs.find((run) => run.job === 'uploads-notify')!.notified).toBe(0);
    expect(runs.find((run) => run.job === 'results-cleanup')!.deleted).toBe(0);
  });
});
