import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { jobs, type JobName } from '../shared/jobs.js';
import type { JobOutcome } from '../shared/runtime/handler.js';

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
  return module.handler(event, localContext(job));
}

function localContext(job: JobName): Context {
  const deadline = Date.now() + jobs[job].timeoutSeconds * 1000;
  const functionName = `chores-${job}-local`;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: String(jobs[job].memoryMb),
    awsRequestId: randomUUID(),
    logGroupName: 'local',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
