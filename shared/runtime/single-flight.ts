import type { Db } from '../db/pool.js';
import type { SchemaName } from '../db/identifiers.js';
import { releaseJobLock, tryJobLock } from './sql.js';

export type SingleFlight<T> = { ran: true; value: T } | { ran: false };

/**
 * Runs `work` only if no other invocation of `job` holds its advisory lock. The lock is a
 * session lock on a connection held for the run, so it is released when the run ends, or by
 * Postgres itself if the process dies and the connection drops: no stale lock survives a crash.
 */
export async function runExclusive<T>(db: Db, schema: SchemaName, job: string, work: () => Promise<T>): Promise<SingleFlight<T>> {
  const lockClient = await db.connect();
  let broken: Error | undefined;
  try {
    const { rows } = await lockClient.query<{ locked: boolean }>(tryJobLock(schema, job));
    if (!rows[0]!.locked) return { ran: false };
    try {
      return { ran: true, value: await work() };
    } finally {
      await lockClient.query(releaseJobLock(schema, job)).catch((error: Error) => {
        broken = error; // the connection is suspect: discard it rather than return it to the pool
      });
    }
  } finally {
    lockClient.release(broken);
  }
}
