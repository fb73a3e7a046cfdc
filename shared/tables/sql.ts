import pg from 'pg';
import { Params, type Sql } from '../db/params.js';
import { boundedDelete, tidRange, type ArchivedRows } from '../results/sql.js';
import type { AccessPath, TablePolicy } from './policies.js';

/** A policy resolved against the database: quoted names, the column's kind, the access path. */
export interface TableTarget {
  policy: TablePolicy;
  /** `"schema"."table"`, quoted. */
  relation: string;
  /** The timestamp column, quoted. */
  column: string;
  /** `timestamp without time zone`: cutoffs are converted to the policy's naiveTimezone. */
  naive: boolean;
  /** A valid, non-partial btree index leading with the timestamp column, if the table has one. */
  index?: string;
  path: AccessPath;
  /** Why this path, for the dry run and `chores doctor`. */
  pathReason: string;
}

export const quoted = (name: string): string => pg.escapeIdentifier(name);
export const relationOf = (policy: Pick<TablePolicy, 'schema' | 'table'>): string => `${quoted(policy.schema)}.${quoted(policy.table)}`;

/**
 * The rows a policy deletes: older than its cutoff by the timestamp column (NULL never is), and
 * matching the preset's and the operator's conditions. The column stays bare (the cutoff is
 * converted to its type), so an index on it can serve.
 */
export function expiredPredicate(t: TableTarget, cutoff: Date, params: Params): string {
  const at = params.add(cutoff, 'timestamptz');
  const bound = t.naive ? `(${at} AT TIME ZONE ${params.add(t.policy.naiveTimezone, 'text')})` : at;
  const terms = [`${t.column} < ${bound}`];
  if (t.policy.presetWhere) terms.push(`(${t.policy.presetWhere})`);
  if (t.policy.where) terms.push(`(${t.policy.where})`);
  return terms.join(' AND ');
}

/** Parsed and planned, never run: how the operator's `where` is checked, inside a read-only transaction. */
export function explainWhere(relation: string, where: string): Sql {
  return { text: `EXPLAIN SELECT 1 FROM ${relation} WHERE (${where})`, values: [] };
}

/** The planner's row estimate for a policy's expired rows: no scan, for choosing the access path. */
export function estimateExpired(t: TableTarget, cutoff: Date): Sql {
  const params = new Params();
  return { text: `EXPLAIN (FORMAT JSON) SELECT 1 FROM ${t.relation} WHERE ${expiredPredicate(t, cutoff, params)}`, values: params.values };
}

export function countExpired(t: TableTarget, cutoff: Date): Sql {
  const params = new Params();
  return { text: `SELECT count(*)::bigint AS n FROM ${t.relation} WHERE ${expiredPredicate(t, cutoff, params)}`, values: params.values };
}

/** The table's row estimate and its heap size in pages (what a heap-order sweep walks). */
export function relationSize(relation: string): Sql {
  return {
    text: `SELECT greatest(c.reltuples, 0)::float8 AS reltuples,
        (pg_relation_size(c.oid) / current_setting('block_size')::int)::bigint AS pages
      FROM pg_class c WHERE c.oid = to_regclass($1::text)`,
    values: [relation],
  };
}

/**
 * Whether the planner's statistics of `relation` are older than autovacuum's own analyze threshold
 * (its defaults: 50 rows plus 10% of the table changed since the last analyze), and by how many rows.
 */
export function staleStatistics(relation: string): Sql {
  return {
    text: `SELECT s.n_mod_since_analyze::float8 AS changed, s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0) AS stale
      FROM pg_class c JOIN pg_stat_all_tables s ON s.relid = c.oid WHERE c.oid = to_regclass($1::text)`,
    values: [relation],
  };
}

/** Refreshes the planner's statistics of `relation`; one autovacuum or another analyze holds is skipped, not waited for. */
export function analyzeRelation(relation: string): Sql {
  return { text: `ANALYZE (SKIP_LOCKED) ${relation}`, values: [] };
}

/** The column's type, or no row when the table or the column does not exist. */
export function columnType(relation: string, column: string): Sql {
  return {
    text: `SELECT to_regclass($1::text) IS NOT NULL AS table_exists, (
        SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
        WHERE a.attrelid = to_regclass($1::text) AND a.attname = $2::text AND a.attnum > 0 AND NOT a.attisdropped
      ) AS type`,
    values: [relation, column],
  };
}

/** A btree index whose first key is the column, valid and not partial: one an ordered walk can use. */
export function leadingIndex(relation: string, column: string): Sql {
  return {
    text: `SELECT i.indexrelid::regclass::text AS name
      FROM pg_index i
      JOIN pg_class ic ON ic.oid = i.indexrelid
      JOIN pg_am am ON am.oid = ic.relam
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
      WHERE i.indrelid = to_regclass($1::text) AND a.attname = $2::text
        AND am.amname = 'btree' AND i.indisvalid AND i.indpred IS NULL
      ORDER BY i.indnatts LIMIT 1`,
    values: [relation, column],
  };
}

/**
 * Every column of a row as one JSON line. `row_to_json`, not `to_jsonb`: a `json` column keeps its
 * text (its key order, spacing, repeated keys), which jsonb rewrites, and restore reads it back as json.
 */
const line = (relation: string) => `row_to_json(${relation}.*)::text`;

export interface DeletedBatch extends Partial<ArchivedRows> {
  deleted: number;
  /** The newest timestamp the batch deleted (index walk only), in the column's own type. */
  resume_at?: string | null;
}

/**
 * One heap-order batch: the expired rows in blocks [from, to). A TID Range Scan (PG 14+) reads just
 * those pages, so the statement's cost is bounded by the range whatever the table's indexes. A row
 * another transaction holds makes the DELETE wait, which `lock_timeout` cuts short (the caller
 * then skips the range): producers are never waited on for long. A plain DELETE, counted by its
 * command tag: returning each row into a CTE to count it costs a third more (see results'
 * deletePassInRange).
 */
export function deleteHeapRange(t: TableTarget, cutoff: Date, from: number, to: number): Sql {
  const params = new Params();
  const range = tidRange(params, from, to);
  const where = expiredPredicate(t, cutoff, params);
  return { text: `DELETE FROM ${t.relation} WHERE ${range} AND ${where}`, values: params.values };
}

/**
 * deleteHeapRange with an archive, bounded as results' archive is (see boundedDelete): at most
 * `rows` of the range's expired rows locked (waiting, as the DELETE does) and turned into JSON, in
 * heap order, of which those within `bytes` of JSON are deleted and come back as JSON lines joined
 * by Postgres into one text. One heap page can hold a hundred TOASTed rows of several MB: the caller
 * then runs the range again, in a new transaction, until a batch leaves nothing behind.
 */
export function archiveHeapRange(t: TableTarget, cutoff: Date, range: { from: number; to: number; rows: number; bytes: number }): Sql {
  const params = new Params();
  const where = `${tidRange(params, range.from, range.to)} AND ${expiredPredicate(t, cutoff, params)}`;
  // The relation unaliased, as in the plain statements: an operator's `where` may name it.
  const locked = `
        SELECT ${t.relation}.ctid AS id, ${line(t.relation)} AS row FROM ${t.relation} WHERE ${where}
        LIMIT ${params.add(range.rows, 'int')} FOR UPDATE`;
  return { text: boundedDelete(t.relation, locked, undefined, params.add(range.bytes, 'bigint')), values: params.values };
}

/**
 * One index-walk batch: the oldest `limit` expired rows in the column's order, resuming at the
 * newest timestamp the previous batch reached (rows the `where` keeps are walked once per run, not
 * once per batch). Rows another transaction holds are skipped, not waited on; the delete finds the
 * locked rows by ctid, in heap order.
 */
export function deleteIndexBatch(t: TableTarget, cutoff: Date, limit: number, resumeAt: string | undefined): Sql {
  const params = new Params();
  const where = `${expiredPredicate(t, cutoff, params)}${resumeFrom(t, resumeAt, params)}`;
  return {
    text: `WITH doomed AS (
        SELECT ctid FROM ${t.relation} WHERE ${where}
        ORDER BY ${t.column} LIMIT ${params.add(limit, 'int')} FOR UPDATE SKIP LOCKED
      ), gone AS (
        DELETE FROM ${t.relation} WHERE ctid = ANY(ARRAY(SELECT ctid FROM doomed ORDER BY ctid))
        RETURNING ${t.column} AS ts
      )
      SELECT count(*)::int AS deleted, max(ts)::text AS resume_at FROM gone`,
    values: params.values,
  };
}

/**
 * deleteIndexBatch with an archive, bounded as archiveHeapRange is: at most `rows` rows locked and
 * turned into JSON, of which those within `bytes` of JSON are deleted. The bound is taken in the
 * walk's order, so `resume_at` (the newest timestamp deleted) never passes a row left for the next batch.
 */
export function archiveIndexBatch(t: TableTarget, cutoff: Date, batch: { rows: number; bytes: number }, resumeAt: string | undefined): Sql {
  const params = new Params();
  const where = `${expiredPredicate(t, cutoff, params)}${resumeFrom(t, resumeAt, params)}`;
  // Ordered by the qualified column: a bare name would mean an output column of the same name.
  const locked = `
        SELECT ${t.relation}.ctid AS id, ${t.column} AS ts, ${line(t.relation)} AS row FROM ${t.relation} WHERE ${where}
        ORDER BY ${t.relation}.${t.column} LIMIT ${params.add(batch.rows, 'int')} FOR UPDATE SKIP LOCKED`;
  const bytes = params.add(batch.bytes, 'bigint');
  return { text: boundedDelete(t.relation, locked, 'ts, id', bytes, 'max(ts)::text AS resume_at'), values: params.values };
}

/** Where an index walk picks up: at the newest timestamp the last batch reached, ties included. */
function resumeFrom(t: TableTarget, resumeAt: string | undefined, params: Params): string {
  return resumeAt === undefined ? '' : ` AND ${t.column} >= ${params.add(resumeAt, t.naive ? 'timestamp' : 'timestamptz')}`;
}

/** Size on disk (heap, indexes, TOAST) and the statistics collector's live and dead tuples. */
export function tableHealth(relation: string): Sql {
  return {
    text: `SELECT pg_total_relation_size(c.oid)::bigint AS bytes,
        coalesce(s.n_dead_tup, 0)::bigint AS dead, coalesce(s.n_live_tup, 0)::bigint AS live
      FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
      WHERE c.oid = to_regclass($1::text)`,
    values: [relation],
  };
}

/**
 * Pending messages per queue, as kombu's transport reads them (`visible != false`): what a worker
 * has yet to take. Queues with nothing pending report 0, so a drained queue's metric reaches zero.
 */
export function kombuBacklog(messages: string, queues: string): Sql {
  return {
    text: `SELECT q.name, count(m.id)::bigint AS n
      FROM ${queues} q LEFT JOIN ${messages} m ON m.queue_id = q.id AND m.visible
      GROUP BY q.name ORDER BY q.name`,
    values: [],
  };
}

/**
 * Inserts archived rows (a JSON array of the archived lines, as written); rows whose unique keys are
 * already present are left alone. As json, not jsonb, so a `json` column gets its archived text back.
 */
export function restoreTableRows(relation: string, rowsJson: string): Sql {
  return {
    text: `INSERT INTO ${relation} SELECT * FROM json_populate_recordset(null::${relation}, $1::json) ON CONFLICT DO NOTHING`,
    values: [rowsJson],
  };
}
