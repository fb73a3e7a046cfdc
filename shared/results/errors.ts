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

/** Celery's Redis result backend could not be reached, or failed during a run. */
export class RedisStoreError extends ResultsError {}
