import type { Db } from '../db/pool.js';
import { DEFAULT_SWEEP_WORKERS, MAX_SWEEP_WORKERS } from '../jobs.js';
import type { TimeBudget } from '../runtime/budget.js';
import { relationSize } from './sql.js';

// Heap-order batches are sized by time, not rows: each range grows or shrinks toward a target, so
// a transaction stays short whether its pages hold live rows, expired ones or dead space. A third
// of the 100 ms a transaction may hold its locks: on a busy 2-core machine, with two streams, a
// batch ran up to three times its target (measured: 50 ms gave a longest of 143–202 ms, 30 ms 86–113).
export const TARGET_BATCH_MS = 30;
// With an archive a batch also compresses and durably writes its rows, a fixed cost per object (a
// file archive's two fsyncs measured ~9–16 ms, an S3 PUT more) that 30 ms batches paid ~1,000 times
// a run. Archiving batches may hold their locks 250 ms, and their writes vary more: at 80 ms the
// longest measured 302 ms.
export const ARCHIVE_TARGET_BATCH_MS = 60;
// 10,000 pages is 80 MB of heap: a cap so one fast batch over empty pages cannot overshoot wildly.
const MAX_PAGES_PER_BATCH = 10_000;

export interface SweepOptions {
  /** The rows the first range is sized for; later ranges are sized by time. */
  batchRows: number;
  budget: TimeBudget;
  /** Concurrent streams taking ranges in turn (DEFAULT_SWEEP_WORKERS). */
  workers?: number;
  /** The time each range is sized toward (TARGET_BATCH_MS; ARCHIVE_TARGET_BATCH_MS when archiving). */
  targetMs?: number;
}

/**
 * What a batch returns when the budget ran out before its range was done (results-cleanup's archive
 * takes a range of very large rows in several byte-bounded transactions): the sweep takes no further
 * range, and `reached` stays at or below the unfinished range's first page, so what it left is counted.
 */
export const RANGE_UNFINISHED = Symbol('range unfinished');

export interface HeapSweep {
  /** False when the budget ended the sweep early. */
  done: boolean;
  /** The first page not swept: every range below it was handed to `batch` and finished (see RANGE_UNFINISHED). */
  reached: number;
}

/**
 * The heap-order engine shared by tables-cleanup and results-cleanup: TID ranges `[from, to)` from
 * the first page to the last one the table had when the sweep began (rows added since are newer
 * than any cutoff), each range handed to `batch`, which runs it as one short transaction, by
 * `workers` concurrent streams taking the next range in turn. The first range is sized for
 * `batchRows` rows, later ones toward `targetMs`. A batch that throws stops every stream from
 * taking another range; the error is rethrown once the ranges in flight have finished. A batch that
 * returns RANGE_UNFINISHED stops them too, and the sweep reports it not done.
 *
 * @example const { done } = await sweepHeapRanges(db, '"public"."t"', { batchRows: 10_000, budget }, (from, to) => deleteRange(from, to))
 */
export async function sweepHeapRanges(
  db: Db,
  relation: string,
  options: SweepOptions,
  batch: (from: number, to: number) => Promise<unknown>,
): Promise<HeapSweep> {
  const { batchRows, budget, workers = DEFAULT_SWEEP_WORKERS, targetMs = TARGET_BATCH_MS } = options;
  const {
    rows: [size],
  } = await db.query<{ reltuples: number; pages: string }>(relationSize(relation));
  const pages = Number(size!.pages);
  const rowsPerPage = pages > 0 && size!.reltuples > 0 ? size!.reltuples / pages : 100;
  let span = clamp(Math.ceil(batchRows / rowsPerPage), 1, MAX_PAGES_PER_BATCH);
  let next = 0;
  let stopped = false;
  // The first page of the lowest range a batch left unfinished: nothing at or above it counts as swept.
  let unfinished = Number.POSITIVE_INFINITY;

  // One range: taken, run, and its time used to size the next one taken by any stream.
  const step = async (): Promise<void> => {
    const from = next;
    const to = Math.min(from + span, pages);
    next = to;
    const started = performance.now();
    try {
      if ((await batch(from, to)) === RANGE_UNFINISHED) {
        stopped = true;
        unfinished = Math.min(unfinished, from);
      }
    } catch (error) {
      stopped = true;
      throw error;
    }
    // Toward the target time, at most doubling or halving per step so one odd batch cannot swing it.
    const elapsed = performance.now() - started;
    span = clamp(Math.round(span * clamp(targetMs / Math.max(elapsed, 1), 0.5, 2)), 1, MAX_PAGES_PER_BATCH);
  };
  // The first range runs alone (budget or not, so even a mis-sized budget makes progress): sized for
  // `batchRows` before anything was timed, it sizes the ranges the streams then start with. Started
  // together, every stream's first range was that blind size (measured: 130–190 ms with an archive).
  if (pages > 0) await step();
  const stream = async (): Promise<void> => {
    while (!stopped && next < pages && !budget.expired()) await step();
  };
  const results = await Promise.allSettled(Array.from({ length: clamp(workers, 1, MAX_SWEEP_WORKERS) }, stream));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return { done: next >= pages && unfinished === Number.POSITIVE_INFINITY, reached: Math.min(next, unfinished) };
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
