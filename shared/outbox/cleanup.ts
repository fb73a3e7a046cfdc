import { inTransaction, type Db } from '../db/pool.js';
import type { SchemaName } from '../db/identifiers.js';
import type { TimeBudget } from '../runtime/budget.js';
import { countTerminalEvents, deleteTerminalEvents } from './sql.js';

// Each deleted event takes its deliveries with it by cascade (a few rows each), so batches are
// smaller than results-cleanup's to keep each transaction as short.
export const OUTBOX_CLEANUP_BATCH = 2_000;
const LOCK_TIMEOUT = '2s';

export interface OutboxCleanupStats {
  deleted: number;
  remaining: number;
  truncated: boolean;
}

/**
 * Deletes delivered and failed events completed more than `retentionHours` ago, with their
 * deliveries, in bounded batches within the budget. Pending and in-flight events are never touched.
 *
 * @example await cleanupOutbox({ db, schema, retentionHours: 168, budget }) // → { deleted: 5000, remaining: 0, truncated: false }
 */
export async function cleanupOutbox(input: {
  db: Db;
  schema: SchemaName;
  retentionHours: number;
  budget: TimeBudget;
  /** Count what is due for deletion; delete nothing. */
  dryRun?: boolean;
}): Promise<OutboxCleanupStats | (OutboxCleanupStats & { dryRun: true; wouldDelete: number })> {
  const { db, schema, retentionHours, budget } = input;
  if (input.dryRun) {
    const { rows } = await db.query<{ n: string }>(countTerminalEvents(schema, retentionHours));
    const n = Number(rows[0]!.n);
    return { dryRun: true, deleted: 0, wouldDelete: n, remaining: n, truncated: false };
  }
  let deleted = 0;
  let truncated = false;
  for (;;) {
    if (deleted > 0 && budget.expired()) {
      truncated = true;
      break;
    }
    const rows = await inTransaction(db, async (tx) => {
      await tx.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
      return (await tx.query(deleteTerminalEvents(schema, retentionHours, OUTBOX_CLEANUP_BATCH))).rowCount ?? 0;
    });
    deleted += rows;
    if (rows < OUTBOX_CLEANUP_BATCH) break;
  }
  const { rows } = await db.query<{ n: string }>(countTerminalEvents(schema, retentionHours));
  return { deleted, remaining: Number(rows[0]!.n), truncated };
}
