import { ChoresError } from '../errors.js';

export class TablesError extends ChoresError {}

/** A policy that does not fit the database it runs against (table, column, `where`, time zone). */
export class PolicyError extends TablesError {
  constructor(
    readonly label: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(`TABLE_RETENTION policy "${label}": ${problem}`, options);
  }
}

/** Writing a batch to the archive failed; that batch was rolled back, so nothing was lost. */
export class TableArchiveWriteError extends TablesError {
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
