import type { Db } from '../../shared/db/pool.js';

export interface ResultSeed {
  taskId: string;
  taskName?: string | null;
  status?: string;
  /** How long ago the task finished; null for a task that never finished. */
  doneAgo?: string | null;
  /** How long ago it was created (default: same as doneAgo, or now). */
  createdAgo?: string;
  /** A Postgres interval from now (negative = past), e.g. '-1 hour' or '2 days'. */
  expiresIn?: string | null;
}

/** Inserts results backdated with SQL intervals, so tests arrange age instead of sleeping. */
export async function seedResults(db: Db, seeds: ResultSeed[]): Promise<void> {
  for (const seed of seeds) {
    const doneAgo = seed.doneAgo === undefined ? '0s' : seed.doneAgo;
    await db.query(
      `INSERT INTO chores.task_results (task_id, task_name, status, result, date_created, date_done, expires_at, meta)
       VALUES ($1, $2, $3, $4::jsonb,
               now() - $5::interval,
               CASE WHEN $6::interval IS NULL THEN NULL ELSE now() - $6::interval END,
               CASE WHEN $7::interval IS NULL THEN NULL ELSE now() + $7::interval END,
               $8::jsonb)`,
      [
        seed.taskId,
        seed.taskName === undefined ? 'app.tasks.work' : seed.taskName,
        seed.status ?? 'SUCCESS',
        JSON.stringify({ value: seed.taskId }),
        seed.createdAgo ?? doneAgo ?? '0s',
        doneAgo,
        seed.expiresIn ?? null,
        JSON.stringify({ seeded: true }),
      ],
    );
  }
}

export async function remainingTaskIds(db: Db): Promise<string[]> {
  const { rows } = await db.query<{ task_id: string }>(
    `SELECT task_id FROM chores.task_results WHERE task_name NOT LIKE 'chores.%' OR task_name IS NULL ORDER BY task_id`,
  );
  return rows.map((row) => row.task_id);
}

export interface MidRunHold {
  /**
   * The pid of the session holding the job's advisory lock, once a batch of the run waits on a held
   * row and some of `total` rows of `taskName` are already gone: the run is then certainly mid-way.
   */
  lockHolderMidRun(total: number): Promise<number>;
  /** Rolls the hold back. */
  release(): Promise<void>;
}

/**
 * Holds a row lock on every `taskName` row in the second half of the table's pages, so a heap-order
 * results-cleanup run cannot finish while the hold lasts: each range there waits on a held row (up
 * to the range lock timeout) before it is retried skipping them. Waiting for that state, rather than
 * polling for a count that a fast run can pass between two polls, makes "mid-run" a fact.
 */
export async function holdSecondHalf(db: Db, taskName: string): Promise<MidRunHold> {
  const holder = await db.connect();
  await holder.query('BEGIN');
  await holder.query(
    `SELECT 1 FROM chores.task_results
     WHERE task_name = $1
       AND (ctid::text::point)[0] >= (SELECT max((ctid::text::point)[0]) / 2 FROM chores.task_results WHERE task_name = $1)
     FOR UPDATE`,
    [taskName],
  );
  const { rows } = await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const holderPid = rows[0]!.pid;
  return {
    async lockHolderMidRun(total) {
      for (;;) {
        const { rows: found } = await db.query<{ pid: number }>(
          `SELECT l.pid FROM pg_locks l
           WHERE l.locktype = 'advisory' AND l.granted
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE $1 = ANY (pg_blocking_pids(a.pid)))
             AND (SELECT count(*) FROM chores.task_results WHERE task_name = $2) < $3`,
          [holderPid, taskName, total],
        );
        if (found[0]) return found[0].pid;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    async release() {
      await holder.query('ROLLBACK');
      holder.release();
    },
  };
}
