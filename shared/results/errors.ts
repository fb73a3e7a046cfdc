import { ChoresError } from '../errors.js';

export class ResultsError extends ChoresError {}

/** Writing a batch to the archive failed; that batch was rolled back, so nothing was lost. */
export class ArchiveWriteError extends ResultsError {
  constructor(
    readonly key: string,
    readonly rowsKept: number,
    cause: unknown,
  ) {
    super(
      `archive write failed for ${key}: ${(cause as Error).message}. The batch of ${rowsKept} rows was rolled back and ` +
        'nothing was deleted; fix RESULTS_ARCHIVE_URL or its permissions and run again',
      { cause },
    );
  }
}

export class ArchiveReadError extends ResultsError {}

/**
 * A batch gave up waiting for a lock another transaction holds, which ends the run rather than
 * queueing it (and every writer behind it) behind a migration. Postgres' own message, "canceling
 * statement due to lock timeout", named neither the table nor what to do.
 */
export class TableLockedError extends ResultsError {
  constructor(table: string, waited: string, cause: unknown) {
    super(
      `a batch on ${table} gave up after waiting ${waited} for a lock another transaction holds (a migration, an index build, ` +
        'VACUUM FULL, or a long transaction on its rows); nothing of that batch was deleted — let that transaction end ' +
        '(pg_stat_activity shows it) and run again',
      { cause },
    );
  }
}

/** Celery's Redis result backend could not be reached, or failed during a run. */
export class RedisStoreError extends ResultsError {}
