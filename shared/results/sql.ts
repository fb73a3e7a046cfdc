import pg from 'pg';
import { Params, type Sql } from '../db/params.js';
import type { RetentionRule } from './rules.js';
import { ruleApplies, type ResultTable } from './stores.js';

/**
 * One retention pass: the rows a rule (or a producer's expires_at) makes eligible for deletion.
 * Passes are disjoint, so their counts add up to the whole eligible set.
 */
export type RetentionPass =
  | { kind: 'expires_at'; label: 'expires_at'; now: Date; ageFloor?: Date }
  | {
      kind: 'rule';
      label: string;
      rule: RetentionRule;
      earlier: RetentionRule[];
      cutoff: Date;
      /** Keyset cursor: the oldest age the next batch need look at (timestamptz text, exact). */
      resumeAt?: string;
    };

/** A timestamptz parameter in the age column's own type: the column stays bare, so its index serves. */
function instant(t: ResultTable, params: Params, value: Date | string): string {
  const p = params.add(value, 'timestamptz');
  return t.ageIsNaive ? `(${p} AT TIME ZONE 'UTC')` : p;
}

function ruleMatch(t: ResultTable, rule: RetentionRule, params: Params): string {
  if (!ruleApplies(t, rule)) return 'false';
  const terms: string[] = [];
  if (rule.taskLike !== undefined) terms.push(`${t.taskName} LIKE ${params.add(rule.taskLike, 'text')}`);
  if (rule.status !== undefined) terms.push(`${t.status} = ${params.add(rule.status, 'text')}`);
  return terms.length > 0 ? terms.join(' AND ') : 'true';
}

/** The WHERE clause of a pass; written so each maps onto an index range scan. */
export function passPredicate(t: ResultTable, pass: RetentionPass, params: Params): string {
  if (pass.kind === 'expires_at') {
    const floor = pass.ageFloor ? ` AND ${t.age} < ${instant(t, params, pass.ageFloor)}` : '';
    return `${t.expiresAt} IS NOT NULL AND ${t.expiresAt} <= ${params.add(pass.now, 'timestamptz')}${floor}`;
  }
  const notExpiring = t.expiresAt ? `${t.expiresAt} IS NULL AND ` : '';
  // `IS NOT TRUE` rather than NOT: a NULL task name makes a glob match NULL, and NOT NULL would
  // wrongly exclude the row from every later rule.
  const notEarlier = pass.earlier.map((rule) => ` AND (${ruleMatch(t, rule, params)}) IS NOT TRUE`).join('');
  // For a status rule the age bounds are row comparisons on (status, age): only a (status, age)
  // index can use them as an index condition, so the planner cannot serve the pass from the age
  // index with a status filter, walking ten rows for every one it deletes.
  if (pass.rule.status !== undefined && t.status !== undefined) {
    const status = params.add(pass.rule.status, 'text');
    const match = `${notExpiring}${ruleMatch(t, pass.rule, params)}${notEarlier}`;
    const upper = `(${t.status}, ${t.age}) < (${status}, ${instant(t, params, pass.cutoff)})`;
    const lower = pass.resumeAt === undefined ? '' : ` AND (${t.status}, ${t.age}) >= (${status}, ${instant(t, params, pass.resumeAt)})`;
    return `${match} AND ${upper}${lower}`;
  }
  const match = `${notExpiring}${ruleMatch(t, pass.rule, params)}${notEarlier}`;
  const cutoff = instant(t, params, pass.cutoff);
  const resume = pass.resumeAt === undefined ? '' : ` AND ${t.age} >= ${instant(t, params, pass.resumeAt)}`;
  return `${match} AND ${t.age} < ${cutoff}${resume}`;
}

/**
 * The order a pass walks its index in. Naming the index's own key pins the plan to it: left to
 * cost estimates, a status rule was planned on the age index with a status filter, and every
 * batch re-walked all the live rows of other statuses (measured: batches slowing 57 → 378 ms).
 * Walking in age order also lets a batch resume where the last one stopped (see `resumeAt`).
 * Task-glob rules have no usable order (text_pattern_ops cannot serve ORDER BY task_name), so
 * they rely on the prefix range alone.
 */
export function passOrder(t: ResultTable, pass: RetentionPass): string | undefined {
  if (pass.kind === 'expires_at') return t.expiresAt;
  if (pass.rule.status !== undefined && t.status !== undefined) return `${t.status}, ${t.age}`;
  if (pass.rule.taskLike === undefined) return t.age;
  return undefined;
}

export function countEligible(t: ResultTable, pass: RetentionPass): Sql {
  const params = new Params();
  const where = passPredicate(t, pass, params);
  return { text: `SELECT count(*)::bigint AS n FROM ${t.table} WHERE ${where}`, values: params.values };
}

/** A binary column's name as an SQL literal (its JSON key): read from the catalog, where a quote in one would end a hand-quoted literal. */
const key = (column: string): string => pg.escapeLiteral(column);

/**
 * Every column as JSON at full precision; binary columns as base64, readable anywhere. Without
 * binary columns `row_to_json` serves: it skips jsonb's per-row conversion (measured: 6,100 rows
 * archived by one heap-range DELETE in 61 ms against 177 ms with `to_jsonb`).
 */
function rowJson(t: ResultTable, alias: string): string {
  const binary = t.binaryColumns.map((column) => `${key(column)}, encode(${alias}.${pg.escapeIdentifier(column)}, 'base64')`).join(', ');
  return binary ? `(to_jsonb(${alias}.*) || jsonb_build_object(${binary}))::text` : `row_to_json(${alias}.*)::text`;
}

/**
 * Deletes up to `limit` eligible rows and reports how many went and the oldest age the next batch
 * of this pass need look at. Rows another transaction holds are skipped, not waited on, so a
 * producer updating a result never stalls cleanup (nor the other way round).
 *
 * The delete targets the locked rows by ctid, a direct heap lookup: joining back on task_id let
 * the planner hash-join against a full scan of the table on every batch (measured: 32k rows/s
 * against 445k). A locked row cannot move, so its ctid holds until the delete; sorting the ctids
 * makes the delete walk the heap in page order.
 */
export function deleteBatch(t: ResultTable, pass: RetentionPass, limit: number): Sql {
  const params = new Params();
  const where = passPredicate(t, pass, params);
  const order = passOrder(t, pass);
  return {
    text: `WITH doomed AS (
        SELECT ctid FROM ${t.table} WHERE ${where}
        ${order ? `ORDER BY ${order}` : ''}
        LIMIT ${params.add(limit, 'int')} FOR UPDATE SKIP LOCKED
      ), gone AS (
        DELETE FROM ${t.table} AS t WHERE t.ctid = ANY(ARRAY(SELECT ctid FROM doomed ORDER BY ctid))
        RETURNING ${t.age} AS age
      )
      SELECT count(*)::int AS deleted, ${resumeAt(t)} AS resume_at FROM gone`,
    values: params.values,
  };
}

const resumeAt = (t: ResultTable): string => (t.ageIsNaive ? `(max(age) AT TIME ZONE 'UTC')::text` : 'max(age)::text');

/** What an archive statement reports besides its deleted rows (archiveBatch, archiveHeapRange). */
export interface ArchivedRows {
  /** The deleted rows as JSON lines joined by newlines; null when none. */
  lines: string | null;
  /** Rows locked and turned into JSON: more than were deleted when the byte bound cut the batch short. */
  examined: number;
  /** Their JSON bytes (bigint, as text): what the next batch's row limit is sized from. */
  examined_bytes: string;
}

export interface DeletedBatch extends Partial<ArchivedRows> {
  deleted: number;
  resume_at: string | null;
}

/**
 * The byte bound every archive statement shares (archiveBatch, archiveHeapRange, and tables-cleanup's
 * two). `locked` (the caller's CTE: rows locked FOR UPDATE, each its ctid `id` and its JSON `row`) of
 * `relation` is taken in `order` (its own order when none: any order
 * holds the bound) while the JSON before a row stays under `bytes`: the first row always goes, so a
 * row over the budget goes alone, and the batch's JSON is under `bytes` plus one row. Postgres builds
 * the JSON once, for the locked rows only. `select` aggregates over the rows taken and deleted: a row
 * another transaction updated and committed after this statement's snapshot is locked (and its JSON
 * read) in its new version, which the DELETE, reading by the snapshot, does not find. Archived
 * anyway, it stayed, and the next batch archived it again (a table without a unique key then
 * restored it twice); left out, the next batch takes it whole.
 */
export function boundedDelete(relation: string, locked: string, order: string | undefined, bytes: string, select?: string): string {
  return `WITH locked AS (${locked}
      ), taken AS (
        SELECT * FROM (
          SELECT *, sum(octet_length(row)) OVER (${order ? `ORDER BY ${order} ` : ''}ROWS UNBOUNDED PRECEDING) - octet_length(row) AS before
          FROM locked
        ) s WHERE before < ${bytes}
      ), gone AS (
        DELETE FROM ${relation} WHERE ctid = ANY(ARRAY(SELECT id FROM taken ORDER BY id)) RETURNING ctid AS id
      )
      SELECT count(*)::int AS deleted, ${select ? `${select}, ` : ''}string_agg(row, E'\\n') AS lines,
        (SELECT count(*) FROM locked)::int AS examined, (SELECT coalesce(sum(octet_length(row)), 0) FROM locked)::text AS examined_bytes
      FROM taken WHERE id IN (SELECT id FROM gone)`;
}

/**
 * deleteBatch with an archive: at most `rows` rows locked and turned into JSON, of which those
 * within `bytes` of JSON (see boundedDelete) are deleted and come back as JSON lines joined by Postgres into one text
 * (parsing a 10k-element `text[]` in node was a third of an archiving run's time). The byte bound
 * is taken in the walk's order, so `resume_at` never passes a row left for the next batch.
 */
export function archiveBatch(t: ResultTable, pass: RetentionPass, rows: number, bytes: number): Sql {
  const params = new Params();
  const where = passPredicate(t, pass, params);
  const order = passOrder(t, pass);
  const locked = `
        SELECT t.ctid AS id, ${order ? `ROW(${order})` : 'NULL::text'} AS ord, ${t.age} AS age, ${rowJson(t, 't')} AS row
        FROM ${t.table} AS t WHERE ${where}
        ${order ? `ORDER BY ${order}` : ''}
        LIMIT ${params.add(rows, 'int')} FOR UPDATE OF t SKIP LOCKED`;
  const budget = params.add(bytes, 'bigint');
  return {
    text: boundedDelete(t.table, locked, 'ord, id', budget, `${resumeAt(t)} AS resume_at`),
    values: params.values,
  };
}

/** The rows any of the passes selects; passes are disjoint, so OR loses nothing and counts none twice. */
function anyPass(t: ResultTable, passes: RetentionPass[], params: Params): string {
  return passes.length === 0 ? 'false' : passes.map((pass) => `(${passPredicate(t, pass, params)})`).join(' OR ');
}

/**
 * One heap-order batch of one pass: its eligible rows in blocks [from, to), read by a TID Range
 * Scan (PG 14+) whatever the table's indexes, deleted without a separate row lock or a re-find by
 * ctid. A plain DELETE, its row count the pass's: a range's passes run one after another in one
 * transaction, as RETURNING each row's pass into a CTE cost a third more than the DELETE itself
 * (measured on 700k rows), while the range's pages are read again from shared buffers. A row
 * another transaction holds makes the DELETE wait, which `lock_timeout` cuts short; the caller
 * then retries the range with `skipLocked`, which locks the free rows first and leaves the held
 * ones for the next run.
 */
export function deletePassInRange(t: ResultTable, pass: RetentionPass, from: number, to: number, skipLocked = false): Sql {
  const params = new Params();
  const where = `${tidRange(params, from, to)} AND ${passPredicate(t, pass, params)}`;
  const target = skipLocked ? `ctid = ANY(ARRAY(SELECT ctid FROM ${t.table} WHERE ${where} FOR UPDATE SKIP LOCKED))` : where;
  return { text: `DELETE FROM ${t.table} WHERE ${target}`, values: params.values };
}

/**
 * deletePassInRange for every pass at once, with an archive, bounded as archiveBatch is: at most
 * `rows` of the range's eligible rows locked and turned into JSON, in heap order, of which those
 * within `bytes` of JSON are deleted and come back as JSON lines, each counted under the pass that
 * selected it (first match, in the passes' order), so byRule stays exact. One heap page can hold a
 * hundred TOASTed rows of several MB: a range is then taken in several batches, each its own
 * transaction, until one reports fewer rows examined than `rows` and none left by the byte bound.
 */
export function archiveHeapRange(
  t: ResultTable,
  passes: RetentionPass[],
  range: { from: number; to: number; rows: number; bytes: number },
  skipLocked = false,
): Sql {
  const params = new Params();
  const where = `${tidRange(params, range.from, range.to)} AND (${anyPass(t, passes, params)})`;
  // Every deleted row matches some pass, so the last one needs no test of its own: ELSE. It is
  // usually the catch-all rule that most rows fall under.
  const tests = passes.slice(0, -1).map((pass, i) => `WHEN ${passPredicate(t, pass, params)} THEN ${i}`);
  const which = tests.length > 0 ? `CASE ${tests.join(' ')} ELSE ${passes.length - 1} END` : '0';
  const locked = `
        SELECT t.ctid AS id, ${which} AS pass, ${rowJson(t, 't')} AS row FROM ${t.table} AS t WHERE ${where}
        LIMIT ${params.add(range.rows, 'int')} FOR UPDATE OF t${skipLocked ? ' SKIP LOCKED' : ''}`;
  const budget = params.add(range.bytes, 'bigint');
  const counts = passes.map((_, i) => `count(*) FILTER (WHERE pass = ${i})`).join(', ');
  return {
    text: boundedDelete(t.table, locked, undefined, budget, `ARRAY[${counts || 'NULL'}]::int[] AS by_pass`),
    values: params.values,
  };
}

/** Blocks [from, to) of the heap, for a TID Range Scan (results' and tables-cleanup's heap ranges). */
export function tidRange(params: Params, from: number, to: number): string {
  return `ctid >= ${params.add(`(${from},0)`, 'tid')} AND ctid < ${params.add(`(${to},0)`, 'tid')}`;
}

export interface DeletedRange extends Partial<ArchivedRows> {
  deleted: number;
  /** Rows deleted per pass, in the passes' order. */
  by_pass: number[];
}

/** The planner's row estimate for what the passes select: no scan, for choosing the access path. */
export function estimateEligible(t: ResultTable, passes: RetentionPass[]): Sql {
  const params = new Params();
  const where = anyPass({ ...t, age: t.ageEstimate ?? t.age }, passes, params);
  return { text: `EXPLAIN (FORMAT JSON) SELECT 1 FROM ${t.table} WHERE ${where}`, values: params.values };
}

/**
 * The planner's row count for the table (reltuples scaled to its current pages): no scan. An exact
 * `count(*)` was 12% of a run at 10M rows.
 */
export function estimateAll(t: ResultTable): Sql {
  return { text: `EXPLAIN (FORMAT JSON) SELECT 1 FROM ${t.table}`, values: [] };
}

/**
 * Exact counts of what each pass selects, in one read of the heap (the caller turns index scans
 * off): counting through an index after a large delete walks every dead entry it still holds
 * (measured: 1.5 s over 7M unvacuumed entries). With `pages`, only those pages are read (a TID
 * Range Scan): what a sweep left behind, without reading again what it swept.
 */
export function countByPassInHeap(t: ResultTable, passes: RetentionPass[], pages?: { from: number; to?: number }): Sql {
  const params = new Params();
  const counts = passes.map((pass) => `count(*) FILTER (WHERE ${passPredicate(t, pass, params)})`).join(', ');
  const from = pages ? ` AND ctid >= ${params.add(`(${pages.from},0)`, 'tid')}` : '';
  const to = pages?.to === undefined ? '' : ` AND ctid < ${params.add(`(${pages.to},0)`, 'tid')}`;
  return {
    text: `SELECT ARRAY[${counts || 'NULL'}]::bigint[] AS by_pass FROM ${t.table} WHERE (${anyPass(t, passes, params)})${from}${to}`,
    values: params.values,
  };
}

/**
 * Inserts archived rows (a JSON array of the archived lines, as written); rows already present are
 * left alone. Binary columns were archived as base64 (see rowJson): decoded here, as jsonb_populate_record
 * reads bytea from the `\x` hex that to_jsonb writes for it.
 */
export function restoreRows(t: ResultTable, rowsJson: string): Sql {
  const binary = t.binaryColumns.map((column) => `${key(column)}, decode(e.j->>${key(column)}, 'base64')`).join(', ');
  const rows = binary
    ? `jsonb_array_elements($1::jsonb) AS e(j), jsonb_populate_record(null::${t.table}, e.j || jsonb_build_object(${binary})) AS r`
    : `jsonb_populate_recordset(null::${t.table}, $1::jsonb) AS r`;
  return { text: `INSERT INTO ${t.table} SELECT r.* FROM ${rows} ON CONFLICT DO NOTHING`, values: [rowsJson] };
}
