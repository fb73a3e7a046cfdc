import { qualified, type SchemaName } from '../db/identifiers.js';
import type { Sql } from '../db/params.js';

export function tryJobLock(schema: SchemaName, job: string): Sql {
  // Two-key form in its own key space, so it cannot collide with an application's bigint locks.
  return { text: `SELECT pg_try_advisory_lock(hashtext('chores'), hashtext($1::text)) AS locked`, values: [`${schema}.${job}`] };
}

export function releaseJobLock(schema: SchemaName, job: string): Sql {
  return { text: `SELECT pg_advisory_unlock(hashtext('chores'), hashtext($1::text))`, values: [`${schema}.${job}`] };
}

export function insertRunStarted(schema: SchemaName, run: { id: string; taskName: string; worker: string; meta: object }): Sql {
  return {
    text: `INSERT INTO ${qualified(schema, 'task_results')} (task_id, task_name, status, date_created, worker, meta)
      VALUES ($1::text, $2::text, 'STARTED', now(), $3::text, $4::jsonb)`,
    values: [run.id, run.taskName, run.worker, JSON.stringify(run.meta)],
  };
}

export function finishRun(schema: SchemaName, run: { id: string; status: 'SUCCESS' | 'FAILURE'; result: object; traceback?: string }): Sql {
  return {
    text: `UPDATE ${qualified(schema, 'task_results')}
      SET status = $2::text, result = $3::jsonb, traceback = $4::text, date_done = now()
      WHERE task_id = $1::text`,
    values: [run.id, run.status, JSON.stringify(run.result), run.traceback ?? null],
  };
}

/**
 * Marks runs left STARTED past their job's timeout plus `marginSeconds` as FAILURE: their process
 * died (crash, kill, Lambda timeout) before recording an outcome. `date_done` becomes the latest
 * moment the run could have ended, not now, so run history and the heartbeat keep their times.
 */
export function failAbandonedRuns(
  schema: SchemaName,
  runs: { taskName: string; timeoutSeconds: number }[],
  marginSeconds: number,
  markedBy: string,
): Sql {
  return {
    text: `UPDATE ${qualified(schema, 'task_results')} AS t
      SET status = 'FAILURE',
        date_done = t.date_created + j.timeout_s * interval '1 second',
        result = jsonb_build_object('exc_type', 'AbandonedRun', 'exc_message', format(
          'the run recorded no outcome within its job''s %s s timeout: its process ended (crash, kill or Lambda timeout); marked by %s',
          j.timeout_s, $4::text))
      FROM unnest($1::text[], $2::int[]) AS j(task_name, timeout_s)
      WHERE t.task_name = j.task_name AND t.status = 'STARTED' AND t.expires_at IS NULL
        AND coalesce(t.date_done, t.date_created) < now() - (j.timeout_s + $3::int) * interval '1 second'
      RETURNING t.task_id, t.task_name`,
    values: [runs.map((r) => r.taskName), runs.map((r) => r.timeoutSeconds), marginSeconds, markedBy],
  };
}

/** The last `perTask` finished or running runs of each named task, newest first. */
export function recentRuns(schema: SchemaName, taskNames: string[], perTask: number): Sql {
  return {
    text: `SELECT task_name, status, result, date_created, date_done FROM (
        SELECT *, row_number() OVER (PARTITION BY task_name ORDER BY coalesce(date_done, date_created) DESC) AS n
        FROM ${qualified(schema, 'task_results')}
        WHERE task_name = ANY($1::text[]) AND expires_at IS NULL
      ) AS runs
      WHERE n <= $2::int
      ORDER BY task_name, coalesce(date_done, date_created) DESC`,
    values: [taskNames, perTask],
  };
}

export function existingIndexes(schema: SchemaName): Sql {
  return { text: `SELECT indexname FROM pg_indexes WHERE schemaname = $1::text`, values: [schema] };
}

/** Outbox and uploads work that should have been picked up by now. */
export function overdueWork(schema: SchemaName, olderThanMinutes: number): Sql {
  const age = `now() - $1::int * interval '1 minute'`;
  return {
    text: `SELECT
        (SELECT count(*) FROM ${qualified(schema, 'outbox_events')} WHERE status = 'pending' AND created_at < ${age}) AS events_waiting,
        (SELECT count(*) FROM ${qualified(schema, 'webhook_deliveries')}
          WHERE status = 'pending' AND next_attempt_at < ${age} AND (leased_until IS NULL OR leased_until <= now())) AS deliveries_overdue,
        (SELECT count(*) FROM ${qualified(schema, 'webhook_deliveries')} WHERE status = 'pending' AND leased_until < ${age}) AS stuck_delivery_leases,
        (SELECT count(*) FROM ${qualified(schema, 'uploads')} WHERE cleanup_leased_until < ${age}) AS stuck_upload_leases`,
    values: [olderThanMinutes],
  };
}

/** Index definitions on one table, to see whether any leads with a given column. */
export function indexesOn(schema: SchemaName, table: string): Sql {
  return {
    text: `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1::text AND tablename = $2::text`,
    values: [schema, table],
  };
}
