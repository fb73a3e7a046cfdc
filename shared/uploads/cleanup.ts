import { inTransaction, type Db } from '../db/pool.js';
import type { Sql } from '../db/params.js';
import type { SchemaName } from '../db/identifiers.js';
import type { TimeBudget } from '../runtime/budget.js';
import type { ObjectStorage } from '../storage/port.js';
import { claimExpired, countExpired, deleteUploads, type ClaimedUpload } from './sql.js';

// One DeleteObjects request's worth of keys per batch.
export const UPLOADS_CLEANUP_BATCH = 1_000;
// Longer than any run (Lambda stops at 15 min): a key that failed keeps its lease for the rest of
// the run, so it is retried by the next run instead of again and again by this one.
const CLEANUP_LEASE_MS = 20 * 60_000;
// Rows a concurrent run or a producer holds are skipped, but a table lock (a migration building an
// index) would queue the claim or the delete and every writer behind it; give up fast instead. A
// delete that gives up leaves its rows leased, and the next run finds their objects gone and removes them.
const LOCK_TIMEOUT = '2s';

export interface UploadsCleanupStats {
  /** Uploads whose object this run deleted (their rows are gone too). */
  deleted: number;
  /** Uploads whose object was already gone; their rows are removed. */
  missing: number;
  /** Uploads whose object could not be deleted; their rows stay for the next run. */
  failed: number;
  remaining: number;
  bytesFreed: number;
  truncated: boolean;
}

/**
 * Deletes expired uploads: claims a batch (skipping rows a concurrent run holds), deletes the
 * objects, then deletes only the rows whose objects are confirmed gone. A row is never deleted
 * while its object may exist; a crash between the two steps leaves leased rows that the next run
 * finds with their objects missing, and removes.
 *
 * @example await cleanupUploads({ db, schema, storage, ttlHours: 24, budget }) // → { deleted: 900, missing: 3, failed: 0, … }
 */
export async function cleanupUploads(input: {
  db: Db;
  schema: SchemaName;
  storage: ObjectStorage;
  ttlHours: number;
  budget: TimeBudget;
}): Promise<UploadsCleanupStats> {
  const { db, schema, storage, ttlHours, budget } = input;
  const stats = { deleted: 0, missing: 0, failed: 0, bytesFreed: 0 };
  let truncated = false;
  for (let first = true; ; first = false) {
    if (!first && budget.expired()) {
      truncated = true;
      break;
    }
    const claimed = await underLockTimeout<ClaimedUpload>(db, claimExpired(schema, ttlHours, UPLOADS_CLEANUP_BATCH, CLEANUP_LEASE_MS));
    if (claimed.length === 0) break;
    const outcomes = await storage.deleteMany(claimed.map((upload) => upload.storage_key));
    const gone: string[] = [];
    for (const upload of claimed) {
      const outcome = outcomes.get(upload.storage_key)!;
      if (outcome.status === 'failed') {
        stats.failed += 1;
        continue;
      }
      gone.push(upload.id);
      if (outcome.status === 'deleted') {
        stats.deleted += 1;
        stats.bytesFreed += Number(upload.size_bytes);
      } else {
        stats.missing += 1;
      }
    }
    if (gone.length > 0) await underLockTimeout(db, deleteUploads(schema, gone));
    if (claimed.length < UPLOADS_CLEANUP_BATCH) break;
  }
  const { rows } = await db.query<{ n: string }>(countExpired(schema, ttlHours));
  return { ...stats, remaining: Number(rows[0]!.n), truncated };
}

async function underLockTimeout<T extends object>(db: Db, query: Sql): Promise<T[]> {
  return inTransaction(db, async (tx) => {
    await tx.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
    return (await tx.query<T>(query)).rows;
  });
}
