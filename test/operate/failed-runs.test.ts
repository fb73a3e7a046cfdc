import { GetScheduleCommand, ListSchedulesCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { jobNames } from '../../shared/jobs.js';
import { diagnose } from '../../shared/runtime/doctor.js';
import { schema, testDatabase } from '../helpers/db.js';

const { db } = await testDatabase();

describe('chores doctor --aws and the failed-runs queue', () => {
  it('reads the stage’s failed-runs queue and says how to handle a failed scheduled run', async () => {
    const scheduler = mockClient(SchedulerClient);
    const sqs = mockClient(SQSClient);
    scheduler.on(GetScheduleCommand).callsFake(({ Name }) => ({ Name, State: 'ENABLED' }));
    scheduler.on(ListSchedulesCommand).resolves({ Schedules: jobNames.map((Name) => ({ Name })) });
    sqs.on(GetQueueUrlCommand).callsFake(({ QueueName }) => ({ QueueUrl: `https://sqs.example/${QueueName}` }));
    sqs
      .on(GetQueueAttributesCommand)
      .callsFake(({ QueueUrl }) => ({ Attributes: { ApproximateNumberOfMessages: QueueUrl.endsWith('/stage2-failed-runs') ? '2' : '0' } }));

    const findings = await diagnose(db, schema, {
      scheduler: new SchedulerClient({ region: 'eu-west-1' }),
      sqs: new SQSClient({ region: 'eu-west-1' }),
      prefix: 'stage2',
    });

    expect(findings.filter((f) => f.level !== 'ok')).toEqual([
      {
        level: 'fail',
        check: 'dead letters',
        message: '2 scheduled runs failed and are kept in stage2-failed-runs',
        fix: expect.stringContaining('aws sqs receive-message --queue-url https://sqs.example/stage2-failed-runs'),
      },
    ]);
    expect(sqs.commandCalls(GetQueueUrlCommand).map((call) => call.args[0].input.QueueName)).toEqual([
      'stage2-dispatch-dlq',
      'stage2-schedules-dlq',
      'stage2-failed-runs',
    ]);
  });
});
