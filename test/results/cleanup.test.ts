import { beforeEach, describe, expect, it } from 'vitest';
import { nativeTable } from '../../shared/results/stores.js';
import { cleanupResults, type ResultsCleanupInput } from '../../shared/results/cleanup.js';
import { parseRules } from '../../shared/results/rules.js';
import type { AccessPath } from '../../shared/tables/policies.js';
import { budgetUntil, UNLIMITED_BUDGET } from '../../shared/runtime/budget.js';
import { schema, testDatabase } from '../helpers/db.js';
import { remainingTaskIds, seedResults } from '../helpers/results.js';

const { db } = await testDatabase();

const PATHS: AccessPath[] = ['heap', 'index'];
// Set by the enclosing describe.each: every behaviour below holds on both access paths.
let accessPath: AccessPath = 'heap';

function run(rulesJson: string, overrides: Partial<ResultsCleanupInput> = {}) {
  return cleanupResults({
    db,
    table: nativeTable(schema),
    rules: parseRules(rulesJson),
    budget: UNLIMITED_BUDGET,
    runId: 'test-run',
    ...overrides,
    settings: { dryRun: false, batchSize: 1000, ...overrides.settings, accessPath },
  });
}

beforeEach(async () => {
  await db.query('TRUNCATE chores.task_results');
});

describe.each(PATHS)('on the %s path', (path) => {
  beforeEach(() => {
    accessPath = path;
  });

  describe('results-cleanup retention rules', () => {
    it('applies the first matching rule, so an earlier rule shields rows from later ones', async () => {
      await seedResults(db, [
        { taskId: 'audit-old', taskName: 'audit.log_access', doneAgo: '400 days' },
        { taskId: 'report-old', taskName: 'reports.build', doneAgo: '3 days' },
        { taskId: 'report-young', taskName: 'reports.build', doneAgo: '1 hour' },
        { taskId: 'other-old', taskName: 'app.send_mail', doneAgo: '8 days' },
        { taskId: 'other-young', taskName: 'app.send_mail', doneAgo: '6 days' },
      ]);

      const stats = await run('[{"task":"audit.*","keep":"never"},{"task":"reports.*","keep":"2d"},{"keep":"7d"}]');

      expect(await remainingTaskIds(db)).toEqual(['audit-old', 'other-young', 'report-young']);
      expect(stats.byRule).toEqual({ 'task=audit.* keep=never': 0, 'task=reports.* keep=2d': 1, 'keep=7d': 1, expires_at: 0 });
      expect(stats).toMatchObject({ deleted: 2, remaining: 0, truncated: false, countsEstimated: true });
    });

    it('matches ? as one character and treats LIKE metacharacters in names literally', async () => {
      await seedResults(db, [
        { taskId: 'a1', taskName: 'jobs.a1', doneAgo: '1 day' },
        { taskId: 'a10', taskName: 'jobs.a10', doneAgo: '1 day' },
        { taskId: 'underscore', taskName: 'jobs_x1', doneAgo: '1 day' },
      ]);

      await run('[{"task":"jobs.a?","keep":"1h"}]');

      expect(await remainingTaskIds(db)).toEqual(['a10', 'underscore']);
    });

    it('combines a status and a task glob in one rule', async () => {
      await seedResults(db, [
        { taskId: 'revoked-mail', taskName: 'mail.send', status: 'REVOKED', doneAgo: '1 minute' },
        { taskId: 'revoked-other', taskName: 'app.other', status: 'REVOKED', doneAgo: '1 minute' },
        { taskId: 'ok-mail', taskName: 'mail.send', status: 'SUCCESS', doneAgo: '1 minute' },
      ]);

      const stats = await run('[{"task":"mail.*","status":"REVOKED","keep":"0s"}]');

      expect(await remainingTaskIds(db)).toEqual(['ok-mail', 'revoked-other']);
      expect(stats.deleted).toBe(1);
    });

    it('lets a producer-set expires_at override every rule, in both directions', async () => {
      await seedResults(db, [
        { taskId: 'audit-expired', taskName: 'audit.x', doneAgo: '1 hour', expiresIn: '-1 minute' },
        { taskId: 'old-but-pinned', taskName: 'app.x', doneAgo: '30 days', expiresIn: '1 day' },
        { taskId: 'old-plain', taskName: 'app.x', doneAgo: '30 days' },
      ]);

      const stats = await run('[{"task":"audit.*","keep":"never"},{"keep":"7d"}]');

      expect(await remainingTaskIds(db)).toEqual(['old-but-pinned']);
      expect(stats.byRule.expires_at).toBe(1);
      expect(stats.byRule['keep=7d']).toBe(1);
    });

    it('measures age from date_created when a task never finished', async () => {
      await seedResults(db, [
        { taskId: 'stuck-pending', status: 'PENDING', doneAgo: null, createdAgo: '10 days' },
        { taskId: 'young-pending', status: 'PENDING', doneAgo: null, createdAgo: '1 day' },
        { taskId: 'recently-done', status: 'SUCCESS', doneAgo: '1 day', createdAgo: '10 days' },
      ]);

      await run('[{"keep":"7d"}]');

      expect(await remainingTaskIds(db)).toEqual(['recently-done', 'young-pending']);
    });

    it('keeps a task with no name out of task-glob rules but inside later catch-all rules', async () => {
      await seedResults(db, [{ taskId: 'nameless', taskName: null, doneAgo: '2 days' }]);

      const stats = await run('[{"task":"audit.*","keep":"never"},{"keep":"1d"}]');

      expect(await remainingTaskIds(db)).toEqual([]);
      expect(stats.byRule['keep=1d']).toBe(1);
    });

    it('with the default rules removes REVOKED at once and the rest after 7 days', async () => {
      await seedResults(db, [
        { taskId: 'revoked-now', status: 'REVOKED', doneAgo: '1 second' },
        { taskId: 'ok-6d', doneAgo: '6 days' },
        { taskId: 'ok-8d', doneAgo: '8 days' },
      ]);

      await run('[{"status":"REVOKED","keep":"0s"},{"keep":"7d"}]');

      expect(await remainingTaskIds(db)).toEqual(['ok-6d']);
    });
  });

  describe('results-cleanup runs', () => {
    it('in a dry run counts what each rule would delete and deletes nothing', async () => {
      await seedResults(db, [
        { taskId: 'r1', status: 'REVOKED' },
        { taskId: 'r2', status: 'REVOKED' },
        { taskId: 'old', doneAgo: '9 days' },
        { taskId: 'young', doneAgo: '1 day' },
        { taskId: 'gone', doneAgo: '1 day', expiresIn: '-1 second' },
      ]);

      const stats = await run('[{"status":"REVOKED","keep":"0s"},{"keep":"7d"}]', {
        settings: { dryRun: true, batchSize: 1000 },
      });

      expect(stats).toMatchObject({ dryRun: true, deleted: 0, wouldDelete: 4, remaining: 4, batches: 0 });
      expect(stats.byRule).toEqual({ 'status=REVOKED keep=0s': 2, 'keep=7d': 1, expires_at: 1 });
      expect(await remainingTaskIds(db)).toHaveLength(5);
    });

    it.runIf(path === 'index')('deletes in batches no larger than the batch size', async () => {
      await db.query(`INSERT INTO chores.task_results (task_id, status, date_done)
      SELECT 'bulk-' || i, 'SUCCESS', now() - interval '30 days' FROM generate_series(1, 250) AS i`);

      const stats = await run('[{"keep":"7d"}]', { settings: { dryRun: false, batchSize: 100 } });

      // 100 + 100 + 50: the short third batch tells the pass it is done.
      expect(stats).toMatchObject({ deleted: 250, batches: 3, remaining: 0 });
    });

    it.runIf(path === 'index')('stops when the time budget is spent and reports what is left as remaining', async () => {
      await db.query(`INSERT INTO chores.task_results (task_id, status, date_done)
      SELECT 'bulk-' || i, 'SUCCESS', now() - interval '30 days' FROM generate_series(1, 500) AS i`);

      const stats = await run('[{"keep":"7d"}]', {
        settings: { dryRun: false, batchSize: 100 },
        budget: budgetUntil(Date.now() - 1),
      });

      // The budget is only checked after the first rows go, so a mis-sized budget still makes progress.
      expect(stats).toMatchObject({ deleted: 100, batches: 1, remaining: 400, truncated: true });
    });

    it('narrows a run with olderThanDays without widening any rule', async () => {
      await seedResults(db, [
        { taskId: 'revoked-2d', status: 'REVOKED', doneAgo: '2 days' },
        { taskId: 'revoked-40d', status: 'REVOKED', doneAgo: '40 days' },
        { taskId: 'ok-40d', doneAgo: '40 days' },
        { taskId: 'audit-40d', taskName: 'audit.x', doneAgo: '40 days' },
      ]);

      await run('[{"task":"audit.*","keep":"never"},{"status":"REVOKED","keep":"0s"},{"keep":"7d"}]', {
        settings: { dryRun: false, batchSize: 1000, olderThanDays: 30 },
      });

      expect(await remainingTaskIds(db)).toEqual(['audit-40d', 'revoked-2d']);
    });

    it('resumes each batch where the last stopped without missing rows that share an age', async () => {
      // 30 deletable rows with only three distinct ages, interleaved with shielded audit rows, so
      // batch boundaries fall inside runs of equal ages.
      await db.query(`INSERT INTO chores.task_results (task_id, task_name, status, date_done)
      SELECT 'r-' || i, CASE WHEN i % 2 = 0 THEN 'audit.x' ELSE 'app.x' END, 'SUCCESS',
             date_trunc('day', now()) - interval '20 days' - (i % 3) * interval '1 day'
      FROM generate_series(1, 60) AS i`);

      const stats = await run('[{"task":"audit.*","keep":"never"},{"keep":"7d"}]', { settings: { dryRun: false, batchSize: 7 } });

      expect(stats).toMatchObject({ deleted: 30, remaining: 0 });
      expect((await remainingTaskIds(db)).every((id) => Number(id.slice(2)) % 2 === 0)).toBe(true);
    });

    it.runIf(path === 'heap')(
      'stops a heap sweep after its first range when the time budget is spent, reporting the rest as remaining',
      async () => {
        await db.query(`INSERT INTO chores.task_results (task_id, status, date_done)
      SELECT 'bulk-' || i, 'SUCCESS', now() - interval '30 days' FROM generate_series(1, 2000) AS i`);

        const stats = await run('[{"keep":"7d"}]', { settings: { dryRun: false, batchSize: 100 }, budget: budgetUntil(Date.now() - 1) });

        // The first range (one page, sized for 100 rows) goes; the budget then stops the sweep.
        expect(stats).toMatchObject({ accessPath: 'heap', truncated: true, batches: 1 });
        expect(stats.deleted).toBeGreaterThan(0);
        expect(stats.deleted).toBeLessThan(2000);
        expect(stats.remaining).toBe(2000 - stats.deleted);
      },
    );

    it('skips rows another transaction has locked instead of waiting for them', async () => {
      await seedResults(db, [
        { taskId: 'locked', doneAgo: '30 days' },
        { taskId: 'free', doneAgo: '30 days' },
      ]);
      const holder = await db.connect();
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM chores.task_results WHERE task_id = 'locked' FOR UPDATE`);

      try {
        const stats = await run('[{"keep":"7d"}]');

        expect(stats).toMatchObject({ deleted: 1, remaining: 1, byRule: { 'keep=7d': 1, expires_at: 0 } });
        // The heap DELETE met the held row, gave up after lock_timeout and redid the range around it.
        expect(stats.retriedRanges).toBe(path === 'heap' ? 1 : 0);
        expect(await remainingTaskIds(db)).toEqual(['locked']);
      } finally {
        await holder.query('ROLLBACK');
        holder.release();
      }
    });
  });
});

describe('choosing the access path', () => {
  const dryRun = () =>
    cleanupResults({
      db,
      table: nativeTable(schema),
      rules: parseRules('[{"keep":"7d"}]'),
      settings: { dryRun: true, batchSize: 1000 },
      budget: UNLIMITED_BUDGET,
      runId: 'path',
    });

  it('walks the index when the planner expects few eligible rows in the table, and sweeps the heap when many', async () => {
    // 20,000 results, 1% past retention: the walk touches only those.
    await db.query(`INSERT INTO chores.task_results (task_id, status, date_done)
      SELECT 'r-' || i, 'SUCCESS', now() - CASE WHEN i % 100 = 0 THEN interval '30 days' ELSE interval '1 day' END
      FROM generate_series(1, 20000) AS i`);
    await db.query('ANALYZE chores.task_results');
    const few = await dryRun();
    await db.query(`UPDATE chores.task_results SET date_done = now() - interval '30 days' WHERE right(task_id, 1) < '7'`);
    await db.query('ANALYZE chores.task_results');
    const many = await dryRun();

    expect(few).toMatchObject({ accessPath: 'index', pathReason: expect.stringMatching(/^~1% of rows eligible/) });
    expect(many).toMatchObject({ accessPath: 'heap', pathReason: expect.stringMatching(/^~7\d% of rows eligible/) });
  });

  it('refreshes statistics a bulk load made stale before choosing, and says so', async () => {
    // 10,000 fresh results, analyzed; then 20,000 old ones loaded at once (an import, a backfill).
    await db.query(`INSERT INTO chores.task_results (task_id, status, date_done)
      SELECT 'fresh-' || i, 'SUCCESS', now() - interval '1 day' FROM generate_series(1, 10000) AS i`);
    await db.query('ANALYZE chores.task_results');
    const loader = await db.connect();
    try {
      await loader.query(`INSERT INTO chores.task_results (task_id, status, date_done)
        SELECT 'old-' || i, 'SUCCESS', now() - interval '30 days' FROM generate_series(1, 20000) AS i`);
      // Postgres counts changes per backend and publishes them when it is idle: now, not in a second.
      await loader.query('SELECT pg_stat_force_next_flush()');
    } finally {
      loader.release();
    }

    const stats = await dryRun();

    // The statistics of the 10,000 fresh rows alone put the old ones at ~0%: an index walk over 67% of the table.
    expect(stats).toMatchObject({
      accessPath: 'heap',
      pathReason: expect.stringMatching(/^~6\d% of rows eligible: .*statistics refreshed first: \d+ rows had changed/),
    });
  });

  it('reports before and after as the planner estimates them, flagged, and what remains exactly', async () => {
    await db.query(`INSERT INTO chores.task_results (task_id, status, date_done)
      SELECT 'r-' || i, 'SUCCESS', now() - CASE WHEN i % 4 = 0 THEN interval '30 days' ELSE interval '1 day' END
      FROM generate_series(1, 4000) AS i`);
    await db.query('ANALYZE chores.task_results');
    // Rows the statistics have not seen: the planner scales its count to the table's pages.
    await db.query(`INSERT INTO chores.task_results (task_id, status, date_done)
      SELECT 'late-' || i, 'SUCCESS', now() FROM generate_series(1, 4000) AS i`);

    const dry = await dryRun();
    const real = await run('[{"keep":"7d"}]');

    expect(dry).toMatchObject({ countsEstimated: true, wouldDelete: 1000, remaining: 1000 });
    expect(Math.abs(dry.before - 8000)).toBeLessThan(2000);
    expect(real).toMatchObject({ countsEstimated: true, deleted: 1000, remaining: 0, after: real.before - 1000 });
  });
});
