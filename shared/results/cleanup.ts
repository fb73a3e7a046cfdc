import { inTransaction, type Db } from '../db/pool.js';
import type { TimeBudget } from '../runtime/budget.js';
import type { ObjectStorage } from '../storage/port.js';
import { archiveKey, writeArchive } from './archive.js';
import { ArchiveWriteError } from './errors.js';
import type { RetentionRule } from './rules.js';
import type { SchemaName } from '../db/identifiers.js';
import { checkRulesFit, detectGroupTable, detectTable, ruleApplies, type ResultTable, type StoreName } from './stores.js';
import { countAll, countEligible, deleteBatch, passOrder, type DeletedBatch, type RetentionPass } from './sql.js';

// Row locks are skipped, but a table lock (a migration, a VACUUM FULL) would queue the batch and
// everything behind it; give up fast instead and let the next run try again.
const LOCK_TIMEOUT = '2s';

export interface ResultsCleanupSettings {
  dryRun: boolean;
  batchSize: number;
  /** Manual runs only: also require every deleted row to be at least this many days old. */
  olderThanDays?: number;
}

export interface ResultsCleanupStats {
  dryRun: boolean;
  before: number;
  deleted: number;
  /** Dry runs only: what a real run would delete now. */
  wouldDelete?: number;
  after: number;
  remaining: number;
  byRule: Record<string, number>;
  archived: number;
  batches: number;
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
  const { db, table, settings, budget } = input;
  checkRulesFit(table, input.rules);
  const passes = await retentionPasses(db, table, input.rules, settings.olderThanDays);
  const byRule = Object.fromEntries([
    ...input.rules.map((rule) => [rule.label, 0]),
    ...(table.expiresAt ? [['expires_at', 0]] : []),
  ]) as Record<string, number>;
  const before = await count(db, countAll(table));

  if (settings.dryRun) {
    for (const pass of passes) byRule[pass.label] = await count(db, countEligible(table, pass));
    const remaining = Object.values(byRule).reduce((a, b) => a + b, 0);
    return {
      dryRun: true,
      before,
      deleted: 0,
      wouldDelete: remaining,
      after: before,
      remaining,
      byRule,
      archived: 0,
      batches: 0,
      longestBatchMs: 0,
      truncated: false,
    };
  }

  let deleted = 0,
    archived = 0,
    batches = 0,
    longestBatchMs = 0,
    truncated = false;
  eachPass: for (const pass of passes) {
    // The keyset cursor of this pass's walk, kept here so the passes themselves stay whole for counting.
    let cursor: RetentionPass = pass;
    for (;;) {
      // Checked only once something was deleted, so even a mis-sized budget makes progress.
      if (deleted > 0 && budget.expired()) {
        truncated = true;
        break eachPass;
      }
      const started = performance.now();
      const { rows, resumeAt } = await deleteOneBatch(input, cursor, batches);
      longestBatchMs = Math.max(longestBatchMs, Math.round(performance.now() - started));
      if (rows > 0) batches += 1;
      deleted += rows;
      byRule[pass.label]! += rows;
      if (input.archive) archived += rows;
      if (rows < settings.batchSize) break;
      // Resume from the newest age this batch reached: rows the pass walked past and kept (shielded
      // by an earlier rule) are then walked once per run rather than once per batch.
      if (pass.kind === 'rule' && passOrder(table, pass) !== undefined && resumeAt) cursor = { ...pass, resumeAt };
    }
  }

  let remaining = 0;
  for (const pass of passes) remaining += await count(db, countEligible(table, pass));
  const after = await count(db, countAll(table));
  return { dryRun: false, before, deleted, after, remaining, byRule, archived, batches, longestBatchMs, truncated };
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

async function deleteOneBatch(
  input: ResultsCleanupInput,
  pass: RetentionPass,
  batchNumber: number,
): Promise<{ rows: number; resumeAt: string | null }> {
  return inTransaction(input.db, async (tx) => {
    await tx.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
    // A batch must be an ordered index walk that LIMIT cuts short. Given a bounded age range the
    // planner prefers a bitmap scan or seq scan plus sort, which reads the whole remaining range on
    // every batch (measured: batches at 420 ms shrinking as rows ran out, against 40–70 ms).
    await tx.query('SET LOCAL enable_bitmapscan = off');
    await tx.query('SET LOCAL enable_seqscan = off');
    const {
      rows: [batch],
    } = await tx.query<DeletedBatch>(deleteBatch(input.table, pass, input.settings.batchSize, input.archive !== undefined));
    const rows = batch!.deleted;
    if (input.archive && rows > 0) {
      const key = archiveKey(new Date(), input.runId, batchNumber, input.table.archiveRoot);
      try {
        await writeArchive(input.archive, key, batch!.rows!);
      } catch (error) {
        // Thrown inside the transaction, so the delete rolls back with it.
        throw new ArchiveWriteError(`${input.archive.url}/${key}`, rows, error);
      }
    }
    return { rows, resumeAt: batch!.resume_at };
  });
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
