import { GetScheduleCommand, ListSchedulesCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { jobNames } from '../../shared/jobs.js';
import { diagnose } from '../../shared/runtime/doctor.js';
import { jobStatuses } from '../../shared/runtime/status.js';
import { schema, testDatabase } from '../helpers/db.js';

const { db } = await testDatabase();
const schedulerMock = mockClient(SchedulerClient);
const sqsMock = mockClient(SQSClient);

beforeEach(async () => {
  schedulerMock.reset();
  sqsMock.reset();
  await db.query('TRUNCATE chores.task_results, chores.outbox_events, chores.webhook_endpoints CASCADE');
});

async function recordRun(job: string, doneAgo: string, result: object, status = 'SUCCESS') {
  await db.query(
    `INSERT INTO chores.task_results (task_id, task_name, status, result, date_created, date_done)
     VALUES (gen_random_uuid()::text, $1, $2, $3, now() - $4::interval, now() - $4::interval)`,
    [`chores.${job}`, status, JSON.stringify(result), doneAgo],
  );
}

describe('chores status', () => {
  it('flags a job whose schedule fired since its last run without a run', async () => {
    await recordRun('results-cleanup', '26 hours', { deleted: 1, remaining: 0 }); // daily at 03:00: overdue
    await recordRun('outbox-deliver', '30 seconds', { delivered: 2, remaining: 0 }); // every minute: fine

    const report = await jobStatuses(db, schema);
    const byJob = Object.fromEntries(report.map((r) => [r.job, r]));

    expect(byJob['results-cleanup']).toMatchObject({ missed: true, lastRun: { status: 'SUCCESS', stats: { deleted: 1 } } });
    expect(byJob['outbox-deliver']!.missed).toBe(false);
    expect(byJob['uploads-notify']).toMatchObject({ lastRun: null, missed: false });
  });

  it('shows the alarm rules that fire on recent runs', async () => {
    await recordRun('results-cleanup', '2 days', { remaining: 40 });
    await recordRun('results-cleanup', '1 day', { remaining: 12 });
    await recordRun('outbox-deliver', '2 minutes', { failed: 0, remaining: 0, endpointsDisabled: 0 });

    const report = await jobStatuses(db, schema);

    expect(report.find((r) => r.job === 'results-cleanup')!.alarms).toEqual([
      expect.objectContaining({ stat: 'remaining', values: [12, 40] }),
    ]);
    expect(report.find((r) => r.job === 'outbox-deliver')!.alarms).toEqual([]);
  });
});

describe('chores doctor', () => {
  it('passes a healthy installation', async () => {
    const findings = await diagnose(db, schema);

    expect(findings.filter((f) => f.level !== 'ok')).toEqual([]);
  });

  it('fails on a database a newer chores migrated, and says to upgrade', async () => {
    await db.query(`INSERT INTO chores.migrations (id, name) VALUES (9999, 'from_the_future')`);

    try {
      const findings = await diagnose(db, schema);

      expect(findings).toContainEqual({
        level: 'fail',
        check: 'migrations',
        message: expect.stringContaining('migrations 9999, which this version does not know'),
        fix: expect.stringContaining('upgrade chores'),
      });
    } finally {
      await db.query('DELETE FROM chores.migrations WHERE id = 9999');
    }
  });

  it('flags a missing retention index with the statement that recreates it', async () => {
    await db.query('DROP INDEX chores.task_results_status_age_idx');

    try {
      const findings = await diagnose(db, schema);

      expect(findings).toContainEqual({
        level: 'fail',
        check: 'indexes',
        message: expect.stringContaining('task_results_status_age_idx is missing'),
        fix: 'CREATE INDEX CONCURRENTLY task_results_status_age_idx ON "chores".task_results (status, (coalesce(date_done, date_created))) WHERE expires_at IS NULL;',
      });
    } finally {
      await db.query(
        'CREATE INDEX task_results_status_age_idx ON chores.task_results (status, (coalesce(date_done, date_created))) WHERE expires_at IS NULL',
      );
    }
  });

  it('flags a webhook delivery whose lease lapsed long ago and says what to run', async () => {
    const {
      rows: [endpoint],
    } = await db.query(`INSERT INTO chores.webhook_endpoints (url, secret) VALUES ('https://x.example', 'whsec_eA==') RETURNING id`);
    const {
      rows: [event],
    } = await db.query(`INSERT INTO chores.outbox_events (event_type, status) VALUES ('x', 'fanned_out') RETURNING id`);
    await db.query(
      `INSERT INTO chores.webhook_deliveries (event_id, endpoint_id, attempts, leased_until) VALUES ($1, $2, 1, now() - interval '1 hour')`,
      [event.id, endpoint.id],
    );

    const findings = await diagnose(db, schema);

    expect(findings).toContainEqual(
      expect.objectContaining({ level: 'fail', check: 'leases', fix: expect.stringContaining('chores run outbox-deliver') }),
    );
  });

  it('with AWS, flags a missing schedule, a paused one, a zombie and a non-empty DLQ', async () => {
    schedulerMock.on(GetScheduleCommand).callsFake(({ Name }) => {
      if (Name === 'uploads-notify') throw Object.assign(new Error('not found'), { name: 'ResourceNotFoundException' });
      return { Name, State: Name === 'outbox-cleanup' ? 'DISABLED' : 'ENABLED' };
    });
    schedulerMock.on(ListSchedulesCommand).resolves({ Schedules: [...jobNames, 'old-job'].map((Name) => ({ Name })) });
    sqsMock.on(GetQueueUrlCommand).callsFake(({ QueueName }) => ({ QueueUrl: `https://sqs.example/${QueueName}` }));
    sqsMock.on(GetQueueAttributesCommand).callsFake(({ QueueUrl }) => ({
      Attributes: { ApproximateNumberOfMessages: QueueUrl.endsWith('chores-dispatch-dlq') ? '3' : '0' },
    }));

    const findings = await diagnose(db, schema, {
      scheduler: new SchedulerClient({ region: 'eu-west-1' }),
      sqs: new SQSClient({ region: 'eu-west-1' }),
      prefix: 'chores',
    });
    const problems = findings.filter((f) => f.level !== 'ok').map((f) => `${f.level} ${f.message}`);

    expect([...problems].sort()).toEqual(
      [
        'fail uploads-notify has no schedule in group chores: it never runs',
        'warn outbox-cleanup is paused',
        'fail old-job is not a job in this version of chores',
        'fail 3 messages in chores-dispatch-dlq',
      ].sort(),
    );
    expect(schedulerMock.commandCalls(GetScheduleCommand).map((c) => c.args[0].input)).toContainEqual({
      Name: 'results-cleanup',
      GroupName: 'chores',
    });
  });
});
