import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ABANDONED_RUN_MARGIN_SECONDS } from '../../shared/runtime/record-run.js';
import { jobStatuses } from '../../shared/runtime/status.js';
import { schema, testDatabase } from '../helpers/db.js';
import { freshEntry, lambdaContext } from '../helpers/lambda.js';
import { holdSecondHalf } from '../helpers/results.js';

const { db, url } = await testDatabase();

/** The real results-cleanup Lambda entry, fresh, against this file's database. */
const importHandler = () => freshEntry(() => import('../../functions/results-cleanup.js'), { DATABASE_URL: url });

async function expiredLeft(): Promise<number> {
  const { rows } = await db.query(`SELECT count(*)::int AS n FROM chores.task_results WHERE task_name = 'app.bulk'`);
  return rows[0].n;
}

async function runsOf(taskName: string) {
  const { rows } = await db.query(
    `SELECT task_id, status, result, date_created, date_done FROM chores.task_results WHERE task_name = $1 ORDER BY date_created`,
    [taskName],
  );
  return rows;
}

beforeEach(async () => {
  await db.query('TRUNCATE chores.task_results');
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describe('losing the job lock mid-run', () => {
  // Seeds 20,000 rows and runs two cleanups over them in batches of 20.
  it('stops the run at once, records FAILURE through another connection, throws one line, and the rerun completes', {
    timeout: 60_000,
  }, async () => {
    const total = 20_000;
    await db.query(`INSERT INTO chores.task_results (task_id, task_name, status, date_done)
      SELECT 'bulk-' || i, 'app.bulk', 'SUCCESS', now() - interval '8 days' FROM generate_series(1, ${total}) AS i`);
    const handler = await importHandler();
    const batchSize = 20;

    const hold = await holdSecondHalf(db, 'app.bulk');
    const outcome = handler({ batchSize }, lambdaContext()).then(
      (value) => ({ value }),
      (error: Error) => ({ error }),
    );
    const pid = await hold.lockHolderMidRun(total);
    await db.query('SELECT pg_terminate_backend($1)', [pid]); // what a failover or a proxy idle kill does
    const leftAtLoss = await expiredLeft();
    const settled = await outcome;
    await hold.release();
    const leftAfter = await expiredLeft();

    expect(settled).toEqual({ error: expect.objectContaining({ name: 'LockLostError' }) });
    const error = (settled as { error: Error }).error;
    expect(error.message).toMatch(
      /^lost the results-cleanup lock: its database session ended \(terminating connection due to administrator command\)/,
    );
    expect(error.message).not.toContain('\n');
    // The session's end reaches the run's lock client a moment after the terminate returns (the
    // backend handles its signal, then the socket closes), so a batch or two may still start in
    // that moment, and the one in flight finishes; a run that carried on would delete all 20,000.
    // A batch here is a heap-order range sized by time (one page first, then growing toward 50 ms),
    // not batchSize rows, so the bound is half of what was left rather than five batches of 20.
    expect(leftAtLoss - leftAfter).toBeLessThanOrEqual(leftAtLoss / 2);
    expect(leftAfter).toBeGreaterThan(0);
    const [failed] = await runsOf('chores.results-cleanup');
    expect(failed).toMatchObject({ status: 'FAILURE', result: { exc_type: 'LockLostError', exc_message: error.message } });

    const rerun = (await handler({ batchSize: 10_000 }, lambdaContext())) as Record<string, unknown>;

    expect(rerun).toMatchObject({ deleted: leftAfter, remaining: 0, truncated: false });
    expect((await runsOf('chores.results-cleanup')).map((run) => run.status)).toEqual(['FAILURE', 'SUCCESS']);
  });
});

describe('runs left STARTED by a process that died', () => {
  async function startedRun(id: string, job: string, ageSeconds: number) {
    await db.query(
      `INSERT INTO chores.task_results (task_id, task_name, status, date_created) VALUES ($1, $2, 'STARTED', now() - $3::int * interval '1 second')`,
      [id, `chores.${job}`, ageSeconds],
    );
  }
  const pastTimeout = (timeoutSeconds: number) => timeoutSeconds + ABANDONED_RUN_MARGIN_SECONDS + 60;

  it('are marked FAILURE, with the reason, by the next run of their job once past its timeout', async () => {
    await startedRun('crashed', 'results-cleanup', pastTimeout(900));
    await startedRun('maybe-running', 'results-cleanup', 600); // within the timeout: could still be alive
    await startedRun('other-job', 'uploads-notify', pastTimeout(120));
    const handler = await importHandler();

    await handler({}, lambdaContext());
    const runs = Object.fromEntries((await runsOf('chores.results-cleanup')).map((run) => [run.task_id, run]));

    expect(runs.crashed).toMatchObject({
      status: 'FAILURE',
      result: {
        exc_type: 'AbandonedRun',
        exc_message: expect.stringMatching(/no outcome within its job's 900 s timeout.*marked by the next results-cleanup run/),
      },
    });
    // Dated when it ended at the latest, not now: history and the heartbeat keep their times.
    expect(runs.crashed.date_done.getTime() - runs.crashed.date_created.getTime()).toBe(900_000);
    expect(runs['maybe-running']!.status).toBe('STARTED');
    expect((await runsOf('chores.uploads-notify'))[0].status).toBe('STARTED'); // not this job's to judge
  });

  it('are marked FAILURE by chores status, which then shows the failure as the last run', async () => {
    await startedRun('crashed-notify', 'uploads-notify', pastTimeout(120));
    await startedRun('running-cleanup', 'uploads-cleanup', 60);

    const report = await jobStatuses(db, schema);
    const byJob = Object.fromEntries(report.map((r) => [r.job, r]));

    expect(byJob['uploads-notify']!.lastRun).toMatchObject({ status: 'FAILURE', stats: { exc_type: 'AbandonedRun' } });
    expect(byJob['uploads-cleanup']!.lastRun).toMatchObject({ status: 'STARTED' });
    expect((await runsOf('chores.uploads-notify'))[0].result.exc_message).toMatch(/120 s timeout.*marked by chores status/);
  });
});
