import type { Sql } from '../db/params.js';
import { inTransaction, type Db } from '../db/pool.js';
import { PolicyError } from './errors.js';
import type { TablePolicy } from './policies.js';
import {
  analyzeRelation,
  columnType,
  estimateExpired,
  explainWhere,
  leadingIndex,
  quoted,
  relationOf,
  relationSize,
  staleStatistics,
  type TableTarget,
} from './sql.js';

// Below this share of the table expired, an index walk beats a heap-order sweep: the sweep reads
// every page for its few rows, while the walk touches only theirs. Above it the sweep wins: the
// walk pays an index descent, a row lock and a random heap visit per row (issue 15 measured the
// walk at ~0.25× and the sweep at ~1.2× one unbatched DELETE with 70% expired).
export const INDEX_WALK_MAX_SHARE = 0.05;
// TID Range Scan, which bounds a heap-order batch to its pages, arrived in PostgreSQL 14.
const TID_RANGE_SCAN_VERSION = 140_000;

/**
 * Checks each policy against the database and resolves it into a target: the table exists, the
 * timestamp column is a timestamp (`with time zone`, or without and read in `naiveTimezone`), the
 * operator's `where` parses and plans (in a read-only transaction, so even a mistaken condition
 * changes nothing), and the access path is chosen. A problem names the policy.
 *
 * @example const targets = await inspectPolicies(db, policies, cutoffs)
 */
export async function inspectPolicies(db: Db, policies: TablePolicy[], cutoffs: Map<string, Date>): Promise<TableTarget[]> {
  const {
    rows: [version],
  } = await db.query<{ v: number }>(`SELECT current_setting('server_version_num')::int AS v`);
  const targets: TableTarget[] = [];
  for (const policy of policies)
    targets.push(await inspectPolicy(db, policy, cutoffs.get(policy.label)!, version!.v >= TID_RANGE_SCAN_VERSION));
  return targets;
}

async function inspectPolicy(db: Db, policy: TablePolicy, cutoff: Date, tidRangeScan: boolean): Promise<TableTarget> {
  const relation = relationOf(policy);
  const {
    rows: [column],
  } = await db.query<{ table_exists: boolean; type: string | null }>(columnType(relation, policy.timestampColumn));
  if (!column!.table_exists)
    throw new PolicyError(
      policy.label,
      `table ${policy.schema}.${policy.table} does not exist — check "table" (schema.table) and that this is the app's database`,
    );
  if (column!.type === null)
    throw new PolicyError(
      policy.label,
      `${policy.schema}.${policy.table} has no column "${policy.timestampColumn}" — check "timestampColumn"`,
    );
  const naive = column!.type.startsWith('timestamp without time zone');
  if (!naive && !column!.type.startsWith('timestamp with time zone')) {
    throw new PolicyError(
      policy.label,
      `column "${policy.timestampColumn}" is ${column!.type}, not a timestamp — "timestampColumn" must name a timestamp column`,
    );
  }
  if (naive) await checkTimeZone(db, policy);
  if (policy.where) await checkWhere(db, policy, relation);

  const {
    rows: [index],
  } = await db.query<{ name: string }>(leadingIndex(relation, policy.timestampColumn));
  const base = { policy, relation, column: quoted(policy.timestampColumn), naive, ...(index && { index: index.name }) };
  const chosen = policy.path
    ? { path: policy.path, pathReason: 'set by the policy' }
    : await choosePath(db, { ...base, path: 'heap', pathReason: '' }, cutoff);
  if (chosen.path === 'index' && !index)
    throw new PolicyError(policy.label, `"path": "index" needs a btree index leading with "${policy.timestampColumn}"; there is none`);
  if (chosen.path === 'heap' && !tidRangeScan) {
    throw new PolicyError(
      policy.label,
      `heap-order batches need PostgreSQL 14 or newer; on older servers create an index on ${policy.schema}.${policy.table} ("${policy.timestampColumn}")`,
    );
  }
  return { ...base, ...chosen };
}

/** The planner's estimate decides: no scan is spent on choosing. */
async function choosePath(db: Db, target: TableTarget, cutoff: Date): Promise<Pick<TableTarget, 'path' | 'pathReason'>> {
  if (!target.index) return { path: 'heap', pathReason: `no btree index leads with ${target.policy.timestampColumn}` };
  const { indexWins, percent, refreshed } = await estimatedShare(db, target.relation, estimateExpired(target, cutoff));
  return indexWins
    ? { path: 'index', pathReason: `${percent} of rows expired: walking ${target.index}${refreshed}` }
    : { path: 'heap', pathReason: `${percent} of rows expired: a heap-order sweep beats walking ${target.index}${refreshed}` };
}

/**
 * The share of `relation` the planner expects `estimate` (an `EXPLAIN (FORMAT JSON)` of the rows a run
 * would delete) to select, as `~N%`, and whether that is few enough for an index walk to win.
 * Shared by tables-cleanup and results-cleanup, so both choose their access path by the same rule.
 *
 * Statistics older than autovacuum's analyze threshold are refreshed first: right after a bulk load
 * of old rows the planner still saw the table as it was, and chose an index walk with 57% of it
 * eligible ("~0.11%"), a walk that runs at a tenth of the sweep's rate. `refreshed` then says so.
 */
export async function estimatedShare(
  db: Db,
  relation: string,
  estimate: Sql,
): Promise<{ indexWins: boolean; percent: string; refreshed: string }> {
  const {
    rows: [freshness],
  } = await db.query<{ changed: number; stale: boolean }>(staleStatistics(relation));
  if (freshness?.stale) await db.query(analyzeRelation(relation));
  const {
    rows: [size],
  } = await db.query<{ reltuples: number }>(relationSize(relation));
  const {
    rows: [plan],
  } = await db.query<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(estimate);
  const selected = plan!['QUERY PLAN'][0].Plan['Plan Rows'];
  const share = size!.reltuples > 0 ? Math.min(selected / size!.reltuples, 1) : 1;
  const refreshed = freshness?.stale ? ` (statistics refreshed first: ${freshness.changed} rows had changed since the last analyze)` : '';
  return { indexWins: share < INDEX_WALK_MAX_SHARE, percent: `~${(share * 100).toFixed(share < 0.01 ? 2 : 0)}%`, refreshed };
}

async function checkTimeZone(db: Db, policy: TablePolicy): Promise<void> {
  try {
    await db.query(`SELECT now() AT TIME ZONE $1::text`, [policy.naiveTimezone]);
  } catch (error) {
    throw new PolicyError(policy.label, `"naiveTimezone": Postgres does not know "${policy.naiveTimezone}" (${(error as Error).message})`, {
      cause: error,
    });
  }
}

/** Parsed and planned by Postgres, never executed, and inside a read-only transaction besides. */
async function checkWhere(db: Db, policy: TablePolicy, relation: string): Promise<void> {
  try {
    await inTransaction(db, async (tx) => {
      await tx.query('SET TRANSACTION READ ONLY');
      await tx.query(explainWhere(relation, policy.where!));
    });
  } catch (error) {
    throw new PolicyError(
      policy.label,
      `"where" is not a valid condition on ${policy.schema}.${policy.table}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
