import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../shared/config.js';
import { createJobHandler, type JobOutcome } from '../../shared/runtime/handler.js';
import { InvalidPayloadError } from '../../shared/runtime/errors.js';
import type { JobRuntime } from '../../shared/runtime/runtime.js';
import { tryJobLock } from '../../shared/runtime/sql.js';
import { schema, testDatabase } from '../helpers/db.js';
import { freshEntry, lambdaContext } from '../helpers/lambda.js';
import { seedResults } from '../helpers/results.js';
import { captureEmf } from '../helpers/emf.js';

const { db, url } = await testDatabase();

/** Metrics stay off (Powertools' own switch, read at construction) unless a test captures them. */
function testRuntime({ emitMetrics = false } = {}): JobRuntime {
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', String(!emitMetrics));
  return {
    config: loadConfig({ DATABASE_URL: url }),
    db,
    logger: new Logger({ serviceName: 'chores', logLevel: 'SILENT' }),
    metrics: new Metrics({ namespace: 'Chores', serviceName: 'chores' }),
  };
}

async function runRecords() {
  const { rows } = await db.query(
    `SELECT task_name, status, result, traceback, date_done FROM chores.task_results WHERE task_name LIKE 'chores.%' ORDER BY date_created`,
  );
  return rows;
}

beforeEach(async () => {
  await db.query('TRUNCATE chores.task_results');
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describe('the real results-cleanup Lambda entry', () => {
  const importHandler = () => freshEntry(() => import('../../functions/results-cleanup.js'), { DATABASE_URL: url });

  it('deletes expired results, returns the stats and records the run as SUCCESS', async () => {
    const handler = await importHandler();
    await seedResults(db, [
      { taskId: 'old', doneAgo: '8 days' },
      { taskId: 'young', doneAgo: '1 day' },
    ]);

    const stats = (await handler({}, lambdaContext())) as Record<string, unknown>;
    const [record] = await runRecords();

    expect(stats).toMatchObject({ job: 'results-cleanup', dryRun: false, deleted: 1, remaining: 0, truncated: false });
    expect(stats.durationMs).toEqual(expect.any(Number));
    expect(record).toMatchObject({ task_name: 'chores.results-cleanup', status: 'SUCCESS', result: stats });
    expect(record.date_done).toBeInstanceOf(Date);
  });

  it('returns skipped, and deletes nothing, while another run holds the job lock', async () => {
    const handler = await importHandler();
    await seedResults(db, [{ taskId: 'old', doneAgo: '8 days' }]);
    const other = await db.connect();
    await other.query(tryJobLock(schema, 'results-cleanup'));

    try {
      const outcome = await handler({}, lambdaContext());

      expect(outcome).toEqual({ job: 'results-cleanup', skipped: true, reason: expect.stringContaining('holds its lock') });
      expect((await db.query('SELECT count(*)::int AS n FROM chores.task_results')).rows[0].n).toBe(1);
    } finally {
      other.release(true);
    }
  });

  it('rejects a payload with an unknown key, naming it, and runs nothing', async () => {
    const handler = await importHandler();

    // Compared by name: resetModules gave this import its own copy of the class.
    await expect(handler({ dryrun: true }, lambdaContext())).rejects.toMatchObject({ name: InvalidPayloadError.name });
    await expect(handler({ dryrun: true }, lambdaContext())).rejects.toThrow(/unknown setting "dryrun"/);
    await expect(handler({ batchSize: 'lots' }, lambdaContext())).rejects.toThrow(/batchSize/);
    await expect(handler([1], lambdaContext())).rejects.toThrow(/expected a JSON object, got an array/);
    expect(await runRecords()).toEqual([]);
  });

  it('passes a manual dryRun through to the service', async () => {
    const handler = await importHandler();
    await seedResults(db, [{ taskId: 'old', doneAgo: '8 days' }]);

    const stats = await handler({ dryRun: true }, lambdaContext());

    expect(stats).toMatchObject({ dryRun: true, deleted: 0, remaining: 1 });
  });

  // The entry builds its runtime on the first invocation (importing it reads no environment, so the
  // CLI can import it and pass a runtime of its own): a bad variable fails that invocation.
  it('fails its first invocation with a message naming the variable when the rules are bad, and runs nothing', async () => {
    vi.stubEnv('DATABASE_URL', url);
    vi.stubEnv('RESULTS_RULES', '[{"keep":"soon"}]');
    vi.resetModules();
    const { handler } = await import('../../functions/results-cleanup.js');

    await expect(handler({}, lambdaContext())).rejects.toThrow(/RESULTS_RULES\[0\].*bad duration "soon"/);
    expect(await runRecords()).toEqual([]);
  });

  it('runs with the runtime handed to makeHandler, reading no environment', async () => {
    vi.stubEnv('DATABASE_URL', 'postgres://nobody@127.0.0.1:1/nowhere'); // used only if the entry read it
    const { makeHandler } = await import('../../functions/results-cleanup.js');
    await seedResults(db, [{ taskId: 'old', doneAgo: '8 days' }]);

    const stats = await makeHandler(testRuntime())({}, lambdaContext());

    expect(stats).toMatchObject({ job: 'results-cleanup', deleted: 1 });
  });
});

describe('the job handler factory', () => {
  it('lets exactly one of two overlapping invocations run; the other skips', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // Resolved by the first run's work once it holds the lock (waitFor's default 1 s could pass
    // first on a starved machine, while that run is still taking the lock).
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    let calls = 0;
    const handler = createJobHandler('results-cleanup', testRuntime(), async () => {
      calls += 1;
      started();
      await gate;
      return { deleted: 0, truncated: false };
    });

    const first = handler({}, lambdaContext());
    await running;
    const second = await handler({}, lambdaContext());
    release();

    expect(second).toMatchObject({ skipped: true });
    expect(await first).toMatchObject({ job: 'results-cleanup', deleted: 0 });
    expect(calls).toBe(1);
  });

  it('records a failed run with its error and traceback, then rethrows', async () => {
    const handler = createJobHandler('results-cleanup', testRuntime(), async () => {
      throw new Error('disk on fire');
    });

    await expect(handler({}, lambdaContext())).rejects.toThrow('disk on fire');
    const [record] = await runRecords();

    expect(record).toMatchObject({ status: 'FAILURE', result: { exc_type: 'Error', exc_message: 'disk on fire' } });
    expect(record.traceback).toContain('disk on fire');
  });

  it('publishes every numeric and boolean stat as an EMF metric with the Job dimension', async () => {
    const handler = createJobHandler('results-cleanup', testRuntime({ emitMetrics: true }), async () => ({
      deleted: 7,
      remaining: 3,
      truncated: true,
      byRule: { x: 7 },
    }));

    const [emf] = await captureEmf(() => handler({}, lambdaContext()));
    const directive = (emf!._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] })
      .CloudWatchMetrics[0]!;

    expect(directive.Namespace).toBe('Chores');
    expect(directive.Dimensions[0]).toContain('Job');
    expect(directive.Metrics.map((m) => m.Name).sort()).toEqual(['deleted', 'durationMs', 'remaining', 'truncated']);
    expect(emf).toMatchObject({ Job: 'results-cleanup', deleted: 7, remaining: 3, truncated: 1 });
  });

  it('publishes fast-path (SQS) stats under Trigger=sqs, apart from the scheduled runs the heartbeat watches', async () => {
    const handler = createJobHandler(
      'outbox-deliver',
      testRuntime({ emitMetrics: true }),
      async () => ({ delivered: 1, truncated: false }),
      {
        sqs: async () => ({ response: { batchItemFailures: [] }, stats: { delivered: 3 } }),
      },
    );
    const sqsEvent = { Records: [{ eventSource: 'aws:sqs', messageId: 'm', body: '{"eventIds":[1]}' }] };

    const [batch] = await captureEmf(() => handler(sqsEvent, lambdaContext()));
    const [scheduled] = await captureEmf(() => handler({}, lambdaContext()));
    const dimensionsOf = (emf: Record<string, unknown>) =>
      (emf._aws as { CloudWatchMetrics: { Dimensions: string[][] }[] }).CloudWatchMetrics[0]!.Dimensions[0];

    expect(batch).toMatchObject({ Job: 'outbox-deliver', Trigger: 'sqs', delivered: 3 });
    expect(dimensionsOf(batch!)).toContain('Trigger');
    expect(scheduled).toMatchObject({ Job: 'outbox-deliver', delivered: 1 });
    expect(dimensionsOf(scheduled!)).not.toContain('Trigger');
  });

  it('still publishes its metrics when a run is skipped, though the chain answered before any after step', async () => {
    const handler = createJobHandler('results-cleanup', testRuntime({ emitMetrics: true }), async () => ({ truncated: false }));
    const other = await db.connect();
    await other.query(tryJobLock(schema, 'results-cleanup'));

    try {
      const [emf] = await captureEmf(() => handler({}, lambdaContext()));

      expect(emf).toMatchObject({ Job: 'results-cleanup', skipped_runs: 1 });
    } finally {
      other.release(true);
    }
  });

  it('gives the service a budget of the remaining time less the safety margin', async () => {
    let budgetMs = 0;
    const handler = createJobHandler('results-cleanup', testRuntime(), async ({ budget }) => {
      budgetMs = budget.remainingMs();
      return { truncated: false };
    });

    await handler({}, lambdaContext(5_000));

    expect(budgetMs).toBeGreaterThan(4_000);
    expect(budgetMs).toBeLessThanOrEqual(5_000);
  });

  it('releases the lock after a run, so the next invocation runs', async () => {
    const handler = createJobHandler('results-cleanup', testRuntime(), async () => ({ truncated: false }));

    const outcomes = [await handler({}, lambdaContext()), await handler({}, lambdaContext())] as JobOutcome[];

    expect(outcomes.map((o) => 'skipped' in o)).toEqual([false, false]);
  });
});
