import type { Db } from '../../shared/db/pool.js';
import type { ObjectStorage } from '../../shared/storage/port.js';

export interface UploadSeed {
  key: string;
  size?: number;
  /** Postgres interval, e.g. '25 hours'. */
  createdAgo?: string;
  /** Postgres interval from now, e.g. '-1 minute' (past) or '3 hours'. */
  expiresIn?: string | null;
  /** Write the object too (default true). */
  withObject?: boolean;
}

/** Inserts upload rows (backdated with SQL) and writes their objects to `storage`. */
export async function seedUploads(db: Db, storage: ObjectStorage, seeds: UploadSeed[]): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (const seed of seeds) {
    const size = seed.size ?? 10;
    if (seed.withObject !== false) await storage.put(seed.key, new Uint8Array(size).fill(7), 'application/octet-stream');
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO chores.uploads (storage_key, size_bytes, content_type, created_at, expires_at)
       VALUES ($1, $2, 'application/octet-stream', now() - $3::interval,
               CASE WHEN $4::interval IS NULL THEN NULL ELSE now() + $4::interval END)
       RETURNING id::text`,
      [seed.key, size, seed.createdAgo ?? '0s', seed.expiresIn ?? null],
    );
    ids.set(seed.key, rows[0]!.id);
  }
  return ids;
}

export async function uploadKeys(db: Db): Promise<string[]> {
  const { rows } = await db.query<{ storage_key: string }>('SELECT storage_key FROM chores.uploads ORDER BY storage_key');
  return rows.map((row) => row.storage_key);
}
