import { ChoresError } from '../errors.js';

/** A manual-invoke payload that does not fit the job's settings schema. Nothing was run. */
export class InvalidPayloadError extends ChoresError {
  constructor(
    readonly job: string,
    readonly problems: string[],
  ) {
    super(`invalid payload for ${job}: ${problems.join('; ')}`);
  }
}

/**
 * The session holding a job's advisory lock ended mid-run (an RDS failover, an RDS Proxy idle
 * kill, `pg_terminate_backend`). Postgres released the lock with the session, so another run may
 * already hold it: this run stopped instead of carrying on unguarded.
 */
export class LockLostError extends ChoresError {
  constructor(
    readonly job: string,
    cause: Error,
  ) {
    super(
      `lost the ${job} lock: its database session ended (${cause.message}); ` +
        'the run stopped, since another run may now hold the lock — the next run picks up what is left',
      { cause },
    );
  }
}
