import type { Db } from '../db/pool.js';
import type { SchemaName } from '../db/identifiers.js';
import type { EventDispatcher } from '../outbox/dispatch.js';
import type { TimeBudget } from '../runtime/budget.js';
import { countExpiring, insertNotices } from './sql.js';

// Notices published per statement: a short transaction, and a dispatch of a few SQS batches.
const NOTICE_BATCH = 500;

export interface UploadsNotifyStats {
  notified: number;
  /** Uploads in the notice window that already had their notice. */
  skipped: number;
  /** Notices the fast path could not take (SQS refused or unreachable): they go out on the next sweep. */
  dispatchFailed: number;
  truncated: boolean;
}

/**
 * Publishes one `file.expiring` event per upload that expires within `noticeHours`, keyed to the
 * upload and its current expiry: reruns and overlapping runs never notify twice, and an extended
 * expiry re-arms the notice. New events go to the fast path after each batch commits.
 *
 * @example await notifyExpiringUploads({ db, schema, ttlHours: 24, noticeHours: 6, budget }) // → { notified: 12, skipped: 40 }
 */
export async function notifyExpiringUploads(input: {
  db: Db;
  schema: SchemaName;
  ttlHours: number;
  noticeHours: number;
  budget: TimeBudget;
  dispatcher?: EventDispatcher;
}): Promise<UploadsNotifyStats> {
  const { db, schema, ttlHours, noticeHours, budget, dispatcher } = input;
  const { rows } = await db.query<{ n: string }>(countExpiring(schema, ttlHours, noticeHours));
  const inWindow = Number(rows[0]!.n);
  let notified = 0;
  let dispatchFailed = 0;
  let truncated = false;
  for (let first = true; ; first = false) {
    if (!first && budget.expired()) {
      truncated = true;
      break;
    }
    const { rows: created } = await db.query<{ id: string }>(insertNotices(schema, ttlHours, noticeHours, NOTICE_BATCH));
    notified += created.length;
    if (dispatcher && created.length > 0) {
      const { failed } = await dispatcher.dispatch(created.map((event) => event.id));
      for (const { eventIds } of failed) dispatchFailed += eventIds.length;
    }
    if (created.length < NOTICE_BATCH) break;
  }
  return { notified, skipped: Math.max(0, inWindow - notified), dispatchFailed, truncated };
}
