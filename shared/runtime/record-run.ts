import { hostname } from 'node:os';
import type { Db } from '../db/pool.js';
import type { SchemaName } from '../db/identifiers.js';
import { jobs, runTaskName, type JobName } from '../jobs.js';
import { failAbandonedRuns, finishRun, insertRunStarted } from './sql.js';

// A run is declared dead only this long after its job's timeout: clock skew between hosts, and a
// CLI run (no Lambda to stop it) recording its outcome after its budget, must never make a live
// run look crashed.
export const ABANDONED_RUN_MARGIN_SECONDS = 300;

/**
 * Runs of `jobNames` left STARTED by a process that died (crash, kill, Lambda timeout) are marked
 * FAILURE with a reason once older than their job's timeout plus a margin, so run history tells
 * the truth. Called by each run under its job lock, and by `chores status`. Returns their ids.
 *
 * @example await failAbandoned(db, schema, ['results-cleanup'], 'the next results-cleanup run') // → ['0b7c…']
 */
export async function failAbandoned(db: Db, schema: SchemaName, jobNames: JobName[], markedBy: string): Promise<string[]> {
  const runs = jobNames.map((job) => ({ taskName: runTaskName(job), timeoutSeconds: jobs[job].timeoutSeconds }));
  const { rows } = await db.query<{ task_id: string }>(failAbandonedRuns(schema, runs, ABANDONED_RUN_MARGIN_SECONDS, markedBy));
  return rows.map((row) => row.task_id);
}

/**
 * Every run is a row in `task_results` (task `chores.<job>`): STARTED when it begins, then
 * SUCCESS with its stats or FAILURE with the error. Run history is then queryable with plain SQL,
 * shown by `chores status`, and cleaned by the same retention rules as any result.
 */
export class RunRecorder {
  constructor(
    private readonly db: Db,
    private readonly schema: SchemaName,
    readonly id: string,
  ) {}

  started(taskName: string, meta: object): Promise<unknown> {
    return this.db.query(insertRunStarted(this.schema, { id: this.id, taskName, worker: hostname(), meta }));
  }

  succeeded(stats: object): Promise<unknown> {
    return this.db.query(finishRun(this.schema, { id: this.id, status: 'SUCCESS', result: stats }));
  }

  failed(error: unknown): Promise<unknown> {
    const err = error instanceof Error ? error : new Error(String(error));
    return this.db.query(
      finishRun(this.schema, {
        id: this.id,
        status: 'FAILURE',
        result: { exc_type: err.name, exc_message: err.message },
        ...(err.stack !== undefined && { traceback: err.stack }),
      }),
    );
  }
}
