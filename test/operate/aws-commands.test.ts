import { InvokeCommand, LambdaClient, type InvokeCommandOutput } from '@aws-sdk/client-lambda';
import { GetScheduleCommand, ListSchedulesCommand, SchedulerClient, UpdateScheduleCommand } from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { invokeJob, listSchedules, setScheduleState } from '../../shared/runtime/operate.js';

const lambdaMock = mockClient(LambdaClient);
const schedulerMock = mockClient(SchedulerClient);
const lambda = new LambdaClient({ region: 'eu-west-1' });
const scheduler = new SchedulerClient({ region: 'eu-west-1' });

const deployed = (Name: string, State = 'ENABLED') => ({
  Name,
  GroupName: 'chores',
  State,
  ScheduleExpression: 'cron(0 3 * * ? *)',
  ScheduleExpressionTimezone: 'UTC',
  FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 5 },
  Target: {
    Arn: `arn:aws:lambda:eu-west-1:123456789012:function:chores-${Name}`,
    RoleArn: 'arn:aws:iam::123456789012:role/r',
    Input: '{}',
  },
});

/** What Lambda returns as the function's response body (the SDK wraps bytes in a blob adapter). */
const payload = (json: string) => Buffer.from(json) as unknown as InvokeCommandOutput['Payload'];

beforeEach(() => {
  lambdaMock.reset();
  schedulerMock.reset();
});

describe('chores invoke', () => {
  it('invokes the job function synchronously with the payload and returns its stats', async () => {
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 200, Payload: payload('{"job":"results-cleanup","deleted":4}') });

    const result = await invokeJob(lambda, 'chores', 'results-cleanup', { dryRun: true });
    const [call] = lambdaMock.commandCalls(InvokeCommand);

    expect(result).toEqual({ job: 'results-cleanup', deleted: 4 });
    expect(call!.args[0].input).toMatchObject({ FunctionName: 'chores-results-cleanup', InvocationType: 'RequestResponse' });
    expect(JSON.parse(Buffer.from(call!.args[0].input.Payload as Uint8Array).toString())).toEqual({ dryRun: true });
  });

  it('queues an asynchronous invocation as an Event', async () => {
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 202 });

    const result = await invokeJob(lambda, 'staging', 'uploads-cleanup', {}, true);

    expect(result).toEqual({ job: 'uploads-cleanup', queued: true, statusCode: 202 });
    expect(lambdaMock.commandCalls(InvokeCommand)[0]!.args[0].input).toMatchObject({
      FunctionName: 'staging-uploads-cleanup',
      InvocationType: 'Event',
    });
  });

  it('raises the function error with its type and message', async () => {
    lambdaMock.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: payload('{"errorType":"InvalidPayloadError","errorMessage":"unknown setting \\"x\\""}'),
    });

    await expect(invokeJob(lambda, 'chores', 'results-cleanup', { x: 1 })).rejects.toThrow(
      'chores-results-cleanup failed: InvalidPayloadError: unknown setting "x"',
    );
  });
});

describe('chores schedules', () => {
  it('lists the group and marks schedules that are not jobs', async () => {
    schedulerMock.on(ListSchedulesCommand).resolves({ Schedules: [{ Name: 'results-cleanup' }, { Name: 'old-job' }] });
    schedulerMock.on(GetScheduleCommand).callsFake(({ Name }) => deployed(Name));

    const rows = await listSchedules(scheduler, 'chores');

    expect(rows).toEqual([
      { job: 'results-cleanup', state: 'ENABLED', expression: 'cron(0 3 * * ? *)', timezone: 'UTC', known: true },
      { job: 'old-job', state: 'ENABLED', expression: 'cron(0 3 * * ? *)', timezone: 'UTC', known: false },
    ]);
  });

  it('pauses by writing the full definition back with only the state changed, and skips one already paused', async () => {
    schedulerMock.on(GetScheduleCommand).callsFake(({ Name }) => deployed(Name, Name === 'outbox-cleanup' ? 'DISABLED' : 'ENABLED'));
    schedulerMock.on(UpdateScheduleCommand).resolves({});

    const changed = await setScheduleState(scheduler, 'chores', ['results-cleanup', 'outbox-cleanup'], 'DISABLED');
    const updates = schedulerMock.commandCalls(UpdateScheduleCommand).map((c) => c.args[0].input);

    expect(changed).toEqual(['results-cleanup']);
    expect(updates).toHaveLength(1);
    expect(updates[0]).toMatchObject({ ...deployed('results-cleanup'), State: 'DISABLED' });
  });
});
