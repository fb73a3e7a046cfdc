import { hasPgCode, PgErrorCode } from '../db/pg-errors.js';
import type { Sql } from '../db/params.js';
import { inTransaction, type Db } from '../db/pool.js';
import type { TimeBudget } from '../runtime/budget.js';
import { OutboxError } from './errors.js';

// The least a statement waits for a row lock, even with the budget spent: the last flush of a run
// is made after its budget ends (inside the 10 s margin), and a concurrent run's flush of the same
// endpoint or event holds its row for milliseconds.
const LOCK_WAIT_FLOOR_MS = 2_000;

/**
 * The `SET LOCAL lock_timeout` a delivery run's write takes: the budget left (LOCK_WAIT_FLOOR_MS at
 * least), or none without a budget (the CLI, the bench).
 */
export function lockWaitSetting(budget: TimeBudget): string | undefined {
  const remaining = budget.remainingMs();
  return Number.isFinite(remaining) ? `SET LOCAL lock_timeout = '${Math.max(LOCK_WAIT_FLOOR_MS, Math.ceil(remaining))}ms'` : undefined;
}

/** Runs `work`, a write bounded by lockWaitSetting, naming `what` if it gave up on a row lock. */
export async function namingLockWait<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!hasPgCode(error, PgErrorCode.lockNotAvailable)) throw error;
    throw new OutboxError(
      `${what} gave up waiting for a row lock another transaction holds (on webhook_endpoints, outbox_events or webhook_deliveries) — ` +
        "end that transaction (pg_stat_activity: a long 'idle in transaction' session); " +
        'deliveries sent and not recorded go again when their leases lapse',
      { cause: error },
    );
  }
}

/**
 * Runs one of a delivery run's writes, waiting for a row lock at most as long as the run's budget
 * has left. Another transaction can hold an endpoint row (an app's UPDATE or SELECT … FOR UPDATE
 * left open) that the fan-out (its foreign key check) or a flush (endpoint health, disabling) must
 * lock: with no bound, the run waited until the Lambda timeout killed it, its outcomes unrecorded and
 * the run left STARTED. Now it fails within its budget, naming the wait. Without a budget (the CLI),
 * it is one plain statement, as before.
 *
 * @example const { rows } = await queryWithinBudget(deps, recordResults(…), 'recording webhook outcomes')
 */
export function queryWithinBudget<Row extends object>(
  deps: { db: Db; budget: TimeBudget },
  query: Sql,
  what: string,
): Promise<{ rows: Row[] }> {
  const setting = lockWaitSetting(deps.budget);
  if (setting === undefined) return deps.db.query<Row>(query);
  return namingLockWait(what, () => inTransaction(deps.db, (tx) => tx.query<Row>(query), setting));
}
