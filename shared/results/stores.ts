import type { Db } from '../db/pool.js';
import { qualified, type SchemaName } from '../db/identifiers.js';
import { ResultsError } from './errors.js';
import type { RetentionRule } from './rules.js';

/**
 * A SQL table of task results and how to read it: which column holds the task name (if any),
 * which one measures age and whether it is a naive timestamp holding UTC (as Celery writes), and
 * which columns are binary (archived as base64). The same retention engine runs on all of them.
 */
export interface ResultTable {
  store: StoreName;
  table: string;
  /** Unique per result; restore skips rows whose key is present and filters task ids on it. */
  key: string;
  /** Group-result tables have neither: rules on status or task name never match their rows. */
  status?: string;
  taskName?: string;
  /** The age anchor, in the column's own type. */
  age: string;
  /**
   * A plain column whose statistics stand in for `age` in the planner's estimate when `age` is an
   * expression: Postgres keeps no statistics for an expression only a partial index holds, and
   * guesses a third of the table for any range on it.
   */
  ageEstimate?: string;
  /** The age column is `timestamp without time zone` holding UTC: parameters are converted to it, not the column, so its index still serves. */
  ageIsNaive: boolean;
  /** Producer-set expiry overriding every rule (the native store only). */
  expiresAt?: string;
  binaryColumns: string[];
  /** Where its rows are archived: task and group results never mix on restore. */
  archiveRoot: 'results/' | 'groups/';
}

export const STORE_NAMES = ['chores', 'celery-db', 'django-celery-results'] as const;
export type StoreName = (typeof STORE_NAMES)[number];

const TABLES: Record<Exclude<StoreName, 'chores'>, string> = {
  'celery-db': 'celery_taskmeta',
  'django-celery-results': 'django_celery_results_taskresult',
};

/** The native store: `task_results` in the chores schema (its shape is ours, so nothing is detected). */
export function nativeTable(schema: SchemaName): ResultTable {
  return {
    store: 'chores',
    table: qualified(schema, 'task_results'),
    key: 'task_id',
    status: 'status',
    taskName: 'task_name',
    age: 'coalesce(date_done, date_created)',
    ageEstimate: 'date_done',
    ageIsNaive: false,
    expiresAt: 'expires_at',
    binaryColumns: [],
    archiveRoot: 'results/',
  };
}

/**
 * Describes an existing Celery result table by reading its columns, since the shape depends on the
 * Celery and django-celery-results versions and on settings (`result_extended`, Django's USE_TZ).
 */
export async function detectTable(db: Db, store: StoreName, schema: SchemaName): Promise<ResultTable> {
  if (store === 'chores') return nativeTable(schema);
  const name = TABLES[store];
  const rows = await columnsOf(db, schema, name);
  if (rows.length === 0) {
    throw new ResultsError(
      `RESULTS_STORE=${store}: table ${schema}.${name} does not exist — check RESULTS_STORE and RESULTS_STORE_SCHEMA, and that this database is the one Celery writes results to`,
    );
  }
  const types = new Map(rows.map((row) => [row.column_name, row.data_type]));
  return {
    store,
    table: qualified(schema, name),
    key: 'task_id',
    status: 'status',
    ...(store === 'celery-db' ? types.has('name') && { taskName: 'name' } : types.has('task_name') && { taskName: 'task_name' }),
    age: 'date_done',
    ageIsNaive: types.get('date_done') === 'timestamp without time zone',
    binaryColumns: rows.filter((row) => row.data_type === 'bytea').map((row) => row.column_name),
    archiveRoot: 'results/',
  };
}

const GROUP_TABLES: Record<Exclude<StoreName, 'chores'>, { table: string; key: string }> = {
  'celery-db': { table: 'celery_tasksetmeta', key: 'taskset_id' },
  'django-celery-results': { table: 'django_celery_results_groupresult', key: 'group_id' },
};

/** The store's group-result table, if it has one (Celery creates it only when groups are used). */
export async function detectGroupTable(db: Db, store: StoreName, schema: SchemaName): Promise<ResultTable | undefined> {
  if (store === 'chores') return undefined;
  const { table, key } = GROUP_TABLES[store];
  const rows = await columnsOf(db, schema, table);
  if (rows.length === 0) return undefined;
  const types = new Map(rows.map((row) => [row.column_name, row.data_type]));
  return {
    store,
    table: qualified(schema, table),
    key,
    age: 'date_done',
    ageIsNaive: types.get('date_done') === 'timestamp without time zone',
    binaryColumns: rows.filter((row) => row.data_type === 'bytea').map((row) => row.column_name),
    archiveRoot: 'groups/',
  };
}

/** Whether a rule can match any row of this table (a status rule cannot match a table without statuses). */
export function ruleApplies(table: ResultTable, rule: RetentionRule): boolean {
  return (rule.status === undefined || table.status !== undefined) && (rule.task === undefined || table.taskName !== undefined);
}

/** Task-name rules need a task-name column; say so instead of silently matching nothing. */
export function checkRulesFit(table: ResultTable, rules: RetentionRule[]): void {
  if (table.archiveRoot === 'groups/') return; // groups have no names by design; their rules simply do not apply
  const needsName = rules.filter((rule) => rule.task !== undefined);
  if (needsName.length > 0 && !table.taskName) {
    throw new ResultsError(
      `RESULTS_RULES: rule "${needsName[0]!.label}" matches task names, but ${table.table} has no task-name column — ` +
        "enable Celery's result_extended = True (it adds the name column), or drop the task rules",
    );
  }
}

/** A table's columns and their types; empty when the table does not exist. */
async function columnsOf(db: Db, schema: SchemaName, table: string): Promise<{ column_name: string; data_type: string }[]> {
  const { rows } = await db.query<{ column_name: string; data_type: string }>(
    `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1::text AND table_name = $2::text`,
    [schema, table],
  );
  return rows;
}
