import type { Db } from '../db/pool.js';
import { readArchiveLines } from '../results/archive.js';
import { insertLines, type RestoreStats } from '../results/restore.js';
import type { ObjectStorage } from '../storage/port.js';
import { tableArchiveRoot } from './cleanup.js';
import { relationOf, restoreTableRows } from './sql.js';

export type TableRestoreStats = RestoreStats;

/**
 * Puts a table's archived rows back (`chores tables restore`). Idempotent on tables with a primary
 * key or unique constraint: rows already present are counted, not duplicated. A table with neither
 * gets every archived row again on a second restore, so restore such a table once.
 *
 * @example await restoreTable({ db, schema: 'public', table: 'audit_log', archive, since: new Date('2026-11-01') })
 */
export async function restoreTable(input: {
  db: Db;
  schema: string;
  table: string;
  archive: ObjectStorage;
  since?: Date;
}): Promise<TableRestoreStats> {
  const root = tableArchiveRoot(input);
  const sinceDay = input.since?.toISOString().slice(0, 10);
  const keys = (await input.archive.list(root)).filter((key) => {
    const day = archiveDayOf(root, key);
    return day !== undefined && (sinceDay === undefined || day >= sinceDay);
  });
  const stats: TableRestoreStats = { objectsRead: 0, matched: 0, restored: 0, alreadyPresent: 0 };
  for (const key of keys) {
    const lines = await readArchiveLines(input.archive, key);
    stats.objectsRead += 1;
    await insertLines(input.db, lines, (rowsJson) => restoreTableRows(relationOf(input), rowsJson), stats);
  }
  return stats;
}

/** `tables/public.audit_log/2026/11/21/…` → `2026-11-21`: the day the rows were archived. */
function archiveDayOf(root: string, key: string): string | undefined {
  const match = /^(\d{4})\/(\d{2})\/(\d{2})\//.exec(key.slice(root.length));
  return key.startsWith(root) && match ? `${match[1]}-${match[2]}-${match[3]}` : undefined;
}
