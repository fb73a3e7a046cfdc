import type { Db } from '../db/pool.js';
import type { TimeBudget } from '../runtime/budget.js';
import { relationSize } from './sql.js';

// Heap-order batches are sized by time, not rows: each range grows or shrinks toward this, so a
// transaction stays short whether its pages hold live rows, expired ones or dead space.
const TARGET_BATCH_MS = 50;
// 10,000 pages is 80 MB of heap: a cap so one fast batch over empty pages cannot overshoot wildly.
const MAX_PAGES_PER_BATCH = 10_000;

/**
 * The heap-order engine shared by tables-cleanup and results-cleanup: TID ranges `[from, to)` from
 * the first page to the last one the table had when the sweep began (rows added since are newer
 * than any cutoff), each range handed to `batch`, which runs it as one short transaction. The
 * first range is sized for `batchRows` rows, later ones toward TARGET_BATCH_MS. Returns false when
 * the budget ended the sweep early.
 *
 * @example const done = await sweepHeapRanges(db, '"public"."t"', 10_000, budget, (from, to) => deleteRange(from, to))
 */
export async function sweepHeapRanges(
  db: Db,
  relation: string,
  batchRows: number,
  budget: TimeBudget,
  batch: (from: number, to: number) => Promise<unknown>,
): Promise<boolean> {
  const {
    rows: [size],
  } = await db.query<{ reltuples: number; pages: string }>(relationSize(relation));
  const pages = Number(size!.pages);
  const rowsPerPage = pages > 0 && size!.reltuples > 0 ? size!.reltuples / pages : 100;
  let span = clamp(Math.ceil(batchRows / rowsPerPage), 1, MAX_PAGES_PER_BATCH);
  for (let from = 0; from < pages; ) {
    // Checked only after the first range, so even a mis-sized budget makes progress.
    if (from > 0 && budget.expired()) return false;
    const to = Math.min(from + span, pages);
    const started = performance.now();
    await batch(from, to);
    const elapsed = performance.now() - started;
    // Toward the target time, at most doubling or halving per step so one odd batch cannot swing it.
    span = clamp(Math.round(span * clamp(TARGET_BATCH_MS / Math.max(elapsed, 1), 0.5, 2)), 1, MAX_PAGES_PER_BATCH);
    from = to;
  }
  return true;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
