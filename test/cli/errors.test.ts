import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config.js';
import { runCli } from '../helpers/cli.js';
import { testDatabase } from '../helpers/db.js';
import { holdSecondHalf } from '../helpers/results.js';

const { db, url } = await testDatabase();

function chores(args: string[], env: Record<string, string> = {}) {
  return runCli(args, { ...process.env, DATABASE_URL: url, ...env });
}

const configError = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be refused');
};

describe('connection URLs that do not parse', () => {
  it('name the variable and what to fix, and never repeat the password', () => {
    const hash = configError({ DATABASE_URL: 'postgres://app:s3cr#t@db.internal:5432/app' });
    const port = configError({ DATABASE_URL: 'postgres://app:hunter2@db.internal:fivefourthreetwo/app' });
    const redis = configError({ DATABASE_URL: 'postgres://a@b/c', RESULTS_STORE: 'redis://:hunter2@cache host:6379/0' });

    expect(hash).toMatch(/^invalid configuration: DATABASE_URL: has a "#", which ends a URL.*# as %23/);
    expect(port).toMatch(
      /^invalid configuration: DATABASE_URL: is not a valid URL — expected postgres:\/\/user:password@host:5432\/database; .*port as a number/,
    );
    expect(redis).toMatch(/^invalid configuration: RESULTS_STORE: is not a valid URL — expected redis:\/\//);
    for (const message of [hash, port, redis]) expect(message).not.toMatch(/s3cr|hunter2|Invalid URL/);
  });

  it('name the result stores RESULTS_STORE takes when it is none of them', () => {
    const message = configError({ DATABASE_URL: 'postgres://a@b/c', RESULTS_STORE: 'mongo' });

    expect(message).toBe(
      'invalid configuration: RESULTS_STORE: must be one of chores, celery-db, django-celery-results, or a redis:// URL',
    );
  });

  it('accept what pg accepts, such as a space in the password', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://app:two words@db.internal/app' }).database).toMatchObject({ kind: 'url' });
  });
});

describe('CLI refusals exit 1 with one line', () => {
  it('for a bad DATABASE_URL, a restore from a directory that does not exist, and --set __proto__', async () => {
    const [badUrl, restore, proto] = await Promise.all([
      chores(['status'], { DATABASE_URL: 'postgres://app:hunter2@db.internal:port/app' }),
      chores(['results', 'restore', '--since', '2026-01-01', '--from', 'file:///nonexistent/chores-archive']),
      chores(['run', 'results-cleanup', '--set', '__proto__={"dryRun":true}']),
    ]);

    expect(badUrl).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^chores: invalid configuration: DATABASE_URL: is not a valid URL[^\n]*\n$/),
    });
    expect(badUrl.stderr).not.toContain('hunter2');
    expect(restore).toMatchObject({
      code: 1,
      stderr: 'chores: file:///nonexistent/chores-archive is not an existing directory — check the storage URL\n',
    });
    expect(proto).toMatchObject({ code: 1, stderr: 'chores: --set __proto__ is not a setting of any job; refusing it\n' });
  }, 90_000);

  it('when the run loses its job lock mid-run: the run is recorded FAILURE and the process does not crash', async () => {
    await db.query(`INSERT INTO chores.task_results (task_id, task_name, status, date_done)
      SELECT 'cli-bulk-' || i, 'app.bulk', 'SUCCESS', now() - interval '8 days' FROM generate_series(1, 20000) AS i`);

    const hold = await holdSecondHalf(db, 'app.bulk');
    const run = chores(['run', 'results-cleanup', '--set', 'batchSize=20']);
    await db.query('SELECT pg_terminate_backend($1)', [await hold.lockHolderMidRun(20000)]);
    const { code, stderr } = await run;
    await hold.release();
    const { rows: runs } = await db.query(`SELECT status FROM chores.task_results WHERE task_name = 'chores.results-cleanup'`);

    expect(code).toBe(1);
    expect(stderr).toMatch(
      /^chores: lost the results-cleanup lock: its database session ended \(terminating connection due to administrator command\)[^\n]*\n$/,
    );
    expect(runs).toEqual([{ status: 'FAILURE' }]);
  }, 90_000);
});
