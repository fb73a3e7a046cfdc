import middy, { type MiddlewareObj } from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { JobName, JobSettings } from '../jobs.js';
import type { TimeBudget } from './budget.js';
import {
  recordRun,
  singleFlight,
  sqsFastPath,
  timeBudget,
  validSettings,
  type JobResult,
  type RunContext,
  type SkippedRun,
  type SqsRoute,
} from './middlewares.js';
import type { JobRuntime } from './runtime.js';

type JobMiddleware = MiddlewareObj<unknown, JobResult, Error, RunContext>;

export type { JobOutcome, JobResult, JobStats, SkippedRun, SqsRoute } from './middlewares.js';

/** What a job's service is handed for one run. */
export interface JobRun<Name extends JobName> extends JobRuntime {
  settings: JobSettings<Name>;
  budget: TimeBudget;
  /** The run's id: its task_id in `task_results`, and a tag for anything it writes. */
  runId: string;
}

/** A service returns its domain stats; `recordRun` adds `job` and `durationMs`. */
export type JobService<Name extends JobName> = (run: JobRun<Name>) => Promise<{ truncated: boolean } & object>;

/**
 * Whether an outcome is a run that did not happen (another held the lock). Compared with `true`:
 * some jobs have a numeric `skipped` stat (uploads-notify), which is not this.
 */
export function isSkipped(outcome: object): outcome is SkippedRun {
  return (outcome as { skipped?: unknown }).skipped === true;
}

/**
 * Wraps a job's service as a Lambda handler: a middy chain of named middlewares, one concern each
 * (see ./middlewares.ts). SQS batches leave the chain at `sqsFastPath`; a bad payload stops at
 * `validSettings`; a held lock answers `skipped` at `singleFlight`.
 *
 * @example export const handler = createJobHandler('results-cleanup', runtime, (run) => cleanupResults(…))
 */
export function createJobHandler<Name extends JobName>(
  job: Name,
  runtime: JobRuntime,
  service: JobService<Name>,
  options: { sqs?: SqsRoute } = {},
) {
  const { logger, metrics } = runtime;
  logger.appendPersistentKeys({ job });
  // Guarded by the job lock: losing the lock's session ends the budget and fails the run at once.
  // recordRun's `after` completes the service's stats into the run's JobStats.
  const callService = async (_event: unknown, context: RunContext): Promise<JobResult> =>
    (await context.lock!.guard(context.budget!, (budget) =>
      service({ ...runtime, settings: context.settings as JobSettings<Name>, budget, runId: context.runId! }),
    )) as JobResult;

  return middy<unknown, JobResult, Error, RunContext>(callService).use([
    // First, so the handler's subsegment spans the whole chain (a traced Lambda only).
    ...((runtime.tracing?.middlewares(job) ?? []) as JobMiddleware[]),
    injectLambdaContext(logger, { resetKeys: true }),
    logMetrics(metrics),
    timeBudget(),
    sqsFastPath(job, runtime, options.sqs),
    validSettings(job, runtime),
    singleFlight(job, runtime),
    recordRun(job, runtime),
  ]);
}
