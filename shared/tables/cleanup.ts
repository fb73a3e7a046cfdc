import { hasPgClass, hasPgCode, PgErrorClass, PgErrorCode } from '../db/pg-errors.js';
import { inTransaction, type Db } from '../db/pool.js';
import { ARCHIVE_BATCH_BYTES, ArchiveRowLimit, archiveKey, leftRows, MAX_ARCHIVE_RANGE_ROWS, writeArchive } from '../results/archive.js';
// The same archive as results-cleanup's, so the same failure.
import { ArchiveWriteError } from '../results/errors.js';
import { PolicyError } from './errors.js';
import { cleanupBatchSettings } from '../db/batch.js';
import type { Sql } from '../db/params.js';
import type { TimeBudget } from '../runtime/budget.js';
import type { ObjectStorage } from '../storage/port.js';
import { inspectPolicies } from './inspect.js';
import { ARCHIVE_TARGET_BATCH_MS, RANGE_UNFINISHED, sweepHeapRanges, TARGET_BATCH_MS } from './ranges.js';
import type { AccessPath, TablePolicy } from './policies.js';
import {
  archiveHeapRange,
  archiveIndexBatch,
  countExpired,
  deleteHeapRange,
  deleteIndexBatch,
  kombuBacklog,
  quoted,
  tableHealth,
  type DeletedBatch,
  type TableTarget,
} from './sql.js';

// A batch waiting on a row another transaction holds keeps the rows it already deleted locked;
// half a second bounds that, then the batch gives up and its range is left for the next run.
const BATCH_LOCK_TIMEOUT = '500ms' as const;
/** Rows per index-walk batch, and the row count a heap-order sweep sizes its first range for. */
export const DEFAULT_TABLE_BATCH_ROWS = 10_000;

/** Where archived rows of a table go, beside the results archive: `tables/<schema>.<table>/YYYY/MM/DD/…`. */
export const tableArchiveRoot = (policy: Pick<TablePolicy, 'schema' | 'table'>): string => `tables/${policy.schema}.${policy.table}/`;

export interface TableHealth {
  bytes: number;
  deadTuples: number;
  liveTuples: number;
}

export interface TablesCleanupStats {
  dryRun: boolean;
  deleted: number;
  /** Dry runs only: what a real run would delete now. */
  wouldDelete?: number;
  remaining: number;
  byPolicy: Record<string, number>;
  /** Which way each policy's batches found rows, and why. */
  accessPaths: Record<string, AccessPath>;
  pathReasons: Record<string, string>;
  archived: number;
  batches: number;
  /** Batches that could not get their row locks in time: their rows wait for the next run. */
  skippedBatches: number;
  longestBatchMs: number;
  /** Per table: size on disk and the statistics collector's dead and live tuples. */
  tables: Record<string, TableHealth>;
  tableBytes: number;
  deadTuples: number;
  /** kombu preset only: pending messages per queue, and their sum (the alarmed metric). */
  backlog?: Record<string, number>;
  backlogTotal?: number;
  truncated: boolean;
}

export interface TablesCleanupInput {
  db: Db;
  policies: TablePolicy[];
  /**
   * `workers`: concurrent streams of heap-order batches (DEFAULT_SWEEP_WORKERS when unset).
   * `archiveBatchBytes`: the most JSON one archive batch holds, plus one row (ARCHIVE_BATCH_BYTES when unset; tests set it small).
   */
  settings: { dryRun: boolean; batchSize: number; workers?: number; archiveBatchBytes?: number };
  budget: TimeBudget;
  /** Names the run in archive keys. */
  runId: string;
  archive?: ObjectStorage;
}

/**
 * Retention for any table: each policy in order deletes rows older than its `keep` (and matching
 * its conditions) in bounded batches, each its own short transaction, until done or out of budget.
 * Policies with `archive` write each batch's rows before its delete commits.
 *
 * @example
 * const stats = await cleanupTables({ db, policies: parseTablePolicies('[{"preset":"kombu","keep":"1d"}]'), settings: { dryRun: false, batchSize: 10_000 }, budget, runId })
 * // → { deleted: 52000, byPolicy: { kombu: 52000 }, accessPaths: { kombu: 'heap' }, backlog: { celery: 12 }, … }
 */
export async function cleanupTables(input: TablesCleanupInput): Promise<TablesCleanupStats> {
  const { db, policies, settings } = input;
  // Cutoffs from the database clock, so every host agrees on "now".
  const {
    rows: [clock],
  } = await db.query<{ now: Date }>('SELECT now() AS now');
  const cutoffs = new Map(policies.map((p) => [p.label, new Date(clock!.now.getTime() - p.keepMs)]));
  const targets = await inspectPolicies(db, policies, cutoffs);
  const stats: TablesCleanupStats = {
    dryRun: settings.dryRun,
    deleted: 0,
    remaining: 0,
    byPolicy: Object.fromEntries(policies.map((p) => [p.label, 0])),
    accessPaths: Object.fromEntries(targets.map((t) => [t.policy.label, t.path])),
    pathReasons: Object.fromEntries(targets.map((t) => [t.policy.label, t.pathReason])),
    archived: 0,
    batches: 0,
    skippedBatches: 0,
    longestBatchMs: 0,
    tables: {},
    tableBytes: 0,
    deadTuples: 0,
    truncated: false,
  };

  if (settings.dryRun) {
    for (const t of targets) stats.byPolicy[t.policy.label] = await count(db, t, cutoffs);
    stats.wouldDelete = stats.remaining = Object.values(stats.byPolicy).reduce((a, b) => a + b, 0);
  } else {
    let batchNumber = 0;
    const run: RunInput = { ...input, nextBatchNumber: () => batchNumber++ };
    for (const t of targets) {
      const sweep = t.path === 'heap' ? sweepHeap : walkIndex;
      const done = await sweep(run, t, cutoffs.get(t.policy.label)!, stats);
      if (!done) {
        stats.truncated = true;
        break;
      }
    }
    for (const t of targets) stats.remaining += await count(db, t, cutoffs);
  }
  await addHealth(db, targets, stats);
  return stats;
}

/** A run's input, and the numbers its batches take for their archive keys, unique within the run. */
type RunInput = TablesCleanupInput & { nextBatchNumber: () => number };

type Sweep = (input: RunInput, t: TableTarget, cutoff: Date, stats: TablesCleanupStats) => Promise<boolean>;

/**
 * Heap order, by the shared range engine (ranges.ts). With an archive a range may take several
 * transactions: each holds at most `archiveBatchBytes` of JSON (see archiveHeapRange), and the range
 * is run again, its deleted rows gone, until a batch leaves nothing behind or the budget ends it
 * unfinished. Returns false when the budget ended it early.
 */
const sweepHeap: Sweep = async (input, t, cutoff, stats) => {
  const archive = archiveOf(input, t);
  const options = {
    batchRows: input.settings.batchSize,
    budget: input.budget,
    ...(input.settings.workers && { workers: input.settings.workers }),
    targetMs: archive ? ARCHIVE_TARGET_BATCH_MS : TARGET_BATCH_MS,
  };
  const bytes = input.settings.archiveBatchBytes ?? ARCHIVE_BATCH_BYTES;
  const rowLimit = new ArchiveRowLimit(bytes, MAX_ARCHIVE_RANGE_ROWS);
  const sweep = await sweepHeapRanges(input.db, t.relation, options, async (from, to) => {
    if (!archive) return runBatch(input, t, stats, deleteHeapRange(t, cutoff, from, to));
    for (;;) {
      const rows = rowLimit.current;
      const batch = await runBatch(input, t, stats, archiveHeapRange(t, cutoff, { from, to, rows, bytes }));
      // A skipped batch (a held row) leaves its range for the next run, as without an archive.
      if (!batch || !leftRows(batch, rows, rowLimit)) return;
      if (input.budget.expired()) return RANGE_UNFINISHED;
    }
  });
  return sweep.done;
};

/** Index order, oldest first, in batches of `batchSize` rows; with an archive, of at most `archiveBatchBytes` of JSON too. */
const walkIndex: Sweep = async (input, t, cutoff, stats) => {
  const archive = archiveOf(input, t);
  const bytes = input.settings.archiveBatchBytes ?? ARCHIVE_BATCH_BYTES;
  const rowLimit = new ArchiveRowLimit(bytes, input.settings.batchSize);
  let resumeAt: string | undefined;
  for (;;) {
    if (stats.deleted > 0 && input.budget.expired()) return false;
    const rows = archive ? rowLimit.current : input.settings.batchSize;
    const statement = archive ? archiveIndexBatch(t, cutoff, { rows, bytes }, resumeAt) : deleteIndexBatch(t, cutoff, rows, resumeAt);
    const batch = await runBatch(input, t, stats, statement);
    // A skipped batch here means a table lock (rows themselves are skipped, not waited on): the
    // same lock would stop the next batch too, so the walk ends for this run.
    if (!batch || !leftRows(batch, rows, rowLimit)) return true;
    resumeAt = batch.resume_at ?? resumeAt;
  }
};

/** Where a policy's batches archive to: the run's archive when the policy asks for one. */
const archiveOf = (input: RunInput, t: TableTarget): ObjectStorage | undefined => (t.policy.archive ? input.archive : undefined);

/**
 * One batch in its own transaction under `lock_timeout`; with an archive, the rows are written
 * before the delete commits (a failed write rolls it back). Returns the batch, or undefined when it
 * could not get its row locks in time (counted in `skippedBatches`).
 */
async function runBatch(input: RunInput, t: TableTarget, stats: TablesCleanupStats, statement: Sql): Promise<DeletedBatch | undefined> {
  const archive = archiveOf(input, t);
  // Heap-order batches run concurrently, so each takes its archive key's number when it starts.
  const number = input.nextBatchNumber();
  const started = performance.now();
  let batch: DeletedBatch | undefined;
  try {
    batch = await inTransaction(
      input.db,
      async (tx) => {
        const {
          rows: [row],
          rowCount,
        } = await tx.query<DeletedBatch>(statement);
        // A plain heap-range DELETE returns no row, only its count.
        const result = row ?? { deleted: rowCount ?? 0 };
        if (archive && result.deleted > 0) {
          const key = archiveKey(new Date(), input.runId, number, tableArchiveRoot(t.policy));
          try {
            await writeArchive(archive, key, [result.lines!]);
          } catch (error) {
            throw new ArchiveWriteError(`${archive.url}/${key}`, result.deleted, error);
          }
        }
        return result;
      },
      cleanupBatchSettings(BATCH_LOCK_TIMEOUT, { indexWalk: t.path === 'index' }),
    );
    if (batch.deleted > 0) stats.batches += 1;
    stats.deleted += batch.deleted;
    stats.byPolicy[t.policy.label]! += batch.deleted;
    if (archive) stats.archived += batch.deleted;
  } catch (error) {
    if (hasPgCode(error, PgErrorCode.lockNotAvailable)) stats.skippedBatches += 1;
    // Postgres' error for what the policy wrote (a `where` that parses but fails on some row: a cast
    // of a value that is not a number) names no policy: with several, say which one. Anything else
    // (a dropped connection, a full disk) is not the policy's doing and goes up as it is.
    else if (hasPgClass(error, PgErrorClass.dataException) || hasPgClass(error, PgErrorClass.syntaxOrAccessRule))
      throw new PolicyError(t.policy.label, `a batch failed: ${(error as Error).message}`, { cause: error });
    else throw error;
  }
  stats.longestBatchMs = Math.max(stats.longestBatchMs, Math.round(performance.now() - started));
  return batch;
}

async function count(db: Db, t: TableTarget, cutoffs: Map<string, Date>): Promise<number> {
  const { rows } = await db.query<{ n: string }>(countExpired(t, cutoffs.get(t.policy.label)!));
  return Number(rows[0]!.n);
}

/** Each table once (policies may share one), and the kombu backlog where the preset is used. */
async function addHealth(db: Db, targets: TableTarget[], stats: TablesCleanupStats): Promise<void> {
  for (const t of targets) {
    const name = `${t.policy.schema}.${t.policy.table}`;
    if (stats.tables[name]) continue;
    const {
      rows: [health],
    } = await db.query<{ bytes: string; dead: string; live: string }>(tableHealth(t.relation));
    stats.tables[name] = { bytes: Number(health!.bytes), deadTuples: Number(health!.dead), liveTuples: Number(health!.live) };
    stats.tableBytes += stats.tables[name].bytes;
    stats.deadTuples += stats.tables[name].deadTuples;
  }
  for (const t of targets.filter((target) => target.policy.queueTable)) {
    const { rows } = await db.query<{ name: string; n: string }>(
      kombuBacklog(t.relation, `${quoted(t.policy.schema)}.${quoted(t.policy.queueTable!)}`),
    );
    stats.backlog = { ...stats.backlog, ...Object.fromEntries(rows.map((row) => [row.name, Number(row.n)])) };
  }
  if (stats.backlog) stats.backlogTotal = Object.values(stats.backlog).reduce((a, b) => a + b, 0);
}
