import { randomUUID } from 'node:crypto';
import { cleanupMiddlewares } from '@aws-lambda-powertools/commons';
import type { MiddlewareObj, Request } from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { runTaskName, type JobName } from '../jobs.js';
import { budgetFromContext, type TimeBudget } from './budget.js';
import { addStatsMetrics, countOnce } from './metrics.js';
import { failAbandoned, RunRecorder } from './record-run.js';
import type { JobRuntime } from './runtime.js';
import { parseSettings } from './settings.js';
import { tryTakeJobLock, type JobLock } from './single-flight.js';

/**
 * The job chain's middlewares: each one concern, in the order `createJobHandler` uses them. They hand
 * the service what it needs on the Lambda context, as middy's own middlewares do.
 */
export interface RunContext extends Context {
  /** Set by `timeBudget`. */
  budget?: TimeBudget;
  /** Set by `validSettings`. */
  settings?: unknown;
  /** Set by `singleFlight`: the job lock this run holds. */
  lock?: JobLock;
  /** Set by `recordRun`: the run's task_id in `task_results`. */
  runId?: string;
}

export type JobStats = { job: string; durationMs: number; truncated: boolean } & Record<string, unknown>;
export type SkippedRun = { job: string; skipped: true; reason: string };
export type JobOutcome = JobStats | SkippedRun;
/** What a job's handler returns: a run's outcome, or an SQS batch response on the fast path. */
export type JobResult = JobOutcome | SQSBatchResponse;

/**
 * A job that also consumes an SQS queue (outbox-deliver's fast path). Such batches skip the job
 * lock (the fast path must run alongside the sweep; leases keep them apart) and are not recorded
 * as runs (one row per batch would drown the run history), but their stats become metrics.
 */
export type SqsRoute = (
  event: SQSEvent,
  run: JobRuntime & { budget: TimeBudget },
) => Promise<{ response: SQSBatchResponse; stats: Record<string, unknown> }>;

type JobMiddleware = MiddlewareObj<unknown, JobResult, Error, RunContext>;

/** Per-invocation state the middlewares keep for their own after/onError steps. */
interface ChainState {
  run?: { recorder: RunRecorder; started: number };
}
function state(request: Request<unknown, JobResult, Error, RunContext>): ChainState {
  const internal = request.internal as { chores?: ChainState };
  internal.chores ??= {};
  return internal.chores;
}

/**
 * Returns early with `response`. Powertools' logMetrics and injectLambdaContext then flush through
 * their cleanup hooks, since middy skips every `after` step when a `before` step answers.
 */
async function answerEarly<T extends JobResult>(request: Request<unknown, JobResult, Error, RunContext>, response: T): Promise<T> {
  await cleanupMiddlewares(request);
  return response;
}

/** The service's time: the Lambda's remaining time less `BUDGET_MARGIN_MS`, counted from the invocation's start. */
export function timeBudget(): JobMiddleware {
  return {
    before: (request) => {
      request.context.budget = budgetFromContext(request.context);
    },
  };
}

/**
 * Takes SQS batches out of the run chain when the job has a fast path. Its metrics carry
 * `Trigger=sqs`, which makes them metrics of their own: the missed-run heartbeat watches scheduled
 * runs only, so a stopped schedule still alarms while producers keep the queue busy.
 */
export function sqsFastPath(job: JobName, runtime: JobRuntime, route: SqsRoute | undefined): JobMiddleware {
  const { logger, metrics } = runtime;
  return {
    before: async (request) => {
      if (!route || !isSqsEvent(request.event)) return undefined;
      const started = performance.now();
      const { response, stats } = await route(request.event, { ...runtime, budget: request.context.budget! });
      const full = { ...stats, durationMs: Math.round(performance.now() - started) };
      metrics.addDimension('Trigger', 'sqs');
      addStatsMetrics(metrics, job, full);
      const failures = response.batchItemFailures.length;
      logger.info('fast-path batch finished', { records: request.event.Records.length, failures, stats: full });
      return answerEarly(request, response);
    },
  };
}

/** The payload against the job's settings schema; a bad one runs nothing and is counted. */
export function validSettings(job: JobName, { logger, metrics }: JobRuntime): JobMiddleware {
  return {
    before: (request) => {
      try {
        request.context.settings = parseSettings(job, request.event);
      } catch (error) {
        countOnce(metrics, job, 'invalid_payloads'); // so a broken schedule input or console payload shows on a dashboard
        logger.error('invalid payload; nothing was run', error as Error);
        throw error;
      }
    },
  };
}

/** One run of a job at a time: an invocation finding the job lock held answers `skipped` and does nothing. */
export function singleFlight(job: JobName, { db, config, logger, metrics }: JobRuntime): JobMiddleware {
  const release = async (request: Request<unknown, JobResult, Error, RunContext>) => {
    const lock = request.context.lock;
    delete request.context.lock;
    await lock?.release();
  };
  return {
    before: async (request) => {
      const lock = await tryTakeJobLock(db, config.schema, job);
      if (lock) {
        request.context.lock = lock;
        return undefined;
      }
      const reason = `another ${job} run holds its lock; this invocation did nothing`;
      countOnce(metrics, job, 'skipped_runs');
      logger.warn('run skipped', { reason });
      return answerEarly(request, { job, skipped: true, reason } satisfies SkippedRun);
    },
    after: release,
    onError: release,
  };
}

/**
 * Each run as a row in `task_results` (STARTED, then SUCCESS with the stats or FAILURE with the
 * error); completes the service's stats with `job` and `durationMs`, and publishes them as metrics.
 */
export function recordRun(job: JobName, { db, config, logger, metrics }: JobRuntime): JobMiddleware {
  return {
    before: async (request) => {
      const runId = randomUUID();
      const recorder = new RunRecorder(db, config.schema, runId);
      const started = performance.now();
      // Under the job lock, so no live run of this job can be among them.
      const abandoned = await failAbandoned(db, config.schema, [job], `the next ${job} run`);
      if (abandoned.length > 0) logger.warn('marked runs left STARTED by a dead process as FAILURE', { runIds: abandoned });
      await recorder.started(runTaskName(job), { settings: request.context.settings, requestId: request.context.awsRequestId });
      request.context.runId = runId;
      logger.appendKeys({ runId }); // on every line of this run, the service's own included; reset after the invocation
      state(request).run = { recorder, started };
    },
    after: async (request) => {
      const { recorder, started } = state(request).run!;
      const full: JobStats = { job, ...(request.response as { truncated: boolean }), durationMs: Math.round(performance.now() - started) };
      await recorder.succeeded(full);
      delete state(request).run; // recorded: a later failure in the chain must not overwrite it
      addStatsMetrics(metrics, job, full);
      logger.info('run finished', { runId: recorder.id, stats: full });
      request.response = full;
    },
    onError: async (request) => {
      const run = state(request).run;
      if (!run) return; // the run never started (bad payload, skipped, or its STARTED row failed)
      delete state(request).run;
      // Recording must not mask the run's own error, which is what the operator needs to see.
      await run.recorder
        .failed(request.error)
        .catch((recordError) => logger.error('could not record the failed run', recordError as Error));
      countOnce(metrics, job, 'failed_runs');
      logger.error('run failed', request.error as Error);
    },
  };
}

function isSqsEvent(event: unknown): event is SQSEvent {
  const records = (event as { Records?: { eventSource?: string }[] } | null)?.Records;
  return Array.isArray(records) && records.every((record) => record.eventSource === 'aws:sqs');
}
