import type { Context } from 'aws-lambda';
import { jobs, type JobName } from '../shared/jobs.js';
import type { JobOutcome } from '../shared/runtime/handler.js';
import { localContext } from '../shared/runtime/local-context.js';

/**
 * Invokes a job's real Lambda handler (functions/<job>.ts, the same module CDK bundles) in this
 * process, with a context that gives it the job's full Lambda timeout.
 */
export async function runJobLocally(job: JobName, payload: object): Promise<JobOutcome> {
  return (await invokeLocally(job, payload)) as JobOutcome;
}

/** Any event (a payload, or an SQS batch for outbox-deliver) through the job's real handler. */
export async function invokeLocally(job: JobName, event: unknown): Promise<unknown> {
  const module = (await import(`../functions/${job}.ts`)) as { handler: (event: unknown, context: Context) => Promise<unknown> };
  // The job's full Lambda timeout, as in the cloud.
  return module.handler(event, localContext({ functionName: `chores-${job}-local`, remainingMs: jobs[job].timeoutSeconds * 1000, memoryMb: jobs[job].memoryMb }));
}

