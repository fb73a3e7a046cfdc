import { qualified, type SchemaName } from '../db/identifiers.js';
import type { Sql } from '../db/params.js';

/** Effective expiry: expires_at, else created_at + the TTL (`$ttl`, hours). */
const EXPIRY = (ttl: string) => `coalesce(expires_at, created_at + ${ttl}::float8 * interval '1 hour')`;

/** Expired, written as two index range scans (explicit expiry, TTL) rather than one expression. */
const EXPIRED = (ttl: string, alias = '') =>
  `((${alias}expires_at IS NOT NULL AND ${alias}expires_at <= now())
    OR (${alias}expires_at IS NULL AND ${alias}created_at <= now() - ${ttl}::float8 * interval '1 hour'))`;

export interface ClaimedUpload {
  id: string;
  storage_key: string;
  size_bytes: string;
  /** Another upload that has not expired references the same object: it must be kept. */
  shared: boolean;
}

/**
 * Leases up to `limit` expired uploads that no other run holds, each with whether an unexpired
 * upload shares its storage key (checked here, in the claim: `uploads_storage_key_idx`).
 */
export function claimExpired(schema: SchemaName, ttlHours: number, limit: number, leaseMs: number): Sql {
  const uploads = qualified(schema, 'uploads');
  return {
    text: `WITH due AS (
        SELECT id FROM ${uploads}
        WHERE ${EXPIRED('$1')} AND (cleanup_leased_until IS NULL OR cleanup_leased_until <= now())
        LIMIT $2::int FOR UPDATE SKIP LOCKED
      )
      UPDATE ${uploads} u SET cleanup_leased_until = now() + $3::int * interval '1 millisecond'
      FROM due WHERE u.id = due.id
      RETURNING u.id::text, u.storage_key, u.size_bytes::text,
        EXISTS (SELECT 1 FROM ${uploads} o WHERE o.storage_key = u.storage_key AND NOT ${EXPIRED('$1', 'o.')}) AS shared`,
    values: [ttlHours, limit, leaseMs],
  };
}

/**
 * Expired uploads still under a lease, after `afterId` in id order: left by a run that died
 * between deleting objects and rows (or held by a concurrent run). `uploads_cleanup_leased_idx`.
 */
export function leasedExpired(schema: SchemaName, ttlHours: number, afterId: string, limit: number): Sql {
  return {
    text: `SELECT id::text, storage_key FROM ${qualified(schema, 'uploads')}
      WHERE cleanup_leased_until > now() AND ${EXPIRED('$1')} AND id > $2::uuid
      ORDER BY id LIMIT $3::int`,
    values: [ttlHours, afterId, limit],
  };
}

export function deleteUploads(schema: SchemaName, ids: string[]): Sql {
  return { text: `DELETE FROM ${qualified(schema, 'uploads')} WHERE id = ANY($1::uuid[]) RETURNING id`, values: [ids] };
}

export function countExpired(schema: SchemaName, ttlHours: number): Sql {
  return { text: `SELECT count(*) AS n FROM ${qualified(schema, 'uploads')} WHERE ${EXPIRED('$1')}`, values: [ttlHours] };
}

/** A dry run's answer: how many uploads are expired and the bytes their objects hold. */
export function expiredTotals(schema: SchemaName, ttlHours: number): Sql {
  return {
    text: `SELECT count(*) AS n, coalesce(sum(size_bytes), 0)::bigint AS bytes FROM ${qualified(schema, 'uploads')} WHERE ${EXPIRED('$1')}`,
    values: [ttlHours],
  };
}

/** Not yet expired, but expiring within the notice window. */
const EXPIRING = (ttl: string, notice: string) => `(
  (expires_at IS NOT NULL AND expires_at > now() AND expires_at <= now() + ${notice}::float8 * interval '1 hour')
  OR (expires_at IS NULL AND created_at > now() - ${ttl}::float8 * interval '1 hour'
      AND created_at <= now() - (${ttl}::float8 - ${notice}::float8) * interval '1 hour'))`;

/** The idempotency key of an upload's notice: tied to its current expiry, so an extension re-arms it. */
const NOTICE_KEY = (ttl: string) =>
  `'file.expiring:' || id || ':' || to_char(${EXPIRY(ttl)} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export function countExpiring(schema: SchemaName, ttlHours: number, noticeHours: number): Sql {
  return {
    text: `SELECT count(*) AS n FROM ${qualified(schema, 'uploads')} WHERE ${EXPIRING('$1', '$2')}`,
    values: [ttlHours, noticeHours],
  };
}

/**
 * Finds up to `limit` expiring uploads not yet noticed and publishes one `file.expiring` event for
 * each, in one statement (one transaction). The idempotency key makes a rerun, or a concurrent
 * run, a no-op for uploads already noticed at their current expiry.
 */
export function insertNotices(schema: SchemaName, ttlHours: number, noticeHours: number, limit: number): Sql {
  const uploads = qualified(schema, 'uploads');
  const events = qualified(schema, 'outbox_events');
  return {
    text: `WITH expiring AS (
        SELECT id, storage_key, ${EXPIRY('$1')} AS expiry, ${NOTICE_KEY('$1')} AS notice_key
        FROM ${uploads} WHERE ${EXPIRING('$1', '$2')}
      ), due AS (
        SELECT x.* FROM expiring x
        WHERE NOT EXISTS (SELECT 1 FROM ${events} e WHERE e.idempotency_key = x.notice_key)
        -- One order for every run: concurrent runs inserting the same keys then wait on each other
        -- in sequence instead of deadlocking.
        ORDER BY x.id
        LIMIT $3::int
      )
      INSERT INTO ${events} (event_type, payload, idempotency_key)
      SELECT 'file.expiring', jsonb_build_object('uploadId', id, 'storageKey', storage_key, 'expiresAt', expiry), notice_key FROM due
      ON CONFLICT (idempotency_key) DO NOTHING
      RETURNING id::text`,
    values: [ttlHours, noticeHours, limit],
  };
}
