import type { Db } from '../db/pool.js';
import type { SchemaName } from '../db/identifiers.js';
import { releaseJobLock, tryJobLock } from './sql.js';

/** A job lock this invocation holds; `release()` never throws. */
export interface JobLock {
  release(): Promise<void>;
}

/**
 * Takes `job`'s advisory lock if no other invocation holds it; `undefined` if one does. The lock
 * is a session lock on a connection held for the run, so it is released when the run ends, or by
 * Postgres itself if the process dies and the connection drops: no stale lock survives a crash.
 */
export async function tryTakeJobLock(db: Db, schema: SchemaName, job: string): Promise<JobLock | undefined> {
  const lockClient = await db.connect();
  let locked = false;
  try {
    const { rows } = await lockClient.query<{ locked: boolean }>(tryJobLock(schema, job));
    locked = rows[0]!.locked;
  } finally {
    if (!locked) lockClient.release();
  }
  if (!locked) return undefined;
  return {
    release: async () => {
      let broken: Error | undefined;
      await lockClient.query(releaseJobLock(schema, job)).catch((error: Error) => {
        broken = error; // the connection is suspect: discard it rather than return it to the pool
      });
      lockClient.release(broken);
    },
  };
}
