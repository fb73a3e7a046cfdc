import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { jobNames } from '../../shared/jobs.js';
import { testDatabase } from '../helpers/db.js';
import { seedResults } from '../helpers/results.js';
import { tempDir } from '../helpers/temp.js';

const { db, url } = await testDatabase();
const BIN = join(import.meta.dirname, '../../bin/chores.mjs');

async function chores(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await promisify(execFile)('node', [BIN, ...args], {
      env: { ...process.env, DATABASE_URL: url, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

// Each test spawns the real CLI one to seven times (tsx compiles and loads it, ~1.5–2.5 s a process
// on the 2-core machine; the six-process test took 14 s in a full run), so these get three minutes
// each instead of the suite's 10 s, as test/cli/outbox-ops.test.ts does.
describe('the chores CLI', { timeout: 180_000 }, () => {
  it('runs a job with --json printing only the stats object on stdout', async () => {
    await seedResults(db, [
      { taskId: 'cli-old', doneAgo: '9 days' },
      { taskId: 'cli-revoked', status: 'REVOKED' },
    ]);

    const { code, stdout } = await chores(['run', 'results-cleanup', '--json']);

    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ job: 'results-cleanup', deleted: 2, remaining: 0 });
  });

  it('passes --dry-run and --set through as the payload', async () => {
    await seedResults(db, [
      { taskId: 'cli-dry', doneAgo: '40 days' },
      { taskId: 'cli-dry-young', doneAgo: '10 days' },
    ]);

    const { stdout } = await chores(['run', 'results-cleanup', '--dry-run', '--set', 'olderThanDays=30', '--json']);

    expect(JSON.parse(stdout)).toMatchObject({ dryRun: true, deleted: 0, remaining: 1 });
  });

  it('exits non-zero with a one-line reason for an unknown job, a bad setting and bad rules', async () => {
    const unknown = await chores(['run', 'nope']);
    const badSetting = await chores(['run', 'results-cleanup', '--set', 'dryrun=true']);
    const badRules = await chores(['run', 'results-cleanup'], { RESULTS_RULES: '[{"keep":"7y"}]' });

    expect(unknown).toMatchObject({ code: 1, stderr: `chores: unknown job "nope" — jobs are: ${jobNames.join(', ')}\n` });
    expect(badSetting.code).toBe(1);
    expect(badSetting.stderr).toBe('chores: invalid payload for results-cleanup: unknown setting "dryrun"\n');
    expect(badRules.code).toBe(1);
    expect(badRules.stderr).toMatch(/^chores: invalid configuration: RESULTS_RULES\[0\].*bad duration "7y".*\n$/);
  });

  it('shows the last run of each job in status', async () => {
    await chores(['run', 'results-cleanup']);

    const { stdout } = await chores(['status', '--json']);

    const report = JSON.parse(stdout) as { job: string; lastRun: unknown }[];

    expect(report.map((r) => r.job)).toEqual(jobNames);
    expect(report.find((r) => r.job === 'results-cleanup')!.lastRun).toMatchObject({
      status: 'SUCCESS',
      stats: { job: 'results-cleanup' },
    });
    expect(report.find((r) => r.job === 'outbox-cleanup')!.lastRun).toBeNull();
  });

  it('manages endpoints and publishes events idempotently', async () => {
    const keys = { OUTBOX_SECRET_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}` }; // secrets are stored encrypted
    const added = await chores(
      ['endpoints', 'add', '--url', 'https://hooks.example.com/in', '--events', 'order.paid,order.refunded', '--json'],
      keys,
    );
    const refused = await chores(['endpoints', 'add', '--url', 'http://hooks.example.com/in']);
    const { id, secret } = JSON.parse(added.stdout);
    const disabled = await chores(['endpoints', 'disable', id, '--reason', 'offboarded']);
    const listed = JSON.parse((await chores(['endpoints', 'list', '--json'])).stdout);
    const first = JSON.parse(
      (await chores(['outbox', 'publish', '--type', 'order.paid', '--payload', '{"orderId":1}', '--key', 'k1', '--json'])).stdout,
    );
    const again = JSON.parse(
      (await chores(['outbox', 'publish', '--type', 'order.paid', '--payload', '{"orderId":1}', '--key', 'k1', '--json'])).stdout,
    );

    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringMatching(/^chores: refusing webhook URL .*only https/) });
    expect(disabled.stdout).toContain(`endpoint ${id} disabled`);
    expect(listed).toEqual([
      expect.objectContaining({ id, event_types: ['order.paid', 'order.refunded'], is_active: false, disabled_reason: 'offboarded' }),
    ]);
    expect(first.event).toEqual({ id: expect.any(String), created: true });
    expect(again.event).toEqual({ id: first.event.id, created: false });
    expect(first.fastPath).toEqual({ how: 'next-sweep' }); // a real DATABASE_URL and no queue: no deliveries from this machine
  });

  it('restores archived rows from the archive the run wrote', async () => {
    const dir = await tempDir('chores-cli-archive-');
    await seedResults(db, [{ taskId: 'cli-archived', doneAgo: '30 days' }]);
    await chores(['run', 'results-cleanup'], { RESULTS_ARCHIVE_URL: `file://${dir}` });

    const restore = await chores(['results', 'restore', '--task-id', 'cli-archived', '--json'], { RESULTS_ARCHIVE_URL: `file://${dir}` });
    const missingFrom = await chores(['results', 'restore', '--since', 'yesterday']);

    expect(JSON.parse(restore.stdout)).toMatchObject({ matched: 1, restored: 1 });
    expect((await db.query(`SELECT 1 FROM chores.task_results WHERE task_id = 'cli-archived'`)).rowCount).toBe(1);
    expect(missingFrom).toMatchObject({ code: 1, stderr: expect.stringMatching(/--since "yesterday" is not a date/) });
  });
});
