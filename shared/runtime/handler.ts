import { randomUUID } from 'node:crypto';
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { runTaskName, type JobName, type JobSettings } from '../jobs.js';
import { budgetFromContext, type TimeBudget } from './budget.js';
import { addStatsMetrics } from './metrics.js';
import { failAbandoned, RunRecorder } from './record-run.js';
import type { JobRuntime } from './runtime.js';
import { parseSettings } from './settings.js';
import { runExclusive } from './single-flight.js';

/** What a job's service is handed for one run. */
export interface JobRun<Name extends JobName> extends JobRuntime {
  settings: JobSettings<Name>;
  budget: TimeBudget;
  /** The run's id: its task_id in `task_results`, and a tag for anything it writes. */
  runId: string;
}

/** A service returns its domain stats; the factory adds `job` and `durationMs`. */
export type JobService<Name extends JobName> = (run: JobRun<Name>) => Promise<{ truncated: boolean } & object>;

export type JobStats = { job: string; durationMs: number; truncated: boolean } & Record<string, unknown>;

/**
 * A job that also consumes an SQS queue (outbox-deliver's fast path). Such batches skip the job
 * lock (the fast path must run alongside the sweep; leases keep them apart) and are not recorded
 * as runs (one row per batch would drown the run history), but their stats become metrics.
 */
export type SqsRoute = (
  event: SQSEvent,
  run: JobRuntime & { budget: TimeBudget },
) => Promise<{ response: SQSBatchResponse; stats: Record<string, unknown> }>;
export type SkippedRun = { job: string; skipped: true; reason: string };
export type JobOutcome = JobStats | SkippedRun;

/**
 * Whether an outcome is a run that did not happen (another held the lock). Compared with `true`:
 * some jobs have a numeric `skipped` stat (uploads-notify), which is not this.
 */
export function isSkipped(outcome: object): outcome is SkippedRun {
  return (outcome as { skipped?: unknown }).skipped === true;
}

/**
 * Wraps a job's service as a Lambda handler (middy): validates the payload against the job's
 * settings schema, logs with Powertools Logger, runs single-flight under a per-job advisory lock,
 * gives the service a time budget from the Lambda context, records the run in `task_results`,
 * and publishes every numeric stat as an EMF metric.
 *
 * @example export const handler = createJobHandler('results-cleanup', runtime, (run) => cleanupResults(…))
 */
export function createJobHandler<Name extends JobName>(
  job: Name,
  runtime: JobRuntime,
  service: JobService<Name>,
  options: { sqs?: SqsRoute } = {},
) {
  const { db, config, logger, metrics } = runtime;
  logger.appendPersistentKeys({ job });
  const count = (name: string) => {
    metrics.addDimension('Job', job);
    metrics.addMetric(name, MetricUnit.Count, 1);
  };

  /**
   * The SQS fast path. Its metrics carry `Trigger=sqs`, which makes them metrics of their own:
   * the missed-run heartbeat watches scheduled runs only, so a stopped schedule still alarms
   * while producers keep the queue busy.
   */
  const runBatch = async (event: SQSEvent, route: SqsRoute, context: Context): Promise<SQSBatchResponse> => {
    const started = performance.now();
    const { response, stats } = await route(event, { ...runtime, budget: budgetFromContext(context) });
    const full = { ...stats, durationMs: Math.round(performance.now() - started) };
    metrics.addDimension('Trigger', 'sqs');
    addStatsMetrics(metrics, job, full);
    logger.info('fast-path batch finished', { records: event.Records.length, failures: response.batchItemFailures.length, stats: full });
    return response;
  };

  /** A scheduled or manual run: validated, single-flight, budgeted, recorded. */
  const runJob = async (event: unknown, context: Context): Promise<JobOutcome> => {
    let settings: JobSettings<Name>;
    try {
      settings = parseSettings(job, event);
    } catch (error) {
      count('invalid_payloads'); // so a broken schedule input or console payload shows on a dashboard
      logger.error('invalid payload; nothing was run', error as Error);
      throw error;
    }
    const budget = budgetFromContext(context);
    const outcome = await runExclusive(db, config.schema, job, async (lock) => {
      const runId = randomUUID();
      const recorder = new RunRecorder(db, config.schema, runId);
      const started = performance.now();
      const abandoned = await failAbandoned(db, config.schema, [job], `the next ${job} run`);
      if (abandoned.length > 0) logger.warn('marked runs left STARTED by a dead process as FAILURE', { runIds: abandoned });
      await recorder.started(runTaskName(job), { settings, requestId: context.awsRequestId });
      try {
        // Guarded: losing the lock's session ends the budget and fails the run at once.
        const stats = await lock.guard(budget, (guarded) => service({ ...runtime, settings, budget: guarded, runId }));
        const full: JobStats = { job, ...stats, durationMs: Math.round(performance.now() - started) };
        await recorder.succeeded(full);
        addStatsMetrics(metrics, job, full);
        logger.info('run finished', { runId, stats: full });
        return full;
      } catch (error) {
        // Recording must not mask the run's own error, which is what the operator needs to see.
        await recorder.failed(error).catch((recordError) => logger.error('could not record the failed run', recordError as Error));
        count('failed_runs');
        logger.error('run failed', error as Error);
        throw error;
      }
    });
    if (outcome.ran) return outcome.value;
    const reason = `another ${job} run holds its lock; this invocation did nothing`;
    count('skipped_runs');
    logger.warn('run skipped', { reason });
    return { job, skipped: true, reason };
  };

  const run = (event: unknown, context: Context): Promise<JobOutcome | SQSBatchResponse> =>
    options.sqs && isSqsEvent(event) ? runBatch(event, options.sqs, context) : runJob(event, context);

  return middy(run).use(injectLambdaContext(logger)).use(logMetrics(metrics));
}

function isSqsEvent(event: unknown): event is SQSEvent {
  const records = (event as { Records?: { eventSource?: string }[] } | null)?.Records;
  return Array.isArray(records) && records.every((record) => record.eventSource === 'aws:sqs');
}
