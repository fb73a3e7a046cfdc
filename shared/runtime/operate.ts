import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { GetScheduleCommand, ListSchedulesCommand, UpdateScheduleCommand, type SchedulerClient } from '@aws-sdk/client-scheduler';
import { ChoresError } from '../errors.js';
import { deployNames } from '../deploy-names.js';
import { jobNames, type JobName } from '../jobs.js';

/** The deployed function failed; `detail` is what Lambda returned. */
export class RemoteInvocationError extends ChoresError {}

/**
 * Invokes a job's deployed function. Synchronously it returns the stats (or throws the function's
 * error); with `async` Lambda only queues the event and there is nothing to return but that.
 *
 * @example await invokeJob(new LambdaClient({}), 'chores', 'results-cleanup', { dryRun: true })
 */
export async function invokeJob(lambda: LambdaClient, prefix: string, job: JobName, payload: object, async = false): Promise<unknown> {
  const FunctionName = deployNames(prefix).functionName(job);
  const output = await lambda.send(
    new InvokeCommand({ FunctionName, InvocationType: async ? 'Event' : 'RequestResponse', Payload: Buffer.from(JSON.stringify(payload)) }),
  );
  if (async) return { job, queued: true, statusCode: output.StatusCode };
  const text = output.Payload ? Buffer.from(output.Payload).toString('utf8') : 'null';
  if (output.FunctionError) {
    const detail = JSON.parse(text) as { errorType?: string; errorMessage?: string };
    throw new RemoteInvocationError(`${FunctionName} failed: ${detail.errorType ?? 'Error'}: ${detail.errorMessage ?? text}`);
  }
  return JSON.parse(text);
}

export interface ScheduleState {
  job: string;
  state: string;
  expression: string;
  timezone: string;
  known: boolean;
}

export async function listSchedules(scheduler: SchedulerClient, prefix: string): Promise<ScheduleState[]> {
  const names = deployNames(prefix);
  const { Schedules = [] } = await scheduler.send(new ListSchedulesCommand({ GroupName: names.scheduleGroup }));
  return Promise.all(
    Schedules.map(async ({ Name }) => {
      const schedule = await scheduler.send(new GetScheduleCommand({ Name, GroupName: names.scheduleGroup }));
      return {
        job: Name!,
        state: schedule.State ?? 'UNKNOWN',
        expression: schedule.ScheduleExpression ?? '',
        timezone: schedule.ScheduleExpressionTimezone ?? 'UTC',
        known: jobNames.some((job) => names.scheduleName(job) === Name),
      };
    }),
  );
}

/**
 * Pauses or resumes schedules. UpdateSchedule replaces the whole definition, so each schedule is
 * read first and written back with only its state changed.
 */
export async function setScheduleState(
  scheduler: SchedulerClient,
  prefix: string,
  jobs: JobName[],
  state: 'ENABLED' | 'DISABLED',
): Promise<string[]> {
  const names = deployNames(prefix);
  const changed: string[] = [];
  for (const job of jobs) {
    const current = await scheduler.send(new GetScheduleCommand({ Name: names.scheduleName(job), GroupName: names.scheduleGroup }));
    if (current.State === state) continue;
    await scheduler.send(
      new UpdateScheduleCommand({
        Name: current.Name!,
        GroupName: current.GroupName,
        ScheduleExpression: current.ScheduleExpression!,
        ScheduleExpressionTimezone: current.ScheduleExpressionTimezone,
        FlexibleTimeWindow: current.FlexibleTimeWindow!,
        Target: current.Target!,
        Description: current.Description,
        StartDate: current.StartDate,
        EndDate: current.EndDate,
        KmsKeyArn: current.KmsKeyArn,
        ActionAfterCompletion: current.ActionAfterCompletion,
        State: state,
      }),
    );
    changed.push(job);
  }
  return changed;
}
