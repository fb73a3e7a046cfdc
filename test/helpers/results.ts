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
