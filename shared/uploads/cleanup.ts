import { inTransaction, type Db } from '../db/pool.js';
import type { Sql } from '../db/params.js';
import type { SchemaName } from '../db/identifiers.js';
import type { TimeBudget } from '../runtime/budget.js';
import type { ObjectStorage } from '../storage/port.js';
import { claimExpired, countExpired, deleteUploads, expiredTotals, leasedExpired, type ClaimedUpload } from './sql.js';

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
  /**
   * Expired uploads whose object another, unexpired upload still references (rows sharing a
   * `storage_key`): the row is removed and the object kept for the live upload; frees nothing.
   */
  shared: number;
  /** Uploads whose object could not be deleted; their rows stay for the next run. */
  failed: number;
  remaining: number;
  bytesFreed: number;
  truncated: boolean;
}

type Counts = Omit<UploadsCleanupStats, 'remaining' | 'truncated'>;

/** A dry run's stats: what a run would delete now, and nothing deleted. */
export interface UploadsDryRunStats extends UploadsCleanupStats {
  dryRun: true;
  wouldDelete: number;
  wouldFreeBytes: number;
}

/**
 * Deletes expired uploads: claims a batch (skipping rows a concurrent run holds), deletes the
 * objects no unexpired upload shares, then deletes only the rows whose objects are confirmed gone
 * or kept for a live upload. A row is never deleted while its object may exist unreferenced, and
 * an object is never deleted while a live row references it. A crash between the two steps
 * leaves leased rows: the next run removes at once those whose objects are missing.
 *
 * @example await cleanupUploads({ db, schema, storage, ttlHours: 24, budget }) // → { deleted: 900, missing: 3, shared: 1, failed: 0, … }
 */
export async function cleanupUploads(input: {
  db: Db;
  schema: SchemaName;
  storage: ObjectStorage;
  ttlHours: number;
  budget: TimeBudget;
  /** Count and sum what is expired; touch neither the rows nor the storage. */
  dryRun?: boolean;
}): Promise<UploadsCleanupStats | UploadsDryRunStats> {
  const { db, schema, storage, ttlHours, budget } = input;
  if (input.dryRun) {
    const {
      rows: [totals],
    } = await db.query<{ n: string; bytes: string }>(expiredTotals(schema, ttlHours));
    const n = Number(totals!.n);
    return {
      dryRun: true,
      deleted: 0,
      missing: 0,
      shared: 0,
      failed: 0,
      bytesFreed: 0,
      remaining: n,
      wouldDelete: n,
      wouldFreeBytes: Number(totals!.bytes),
      truncated: false,
    };
  }
  const stats: Counts = { deleted: 0, missing: 0, shared: 0, failed: 0, bytesFreed: 0 };
  await removeLeftBehind(input, stats);
  let truncated = false;
  for (let first = true; ; first = false) {
    if (!first && budget.expired()) {
      truncated = true;
      break;
    }
    const claimed = await underLockTimeout<ClaimedUpload>(db, claimExpired(schema, ttlHours, UPLOADS_CLEANUP_BATCH, CLEANUP_LEASE_MS));
    if (claimed.length === 0) break;
    const unshared = claimed.filter((upload) => !upload.shared);
    const outcomes = await storage.deleteMany([...new Set(unshared.map((upload) => upload.storage_key))]);
    const gone: string[] = [];
    const freedKeys = new Set<string>();
    for (const upload of claimed) {
      const outcome = upload.shared ? { status: 'shared' as const } : outcomes.get(upload.storage_key)!;
      if (outcome.status === 'failed') {
        stats.failed += 1;
        continue;
      }
      gone.push(upload.id);
      stats[outcome.status] += 1;
      // Two expired rows sharing one object free its bytes once.
      if (outcome.status === 'deleted' && !freedKeys.has(upload.storage_key)) {
        freedKeys.add(upload.storage_key);
        stats.bytesFreed += Number(upload.size_bytes);
      }
    }
    if (gone.length > 0) await underLockTimeout(db, deleteUploads(schema, gone));
    if (claimed.length < UPLOADS_CLEANUP_BATCH) break;
  }
  const { rows } = await db.query<{ n: string }>(countExpired(schema, ttlHours));
  return { ...stats, remaining: Number(rows[0]!.n), truncated };
}

/**
 * Expired rows still leased, left by a run that died after deleting their objects: those whose
 * objects are confirmed missing go now (counted `missing`) rather than after their lease lapses;
 * the rest keep their lease.
 */
async function removeLeftBehind(
  input: { db: Db; schema: SchemaName; storage: ObjectStorage; ttlHours: number },
  stats: Counts,
): Promise<void> {
  const { db, schema, storage, ttlHours } = input;
  for (let after = NIL_UUID; ; ) {
    const { rows } = await db.query<{ id: string; storage_key: string }>(leasedExpired(schema, ttlHours, after, UPLOADS_CLEANUP_BATCH));
    if (rows.length === 0) return;
    const probes = await storage.probe([...new Set(rows.map((row) => row.storage_key))]);
    const gone = rows.filter((row) => probes.get(row.storage_key)!.status === 'missing').map((row) => row.id);
    if (gone.length > 0) stats.missing += (await underLockTimeout(db, deleteUploads(schema, gone))).length;
    if (rows.length < UPLOADS_CLEANUP_BATCH) return;
    after = rows.at(-1)!.id;
  }
}

const NIL_UUID = '00000000-0000-0000-0000-000000000000';

async function underLockTimeout<T extends object>(db: Db, query: Sql): Promise<T[]> {
  return inTransaction(db, async (tx) => {
    await tx.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
    return (await tx.query<T>(query)).rows;
  });
}
