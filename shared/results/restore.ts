import type { Sql } from '../db/params.js';
import type { Db } from '../db/pool.js';
import type { ObjectStorage } from '../storage/port.js';
import { archiveDay, readArchiveLines } from './archive.js';
import { ArchiveReadError } from './errors.js';
import { restoreRows } from './sql.js';
import type { SchemaName } from '../db/identifiers.js';
import { detectGroupTable, detectTable, type ResultTable, type StoreName } from './stores.js';

export interface RestoreFilter {
  taskIds?: string[];
  /** Rows whose date_done (or date_created, if never done) is at or after this instant. */
  since?: Date;
}

export interface RestoreStats {
  objectsRead: number;
  matched: number;
  restored: number;
  alreadyPresent: number;
}

// One INSERT per chunk keeps each statement's JSON parameter a few MB at most.
const RESTORE_CHUNK = 1_000;

/**
 * Puts archived rows back into `task_results`. Idempotent: a row whose task_id is already present
 * is counted, not overwritten, so a restore can be rerun or interrupted safely.
 *
 * @example await restoreResults({ db, schema, archive, filter: { since: new Date('2026-11-01') } })
 */
export async function restoreResults(input: {
  db: Db;
  table: ResultTable;
  archive: ObjectStorage;
  filter: RestoreFilter;
}): Promise<RestoreStats> {
  const { taskIds, since } = input.filter;
  if (!taskIds?.length && !since) throw new ArchiveReadError('say what to restore: task ids, a since date, or both');
  const wanted = taskIds?.length ? new Set(taskIds) : undefined;
  const sinceDay = since?.toISOString().slice(0, 10);

  const keys = (await input.archive.list(input.table.archiveRoot)).filter((key) => {
    const day = archiveDay(key);
    return day !== undefined && (sinceDay === undefined || day >= sinceDay);
  });
  const stats: RestoreStats = { objectsRead: 0, matched: 0, restored: 0, alreadyPresent: 0 };
  for (const key of keys) {
    const lines = await readArchiveLines(input.archive, key);
    stats.objectsRead += 1;
    // Parsed only to filter: the lines themselves go to Postgres as written (see decodeLines).
    const matching = lines.filter((line) => {
      const row = JSON.parse(line) as Record<string, unknown>;
      if (wanted && !wanted.has(String(row[input.table.key]))) return false;
      return !since || finishedAt(input.table, row) >= since;
    });
    await insertLines(input.db, matching, (rowsJson) => restoreRows(input.table, rowsJson), stats);
  }
  return stats;
}

/**
 * Inserts archived JSON lines as written, RESTORE_CHUNK at a time (`insert` builds the statement for
 * a JSON array of them), counting into `stats` the rows restored and those already present.
 */
export async function insertLines(db: Db, lines: string[], insert: (rowsJson: string) => Sql, stats: RestoreStats): Promise<void> {
  for (let i = 0; i < lines.length; i += RESTORE_CHUNK) {
    const chunk = lines.slice(i, i + RESTORE_CHUNK);
    const result = await db.query(insert(`[${chunk.join(',')}]`));
    stats.matched += chunk.length;
    stats.restored += result.rowCount ?? 0;
    stats.alreadyPresent += chunk.length - (result.rowCount ?? 0);
  }
}

/**
 * When an archived row finished. A naive age column holds UTC (as Celery writes it) and is archived
 * without a zone, which `new Date` reads as the machine's local time: run from a CLI outside UTC,
 * `--since` let through or held back rows by the offset.
 */
function finishedAt(table: ResultTable, row: Record<string, unknown>): Date {
  const age = (row.date_done ?? row.date_created) as string;
  return new Date(table.ageIsNaive && !/(Z|[+-]\d\d(:?\d\d)?)$/.test(age) ? `${age}Z` : age);
}

/** Restores a store's task results and, when it has a group table, its group results. */
export async function restoreStore(input: {
  db: Db;
  store: StoreName;
  storeSchema: SchemaName;
  archive: ObjectStorage;
  filter: RestoreFilter;
}): Promise<RestoreStats> {
  const { store, storeSchema, ...rest } = input;
  const tasks = await restoreResults({ ...rest, table: await detectTable(input.db, store, storeSchema) });
  const groupTable = await detectGroupTable(input.db, store, storeSchema);
  if (!groupTable) return tasks;
  const groups = await restoreResults({ ...rest, table: groupTable });
  return {
    objectsRead: tasks.objectsRead + groups.objectsRead,
    matched: tasks.matched + groups.matched,
    restored: tasks.restored + groups.restored,
    alreadyPresent: tasks.alreadyPresent + groups.alreadyPresent,
  };
}
