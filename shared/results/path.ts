import type { Db } from '../db/pool.js';
import { estimatedShare } from '../tables/inspect.js';
import type { AccessPath } from '../tables/policies.js';
import { leadingIndex } from '../tables/sql.js';
import { estimateEligible, type RetentionPass } from './sql.js';
import type { ResultTable } from './stores.js';

// TID Range Scan, which bounds a heap-order batch to its pages, arrived in PostgreSQL 14.
const TID_RANGE_SCAN_VERSION = 140_000;

export interface ChosenPath {
  path: AccessPath;
  /** Why, for the stats, the dry run and `chores doctor`. */
  reason: string;
}

/**
 * Heap order or an index walk for one run, from the planner's estimate (no scan is spent on
 * choosing), the same threshold tables-cleanup uses: with few rows expired in a big table the walk
 * touches only theirs; otherwise the sweep wins, since the walk pays an index descent, a row lock
 * and a re-find by ctid per row. A table without an index on its age column is always swept.
 *
 * @example await choosePath(db, table, passes) // → { path: 'heap', reason: '~70% of rows eligible: …' }
 */
export async function choosePath(db: Db, t: ResultTable, passes: RetentionPass[], forced?: AccessPath): Promise<ChosenPath> {
  const {
    rows: [version],
  } = await db.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`);
  if (version!.v < TID_RANGE_SCAN_VERSION) return { path: 'index', reason: 'heap-order batches need PostgreSQL 14 or newer' };
  if (forced) return { path: forced, reason: 'set by the run' };
  // The native table's indexes are ours (migration 0001); a Celery table has one only if its users made it.
  if (t.store !== 'chores') {
    const { rows } = await db.query<{ name: string }>(leadingIndex(t.table, 'date_done'));
    if (rows.length === 0) return { path: 'heap', reason: `${t.table} has no btree index leading with date_done` };
  }
  const { indexWins, percent, refreshed } = await estimatedShare(db, t.table, estimateEligible(t, passes));
  return indexWins
    ? { path: 'index', reason: `${percent} of rows eligible: an index walk touches only those${refreshed}` }
    : { path: 'heap', reason: `${percent} of rows eligible: a heap-order sweep beats an index walk${refreshed}` };
}
