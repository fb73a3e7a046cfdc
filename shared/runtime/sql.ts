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

export function finishRun(
  schema: SchemaName,
  run: { id: string; status: 'SUCCESS' | 'FAILURE'; result: object; traceback?: string },
): Sql {
  return {
    text: `UPDATE ${qualified(schema, 'task_results')}
      SET status = $2::text, result = $3::jsonb, traceback = $4::text, date_done = now()
      WHERE task_id = $1::text`,
    values: [run.id, run.status, JSON.stringify(run.result), run.traceback ?? null],
  };
}

/** The latest recorded run of each named task, newest first per task. */
export function latestRuns(schema: SchemaName, taskNames: string[]): Sql {
  return {
    text: `SELECT DISTINCT ON (task_name) task_id, task_name, status, result, traceback, date_created, date_done
      FROM ${qualified(schema, 'task_results')}
      WHERE task_name = ANY($1::text[]) AND expires_at IS NULL
      ORDER BY task_name, coalesce(date_done, date_created) DESC`,
    values: [taskNames],
  };
}
