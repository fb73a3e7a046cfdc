import { GetQueueAttributesCommand, GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { GetScheduleCommand, ListSchedulesCommand, type SchedulerClient } from '@aws-sdk/client-scheduler';
import type { Db } from '../db/pool.js';
import type { SchemaName } from '../db/identifiers.js';
import { createIndexConcurrently, EXPECTED_INDEXES } from '../db/indexes.js';
import { appliedMigrationIds, loadMigrations } from '../db/migrate.js';
import { deployNames } from '../deploy-names.js';
import { jobNames } from '../jobs.js';
import { detectTable, type StoreName } from '../results/stores.js';
import { bloatFindings, policyFindings } from '../tables/health.js';
import type { TablePolicy } from '../tables/policies.js';
import { relationOf } from '../tables/sql.js';
import { existingIndexes, indexesOn, overdueWork } from './sql.js';

export interface Finding {
  level: 'ok' | 'warn' | 'fail';
  check: string;
  message: string;
  /** What to run or do about it. */
  fix?: string;
}

// Work older than this should have been picked up: the sweep runs every minute, and a lease
// lapses long before this unless nothing is reclaiming it.
const OVERDUE_MINUTES = 15;

/**
 * Checks a chores installation and says what to do about each problem: the database, its
 * migrations and retention indexes, overdue work and stuck leases, and, given AWS clients, that
 * every registry schedule exists and is enabled and the dead-letter queues are empty.
 *
 * @example const findings = await diagnose(db, schema); if (findings.some((f) => f.level === 'fail')) process.exitCode = 1
 */
export async function diagnose(
  db: Db,
  schema: SchemaName,
  aws?: { scheduler: SchedulerClient; sqs: SQSClient; prefix: string },
  results: { store: StoreName; storeSchema: SchemaName } = { store: 'chores', storeSchema: schema },
  tables: { policies: TablePolicy[] } = { policies: [] },
): Promise<Finding[]> {
  const findings: Finding[] = [];
  try {
    await db.query('SELECT 1');
    findings.push({ level: 'ok', check: 'database', message: 'reachable' });
  } catch (error) {
    const message = `cannot connect: ${(error as Error).message}`;
    return [{ level: 'fail', check: 'database', message, fix: 'check DATABASE_URL, the network path and the credentials' }];
  }

  const migrations = await loadMigrations();
  const applied = await appliedMigrationIds(db, schema);
  const unknown = [...applied].filter((id) => !migrations.some((m) => m.id === id));
  if (unknown.length > 0) {
    const message = `the database has migrations ${unknown.join(', ')}, which this version does not know: a newer chores migrated it`;
    findings.push({ level: 'fail', check: 'migrations', message, fix: 'upgrade chores to the version that migrated this database' });
    return findings;
  }
  const missing = migrations.filter((m) => !applied.has(m.id));
  if (missing.length > 0) {
    const message = `missing ${missing.map((m) => `${m.id}_${m.name}`).join(', ')}`;
    findings.push({ level: 'fail', check: 'migrations', message, fix: 'chores migrate' });
    return findings; // the checks below read tables the missing migrations create
  }
  findings.push({ level: 'ok', check: 'migrations', message: `current (${migrations.at(-1)?.id ?? 0})` });

  const { rows: indexRows } = await db.query<{ indexname: string }>(existingIndexes(schema));
  const present = new Set(indexRows.map((row) => row.indexname));
  for (const index of EXPECTED_INDEXES.filter((expected) => !present.has(expected.name))) {
    const message = `${index.name} is missing: cleanup would scan the whole table`;
    findings.push({ level: 'fail', check: 'indexes', message, fix: createIndexConcurrently(index, schema) });
  }
  if (!findings.some((f) => f.check === 'indexes')) {
    findings.push({ level: 'ok', check: 'indexes', message: 'every retention index is present' });
  }

  const {
    rows: [overdue],
  } = await db.query<Record<string, string>>(overdueWork(schema, OVERDUE_MINUTES));
  const n = (key: string) => Number(overdue![key]);
  if (n('stuck_delivery_leases') > 0) {
    findings.push({
      level: 'fail',
      check: 'leases',
      message:
        `${n('stuck_delivery_leases')} webhook deliveries hold leases that lapsed over ${OVERDUE_MINUTES} min ago: ` +
        'their run crashed and no sweep has reclaimed them',
      fix: 'chores run outbox-deliver (and check that the outbox-deliver schedule is enabled)',
    });
  }
  if (n('stuck_upload_leases') > 0) {
    findings.push({
      level: 'warn',
      check: 'leases',
      message:
        `${n('stuck_upload_leases')} uploads hold cleanup leases that lapsed over ${OVERDUE_MINUTES} min ago ` +
        '(a run crashed, or their objects fail to delete)',
      fix: 'chores run uploads-cleanup and read its failed count',
    });
  }
  if (n('events_waiting') + n('deliveries_overdue') > 0) {
    findings.push({
      level: 'warn',
      check: 'backlog',
      message: `${n('events_waiting')} events not fanned out and ${n('deliveries_overdue')} deliveries overdue by ${OVERDUE_MINUTES}+ min`,
      fix: 'chores run outbox-deliver; if it keeps up by hand, the schedule is not firing',
    });
  }
  if (!findings.some((f) => f.check === 'leases' || f.check === 'backlog')) {
    findings.push({ level: 'ok', check: 'backlog', message: 'no overdue work, no stuck leases' });
  }

  if (results.store !== 'chores') findings.push(await diagnoseCeleryStore(db, results.store, results.storeSchema));
  findings.push(...(await policyFindings(db, tables.policies)));
  // chores' own tables, the result store, and every table a policy cleans: deletes leave dead tuples.
  const own = ['task_results', 'outbox_events', 'webhook_deliveries', 'uploads'].map((table) => relationOf({ schema, table }));
  const store =
    results.store === 'chores' ? [] : [(await detectTable(db, results.store, results.storeSchema).catch(() => undefined))?.table];
  findings.push(
    ...(await bloatFindings(db, [...own, ...store.filter((t): t is string => t !== undefined), ...tables.policies.map(relationOf)])),
  );
  if (aws) findings.push(...(await diagnoseAws(aws)));
  return findings;
}

/** A Celery result table cleaned in place needs an index on date_done, which Celery never creates. */
async function diagnoseCeleryStore(db: Db, store: StoreName, storeSchema: SchemaName): Promise<Finding> {
  let table: Awaited<ReturnType<typeof detectTable>>;
  try {
    table = await detectTable(db, store, storeSchema);
  } catch (error) {
    return { level: 'fail', check: 'result store', message: (error as Error).message };
  }
  const name = table.table.split('.')[1]!.replaceAll('"', '');
  const { rows } = await db.query<{ indexdef: string }>(indexesOn(storeSchema, name));
  if (rows.some((row) => /\((date_done)[,)]/.test(row.indexdef))) {
    return { level: 'ok', check: 'result store', message: `${table.table} has an index on date_done` };
  }
  return {
    level: 'warn',
    check: 'result store',
    message: `${table.table} has no index on date_done: every cleanup batch scans the whole table`,
    fix: `CREATE INDEX CONCURRENTLY ${name}_date_done_idx ON ${table.table} (date_done);`,
  };
}

type AwsClients = { scheduler: SchedulerClient; sqs: SQSClient; prefix: string };

async function diagnoseAws({ scheduler, sqs, prefix }: AwsClients): Promise<Finding[]> {
  const names = deployNames(prefix);
  const findings: Finding[] = [];
  for (const job of jobNames) {
    try {
      const schedule = await scheduler.send(new GetScheduleCommand({ Name: names.scheduleName(job), GroupName: names.scheduleGroup }));
      if (schedule.State !== 'ENABLED') {
        findings.push({ level: 'warn', check: 'schedules', message: `${job} is paused`, fix: `chores schedules resume ${job}` });
      }
    } catch (error) {
      const missing = (error as Error).name === 'ResourceNotFoundException';
      findings.push({
        level: 'fail',
        check: 'schedules',
        message: missing
          ? `${job} has no schedule in group ${names.scheduleGroup}: it never runs`
          : `cannot read the ${job} schedule: ${(error as Error).message}`,
        fix: missing ? 'cdk deploy' : 'check the AWS credentials and region',
      });
    }
  }
  const listed = await scheduler.send(new ListSchedulesCommand({ GroupName: names.scheduleGroup })).catch(() => undefined);
  for (const zombie of (listed?.Schedules ?? []).filter((s) => !jobNames.some((job) => names.scheduleName(job) === s.Name))) {
    findings.push({
      level: 'fail',
      check: 'schedules',
      message: `${zombie.Name} is not a job in this version of chores`,
      fix: `cdk deploy (or aws scheduler delete-schedule --group-name ${names.scheduleGroup} --name ${zombie.Name})`,
    });
  }
  if (!findings.some((f) => f.check === 'schedules')) {
    findings.push({ level: 'ok', check: 'schedules', message: `all ${jobNames.length} schedules exist and are enabled` });
  }

  for (const queue of [names.dispatchDlq, names.schedulesDlq, names.failedRuns]) {
    try {
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queue }));
      const attributes = new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] });
      const depth = Number((await sqs.send(attributes)).Attributes?.ApproximateNumberOfMessages ?? 0);
      if (depth > 0 && queue === names.failedRuns) {
        // Failed runs are not redriven: each message is a run that threw (its payload and error), and the fix is a new run.
        findings.push({
          level: 'fail',
          check: 'dead letters',
          message: `${depth} scheduled runs failed and are kept in ${queue}`,
          fix:
            `read each payload and error (aws sqs receive-message --queue-url ${QueueUrl}), fix the cause, ` +
            'run the job again (chores invoke <job>), then purge the queue',
        });
      } else if (depth > 0) {
        findings.push({
          level: 'fail',
          check: 'dead letters',
          message: `${depth} messages in ${queue}`,
          fix:
            `inspect them (aws sqs receive-message --queue-url ${QueueUrl}), fix the cause, ` +
            'then start a DLQ redrive in the SQS console',
        });
      } else findings.push({ level: 'ok', check: 'dead letters', message: `${queue} is empty` });
    } catch (error) {
      const message = `cannot read ${queue}: ${(error as Error).message}`;
      findings.push({ level: 'fail', check: 'dead letters', message, fix: 'cdk deploy, or check the AWS credentials and region' });
    }
  }
  return findings;
}
