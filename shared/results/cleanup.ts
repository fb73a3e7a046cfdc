import { hasPgCode, PgErrorCode } from '../db/pg-errors.js';
import { cleanupBatchSettings } from '../db/batch.js';
import { inTransaction, type Db, type DbClient } from '../db/pool.js';
import type { TimeBudget } from '../runtime/budget.js';
import type { ObjectStorage } from '../storage/port.js';
import { ARCHIVE_BATCH_BYTES, ArchiveRowLimit, archiveKey, leftRows, MAX_ARCHIVE_RANGE_ROWS, writeArchive } from './archive.js';
import { ArchiveWriteError, TableLockedError } from './errors.js';
import type { RetentionRule } from './rules.js';
import type { SchemaName } from '../db/identifiers.js';
import { checkRulesFit, detectGroupTable, detectTable, ruleApplies, type ResultTable, type StoreName } from './stores.js';
import type { AccessPath } from '../tables/policies.js';
import { ARCHIVE_TARGET_BATCH_MS, RANGE_UNFINISHED, sweepHeapRanges, TARGET_BATCH_MS } from '../tables/ranges.js';
import { choosePath } from './path.js';
import {
  countByPassInHeap,
  countEligible,
  archiveBatch,
  deleteBatch,
  deletePassInRange,
  archiveHeapRange,
  estimateAll,
  passOrder,
  type DeletedBatch,
  type DeletedRange,
  type RetentionPass,
} from './sql.js';

// Row locks are skipped, but a table lock (a migration, a VACUUM FULL) would queue the batch and
// everything behind it; give up fast instead and let the next run try again.
const LOCK_TIMEOUT = '2s' as const;
// A heap-order DELETE waits on an eligible row another transaction holds (a producer rewriting an
// old result); this bounds that wait, then the range is retried skipping the held rows.
const RANGE_LOCK_TIMEOUT = '500ms' as const;

export interface ResultsCleanupSettings {
  dryRun: boolean;
  batchSize: number;
  /** Manual runs only: also require every deleted row to be at least this many days old. */
  olderThanDays?: number;
  /** Pins the access path instead of choosing by the planner's estimate (tests, benchmarks, operators who know). */
  accessPath?: AccessPath;
  /** Concurrent streams of heap-order batches (DEFAULT_SWEEP_WORKERS when unset); an index walk is one stream. */
  workers?: number;
  /** The most JSON one archive batch holds, plus one row (ARCHIVE_BATCH_BYTES when unset; tests set it small). */
  archiveBatchBytes?: number;
}

export interface ResultsCleanupStats {
  dryRun: boolean;
  /** The planner's estimate of the table's rows at the start (no scan): see countsEstimated. */
  before: number;
  deleted: number;
  /** Dry runs only: what a real run would delete now. */
  wouldDelete?: number;
  /** `before` less what was deleted: an estimate too. */
  after: number;
  /** `before` and `after` are estimates; `remaining`, `byRule` and `deleted` are exact. */
  countsEstimated: true;
  /** Exact: rows the rules still select once the run ends (held rows, a truncated run). */
  remaining: number;
  byRule: Record<string, number>;
  /** How batches found rows: TID ranges in heap order, or an index walk oldest first; and why. */
  accessPath: AccessPath;
  pathReason: string;
  archived: number;
  /** With an archive: the most JSON one batch's object holds, plus one row (a row over it goes alone). */
  archiveBatchBytes?: number;
  batches: number;
  /** Heap ranges whose DELETE met a held row and were redone skipping the held rows. */
  retriedRanges: number;
  longestBatchMs: number;
  truncated: boolean;
}

export interface ResultsCleanupInput {
  db: Db;
  /** The result table to clean: chores' own, or a Celery store (see stores.ts). */
  table: ResultTable;
  rules: RetentionRule[];
  settings: ResultsCleanupSettings;
  budget: TimeBudget;
  /** Names the run in archive keys. */
  runId: string;
  archive?: ObjectStorage;
}

/**
 * Deletes expired task results, pass by pass (producer `expires_at` first, then each rule in
 * order), in bounded batches until nothing eligible is left or the budget is spent. With an
 * archive, each batch is written there before its delete commits.
 *
 * @example
 * const stats = await cleanupResults({ db, table: nativeTable(schema), rules, settings: { dryRun: false, batchSize: 10_000 }, budget, runId })
 * // → { deleted: 1200, byRule: { 'status=REVOKED keep=0s': 200, 'keep=7d': 1000, expires_at: 0 }, remaining: 0, … }
 */
export async function cleanupResults(input: ResultsCleanupInput): Promise<ResultsCleanupStats> {
  const { db, table, settings } = input;
  checkRulesFit(table, input.rules);
  const passes = await retentionPasses(db, table, input.rules, settings.olderThanDays);
  const byRule = Object.fromEntries([
    ...input.rules.map((rule) => [rule.label, 0]),
    ...(table.expiresAt ? [['expires_at', 0]] : []),
  ]) as Record<string, number>;
  const {
    rows: [plan],
  } = await db.query<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(estimateAll(table));
  const before = Math.round(plan!['QUERY PLAN'][0].Plan['Plan Rows']);

  const chosen = await choosePath(db, table, passes, settings.accessPath);
  const stats: ResultsCleanupStats = {
    dryRun: settings.dryRun,
    before,
    deleted: 0,
    after: before,
    countsEstimated: true,
    remaining: 0,
    byRule,
    accessPath: chosen.path,
    pathReason: chosen.reason,
    archived: 0,
    ...(input.archive && { archiveBatchBytes: settings.archiveBatchBytes ?? ARCHIVE_BATCH_BYTES }),
    batches: 0,
    retriedRanges: 0,
    longestBatchMs: 0,
    truncated: false,
  };

  if (settings.dryRun) {
    const counts = await countPasses(input, passes, chosen.path);
    for (const [i, pass] of passes.entries()) byRule[pass.label] = counts[i]!;
    stats.wouldDelete = stats.remaining = counts.reduce((a, b) => a + b, 0);
    return stats;
  }

  if (chosen.path === 'heap') {
    stats.truncated = !(await sweepHeap(input, passes, stats));
  } else {
    stats.truncated = !(await walkIndex(input, passes, stats));
    stats.remaining = (await countPasses(input, passes, 'index')).reduce((a, b) => a + b, 0);
  }
  stats.after = Math.max(0, before - stats.deleted);
  return stats;
}

/**
 * Range by range in heap order, every pass in each range's one transaction, by `workers`
 * concurrent streams (sized and shared out by sweepHeapRanges). With an archive a range may take
 * several transactions: each holds at most `archiveBatchBytes` of JSON (see archiveHeapRange), and
 * the range is run again, its deleted rows gone, until a batch leaves nothing behind. Adds to
 * `remaining` what the sweep left: rows held by other transactions in the ranges it had to retry,
 * and the eligible rows in pages it did not reach (a truncated run; pages the table gained since).
 * Returns false when the budget ended it early.
 */
async function sweepHeap(input: ResultsCleanupInput, passes: RetentionPass[], stats: ResultsCleanupStats): Promise<boolean> {
  if (passes.length === 0) return true;
  const { db, table, settings, budget } = input;
  // Batches run concurrently, so each takes its archive key's number when it starts.
  let sequence = 0;
  const options = {
    batchRows: settings.batchSize,
    budget,
    ...(settings.workers && { workers: settings.workers }),
    targetMs: input.archive ? ARCHIVE_TARGET_BATCH_MS : TARGET_BATCH_MS,
  };
  const bytes = stats.archiveBatchBytes ?? ARCHIVE_BATCH_BYTES;
  const rowLimit = new ArchiveRowLimit(bytes, MAX_ARCHIVE_RANGE_ROWS);
  // With an archive, one statement returns the rows of every pass; without, each pass is a plain
  // DELETE whose row count is the pass's count (see deletePassInRange).
  const deleteRange =
    (from: number, to: number, rows: number, skipLocked: boolean) =>
    async (tx: DbClient): Promise<DeletedRange> => {
      if (input.archive) {
        const range = { from, to, rows, bytes };
        return (await tx.query<DeletedRange>(archiveHeapRange(table, passes, range, skipLocked))).rows[0]!;
      }
      const byPass: number[] = [];
      for (const pass of passes) byPass.push((await tx.query(deletePassInRange(table, pass, from, to, skipLocked))).rowCount ?? 0);
      return { deleted: byPass.reduce((a, b) => a + b, 0), by_pass: byPass };
    };
  // Counted once the sweep ends, and only below where it reached: the pages above are counted whole.
  const retried: { from: number; to: number }[] = [];
  const sweep = await sweepHeapRanges(db, table.table, options, async (from, to) => {
    let skipLocked = false;
    for (;;) {
      const number = sequence++;
      const rows = rowLimit.current;
      let batch: DeletedRange | undefined;
      if (!skipLocked) {
        try {
          batch = await deleteInBatch(input, stats, number, RANGE_LOCK_TIMEOUT, deleteRange(from, to, rows, false));
        } catch (error) {
          if (!hasPgCode(error, PgErrorCode.lockNotAvailable)) throw error;
          // A held row in the range: redo it skipping held rows, this batch and the range's next
          // ones. A table lock fails this one too, and that ends the run rather than queueing
          // behind a migration.
          skipLocked = true;
          stats.retriedRanges += 1;
          retried.push({ from, to });
        }
      }
      batch ??= await deleteInBatch(input, stats, number, LOCK_TIMEOUT, deleteRange(from, to, rows, true));
      for (const [i, pass] of passes.entries()) stats.byRule[pass.label]! += batch.by_pass[i]!;
      record(input, stats, batch.deleted);
      if (!input.archive || !leftRows(batch, rows, rowLimit)) return;
      if (budget.expired()) return RANGE_UNFINISHED;
    }
  });
  for (const range of retried.filter((r) => r.to <= sweep.reached)) stats.remaining += await countInHeap(db, table, passes, range);
  stats.remaining += await countInHeap(db, table, passes, { from: sweep.reached });
  return sweep.done;
}

/**
 * Pass by pass, each an ordered index walk in batches of `batchSize` rows; with an archive, of at
 * most `archiveBatchBytes` of JSON too (see archiveBatch). Returns false when the budget ended it early.
 */
async function walkIndex(input: ResultsCleanupInput, passes: RetentionPass[], stats: ResultsCleanupStats): Promise<boolean> {
  const { table, settings, budget } = input;
  const bytes = stats.archiveBatchBytes ?? ARCHIVE_BATCH_BYTES;
  const rowLimit = new ArchiveRowLimit(bytes, settings.batchSize);
  for (const pass of passes) {
    // The keyset cursor of this pass's walk, kept here so the passes themselves stay whole for counting.
    let cursor: RetentionPass = pass;
    for (;;) {
      // Checked only once something was deleted, so even a mis-sized budget makes progress.
      if (stats.deleted > 0 && budget.expired()) return false;
      const rows = input.archive ? rowLimit.current : settings.batchSize;
      const statement = input.archive ? archiveBatch(table, cursor, rows, bytes) : deleteBatch(table, cursor, rows);
      const batch = await deleteInBatch(
        input,
        stats,
        stats.batches,
        LOCK_TIMEOUT,
        async (tx) => (await tx.query<DeletedBatch>(statement)).rows[0]!,
        true,
      );
      stats.byRule[pass.label]! += batch.deleted;
      record(input, stats, batch.deleted);
      if (!leftRows(batch, rows, rowLimit)) break;
      // Resume from the newest age this batch reached: rows the pass walked past and kept (shielded
      // by an earlier rule) are then walked once per run rather than once per batch.
      if (pass.kind === 'rule' && passOrder(table, pass) !== undefined && batch.resume_at) cursor = { ...pass, resumeAt: batch.resume_at };
    }
  }
  return true;
}

function record(input: ResultsCleanupInput, stats: ResultsCleanupStats, rows: number): void {
  if (rows > 0) stats.batches += 1;
  stats.deleted += rows;
  if (input.archive) stats.archived += rows;
}

/** The passes a run makes, with cutoffs from the database clock so every host agrees on "now". */
async function retentionPasses(db: Db, table: ResultTable, rules: RetentionRule[], olderThanDays?: number): Promise<RetentionPass[]> {
  const { rows } = await db.query<{ now: Date }>('SELECT now() AS now');
  const now = rows[0]!.now;
  const ageFloor = olderThanDays === undefined ? undefined : new Date(now.getTime() - olderThanDays * 86_400_000);
  const passes: RetentionPass[] = table.expiresAt ? [{ kind: 'expires_at', label: 'expires_at', now, ...(ageFloor && { ageFloor }) }] : [];
  for (const [index, rule] of rules.entries()) {
    const earlier = rules.slice(0, index);
    // A rule after a catch-all can never match; a `never` rule deletes nothing but still shields;
    // a rule on a column the table lacks (group results have no status) matches nothing.
    if (rule.keepMs === null || !ruleApplies(table, rule) || earlier.some((e) => e.taskLike === undefined && e.status === undefined))
      continue;
    const cutoff = new Date(Math.min(now.getTime() - rule.keepMs, ageFloor?.getTime() ?? Infinity));
    passes.push({ kind: 'rule', label: rule.label, rule, earlier, cutoff });
  }
  return passes;
}

/**
 * One batch (`work`) in its own transaction under `lock_timeout`; with an archive, the rows it
 * returns are written before the delete commits (a failed write rolls it back). `longestBatchMs`
 * counts from BEGIN to COMMIT or ROLLBACK, the time locks are held, not the wait for a connection.
 */
async function deleteInBatch<T extends { deleted: number; lines?: string | null }>(
  input: ResultsCleanupInput,
  stats: ResultsCleanupStats,
  batchNumber: number,
  lockTimeout: typeof LOCK_TIMEOUT | typeof RANGE_LOCK_TIMEOUT,
  work: (tx: DbClient) => Promise<T>,
  indexWalk = false,
): Promise<T> {
  let began: number | undefined;
  try {
    return await inTransaction(
      input.db,
      async (tx) => {
        began = performance.now();
        const batch = await work(tx);
        if (input.archive && batch.deleted > 0) {
          const key = archiveKey(new Date(), input.runId, batchNumber, input.table.archiveRoot);
          try {
            await writeArchive(input.archive, key, [batch.lines!]);
          } catch (error) {
            // Thrown inside the transaction, so the delete rolls back with it.
            throw new ArchiveWriteError(`${input.archive.url}/${key}`, batch.deleted, error);
          }
        }
        return batch;
      },
      cleanupBatchSettings(lockTimeout, { indexWalk }),
    );
  } catch (error) {
    // A heap range that met a held row is retried around it (RANGE_LOCK_TIMEOUT, caught by the
    // sweep); a wait under LOCK_TIMEOUT that ran out ends the run, naming the table.
    if (lockTimeout === LOCK_TIMEOUT && hasPgCode(error, PgErrorCode.lockNotAvailable))
      throw new TableLockedError(input.table.table, LOCK_TIMEOUT, error);
    throw error;
  } finally {
    // A batch that failed (a lock it waited for) held its locks as long: it counts too.
    if (began !== undefined) stats.longestBatchMs = Math.max(stats.longestBatchMs, Math.round(performance.now() - began));
  }
}

/**
 * Exact counts per pass. Where the heap is swept, one read of the heap (see countInHeap); where an
 * index is walked, few rows were eligible, so each pass counts through its index, leaving as few
 * dead entries behind as it deleted.
 */
async function countPasses(input: ResultsCleanupInput, passes: RetentionPass[], path: AccessPath): Promise<number[]> {
  if (passes.length === 0) return [];
  if (path === 'index') return Promise.all(passes.map((pass) => count(input.db, countEligible(input.table, pass))));
  return countByPass(input.db, input.table, passes);
}

/** What the passes select in the heap, or in `pages` of it, per pass; read with index scans off. */
async function countByPass(db: Db, table: ResultTable, passes: RetentionPass[], pages?: { from: number; to?: number }): Promise<number[]> {
  const heapOnly = 'SET LOCAL enable_indexscan = off; SET LOCAL enable_indexonlyscan = off; SET LOCAL enable_bitmapscan = off';
  return inTransaction(
    db,
    async (tx) => (await tx.query<{ by_pass: string[] }>(countByPassInHeap(table, passes, pages))).rows[0]!.by_pass.map(Number),
    heapOnly,
  );
}

async function countInHeap(db: Db, table: ResultTable, passes: RetentionPass[], pages: { from: number; to?: number }): Promise<number> {
  return (await countByPass(db, table, passes, pages)).reduce((a, b) => a + b, 0);
}

async function count(db: Db, query: { text: string; values: unknown[] }): Promise<number> {
  const { rows } = await db.query<{ n: string }>(query);
  return Number(rows[0]!.n);
}

/**
 * A whole result store: its task results, then its group results when it has a group table
 * (Celery's celery_tasksetmeta, django-celery-results' groupresult), under the same rules.
 *
 * @example await cleanupStore({ db, store: 'celery-db', storeSchema, rules, settings, budget, runId })
 */
export async function cleanupStore(
  input: Omit<ResultsCleanupInput, 'table'> & { store: StoreName; storeSchema: SchemaName },
): Promise<ResultsCleanupStats & { groupsDeleted?: number }> {
  const { store, storeSchema, ...rest } = input;
  const tasks = await cleanupResults({ ...rest, table: await detectTable(input.db, store, storeSchema) });
  const groupTable = await detectGroupTable(input.db, store, storeSchema);
  if (!groupTable || tasks.truncated) return tasks;
  const groups = await cleanupResults({ ...rest, table: groupTable, runId: `${input.runId}-groups` });
  return { ...tasks, groupsDeleted: groups.deleted, archived: tasks.archived + groups.archived, truncated: groups.truncated };
}
