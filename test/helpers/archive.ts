import type { Db } from '../../shared/db/pool.js';
import { decodeLines, decodeRows } from '../../shared/results/archive.js';
import type { ObjectStorage } from '../../shared/storage/port.js';

/** Each archive object's lines under `root`, as they were written: the JSON bytes a batch held. */
export async function objectLineBytes(archive: ObjectStorage, root: string): Promise<number[][]> {
  const keys = await archive.list(root);
  return Promise.all(keys.map(async (key) => decodeLines(await archive.get(key)).map((line) => Buffer.byteLength(line))));
}

/** Every row of every archive object under `root`, decoded, object after object. */
export async function archivedRows(archive: ObjectStorage, root: string): Promise<Record<string, unknown>[]> {
  const objects = await Promise.all((await archive.list(root)).map(async (key) => decodeRows(await archive.get(key))));
  return objects.flat();
}

/**
 * An update held open by a second connection and committed only once a statement waits on its row
 * lock: the waiting statement's snapshot predates the new row version that its lock then finds.
 */
export async function updateCommittedWhileWaitedOn(db: Db, update: string): Promise<{ commitOnceWaitedOn: () => Promise<void> }> {
  const holder = await db.connect();
  await holder.query('BEGIN');
  await holder.query(update);
  const { rows } = await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return {
    async commitOnceWaitedOn() {
      try {
        for (;;) {
          const { rows: waiting } = await db.query('SELECT 1 FROM pg_stat_activity WHERE $1::int = ANY (pg_blocking_pids(pid))', [
            rows[0]!.pid,
          ]);
          if (waiting.length > 0) break;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        await holder.query('COMMIT');
      } finally {
        holder.release();
      }
    },
  };
}
