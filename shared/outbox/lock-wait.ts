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
 * Runs one of a delivery run's writes, waiting for a row lock at most as long as the run's budget
 * has left. Another transaction can hold an endpoint row (an app's UPDATE or SELECT … FOR UPDATE
 * left open) that the fan-out (its foreign key check) or a flush (endpoint health) must lock: with
 * no bound, the run waited until the Lambda timeout killed it, its outcomes unrecorded and the run
 * left STARTED. Now it fails within its budget, naming the wait. Without a budget (the CLI), it
 * is one plain statement, as before.
 *
 * @example const { rows } = await queryWithinBudget(deps, recordResults(…), 'recording webhook outcomes')
 */
export async function queryWithinBudget<Row extends object>(
  deps: { db: Db; budget: TimeBudget },
  query: Sql,
  what: string,
): Promise<{ rows: Row[] }> {
  const remaining = deps.budget.remainingMs();
  if (!Number.isFinite(remaining)) return deps.db.query<Row>(query);
  const waitMs = Math.max(LOCK_WAIT_FLOOR_MS, Math.ceil(remaining));
  try {
    return await inTransaction(deps.db, (tx) => tx.query<Row>(query), `SET LOCAL lock_timeout = '${waitMs}ms'`);
  } catch (error) {
    if (!hasPgCode(error, PgErrorCode.lockNotAvailable)) throw error;
    throw new OutboxError(
      `${what} gave up after waiting ${waitMs} ms for a row lock another transaction holds (on webhook_endpoints or ` +
        "outbox_events) — end that transaction (pg_stat_activity: a long 'idle in transaction' session); " +
        'deliveries sent and not recorded go again when their leases lapse',
      { cause: error },
    );
  }
}
