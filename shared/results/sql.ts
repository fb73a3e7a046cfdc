import { qualified, type SchemaName } from '../db/identifiers.js';
import { Params, type Sql } from '../db/params.js';
import type { RetentionRule } from './rules.js';

/**
 * One retention pass: the rows a rule (or a producer's expires_at) makes eligible for deletion.
 * Passes are disjoint, so their counts add up to the whole eligible set.
 */
export type RetentionPass =
  | { kind: 'expires_at'; label: 'expires_at'; now: Date; ageFloor?: Date }
  | { kind: 'rule'; label: string; rule: RetentionRule; earlier: RetentionRule[]; cutoff: Date };

const AGE = 'coalesce(date_done, date_created)';

function ruleMatch(rule: RetentionRule, params: Params): string {
  const terms: string[] = [];
  if (rule.taskLike !== undefined) terms.push(`task_name LIKE ${params.add(rule.taskLike, 'text')}`);
  if (rule.status !== undefined) terms.push(`status = ${params.add(rule.status, 'text')}`);
  return terms.length > 0 ? terms.join(' AND ') : 'true';
}

/** The WHERE clause of a pass; written so each maps onto one of the migration's indexes. */
export function passPredicate(pass: RetentionPass, params: Params): string {
  if (pass.kind === 'expires_at') {
    const floor = pass.ageFloor ? ` AND ${AGE} < ${params.add(pass.ageFloor, 'timestamptz')}` : '';
    return `expires_at IS NOT NULL AND expires_at <= ${params.add(pass.now, 'timestamptz')}${floor}`;
  }
  // `IS NOT TRUE` rather than NOT: a NULL task_name makes a glob match NULL, and NOT NULL would
  // wrongly exclude the row from every later rule.
  const notEarlier = pass.earlier.map((rule) => ` AND (${ruleMatch(rule, params)}) IS NOT TRUE`).join('');
  return (
    `expires_at IS NULL AND ${ruleMatch(pass.rule, params)}${notEarlier}` +
    ` AND ${AGE} < ${params.add(pass.cutoff, 'timestamptz')}`
  );
}

export function countEligible(schema: SchemaName, pass: RetentionPass): Sql {
  const params = new Params();
  const where = passPredicate(pass, params);
  return { text: `SELECT count(*)::bigint AS n FROM ${qualified(schema, 'task_results')} WHERE ${where}`, values: params.values };
}

/**
 * Deletes up to `limit` eligible rows. Rows another transaction holds are skipped, not waited on,
 * so a producer updating a result never stalls cleanup (nor the other way round). With
 * `returnRows`, each deleted row comes back as the JSON of every column, at full precision, for
 * the archive.
 */
export function deleteBatch(schema: SchemaName, pass: RetentionPass, limit: number, returnRows: boolean): Sql {
  const params = new Params();
  const table = qualified(schema, 'task_results');
  const where = passPredicate(pass, params);
  return {
    text: `WITH doomed AS (
        SELECT task_id FROM ${table} WHERE ${where}
        LIMIT ${params.add(limit, 'int')} FOR UPDATE SKIP LOCKED
      )
      DELETE FROM ${table} AS t USING doomed WHERE t.task_id = doomed.task_id
      ${returnRows ? 'RETURNING to_jsonb(t.*)::text AS row' : ''}`,
    values: params.values,
  };
}

export function countAll(schema: SchemaName): Sql {
  return { text: `SELECT count(*)::bigint AS n FROM ${qualified(schema, 'task_results')}`, values: [] };
}

/** Inserts archived rows (JSON objects of every column); rows whose task_id exists are left alone. */
export function restoreRows(schema: SchemaName, rowsJson: string): Sql {
  const table = qualified(schema, 'task_results');
  return {
    text: `INSERT INTO ${table}
      SELECT * FROM jsonb_populate_recordset(null::${table}, $1::jsonb)
      ON CONFLICT (task_id) DO NOTHING`,
    values: [rowsJson],
  };
}
