import { hostname } from 'node:os';
import type { Db } from '../db/pool.js';
import type { SchemaName } from '../db/identifiers.js';
import { finishRun, insertRunStarted } from './sql.js';

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
