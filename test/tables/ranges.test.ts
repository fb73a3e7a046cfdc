import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { UNLIMITED_BUDGET } from '../../shared/runtime/budget.js';
import { RANGE_UNFINISHED, sweepHeapRanges } from '../../shared/tables/ranges.js';
import { testDatabase } from '../helpers/db.js';

const { db } = await testDatabase();
const RELATION = '"public"."sweep_pages"';
let pages = 0;

beforeAll(async () => {
  // Wide rows, so the table spans a few hundred pages for the ranges to cover.
  await db.query(`CREATE TABLE sweep_pages AS SELECT i, repeat('x', 500) AS pad FROM generate_series(1, 5000) AS i`);
  await db.query('ANALYZE sweep_pages');
  pages = (await db.query(`SELECT (pg_relation_size('sweep_pages') / 8192)::int AS n`)).rows[0].n;
});

/** A batch that records its range and how many batches were in flight while it ran. */
function recorder(work: (from: number) => Promise<void> = () => sleep(5)) {
  const ranges: [number, number][] = [];
  let inFlight = 0;
  let mostInFlight = 0;
  const batch = async (from: number, to: number) => {
    inFlight += 1;
    mostInFlight = Math.max(mostInFlight, inFlight);
    try {
      await work(from);
      ranges.push([from, to]);
    } finally {
      inFlight -= 1;
    }
  };
  return { batch, ranges, mostInFlight: () => mostInFlight, inFlight: () => inFlight };
}

describe('the heap-order range engine', () => {
  it.each([1, 2, 3])('with %i stream(s), covers every page once, in ranges that never overlap', async (workers) => {
    const seen = recorder();

    const sweep = await sweepHeapRanges(db, RELATION, { batchRows: 100, budget: UNLIMITED_BUDGET, workers }, seen.batch);

    const sorted = [...seen.ranges].sort((a, b) => a[0] - b[0]);
    expect(sorted[0]![0]).toBe(0);
    for (const [i, [, to]] of sorted.entries()) expect(sorted[i + 1]?.[0] ?? pages).toBe(to);
    expect(sweep).toEqual({ done: true, reached: pages });
    expect(seen.mostInFlight()).toBe(workers);
  });

  it('stops every stream when a batch fails, and rethrows only once the batches in flight have finished', async () => {
    const failure = new Error('batch failed');
    let failed = false;
    const seen = recorder(async (from) => {
      await sleep(5);
      if (from > 0 && !failed) {
        failed = true;
        throw failure;
      }
    });

    await expect(sweepHeapRanges(db, RELATION, { batchRows: 100, budget: UNLIMITED_BUDGET, workers: 2 }, seen.batch)).rejects.toBe(failure);

    // Nothing still running behind the caller's back, and no range taken after the failure.
    expect(seen.inFlight()).toBe(0);
    expect(seen.ranges.length).toBeLessThan(3);
  });

  it('says how far it reached when the budget ends it: every range below was swept', async () => {
    let calls = 0;
    const budget = { expired: () => calls >= 4, remainingMs: () => 0 };
    const seen = recorder(async () => {
      calls += 1;
      await sleep(5);
    });

    const sweep = await sweepHeapRanges(db, RELATION, { batchRows: 100, budget, workers: 2 }, seen.batch);

    expect(sweep.done).toBe(false);
    expect(sweep.reached).toBeLessThan(pages);
    expect(seen.ranges.reduce((sum, [from, to]) => sum + (to - from), 0)).toBe(sweep.reached);
  });

  it('stops every stream when a batch leaves its range unfinished, and reaches no further than that range', async () => {
    const starts: number[] = [];
    let unfinishedAt: number | undefined;
    const batch = async (from: number) => {
      const nth = starts.push(from);
      await sleep(5);
      if (nth === 3) {
        unfinishedAt = from;
        return RANGE_UNFINISHED;
      }
    };

    const sweep = await sweepHeapRanges(db, RELATION, { batchRows: 100, budget: UNLIMITED_BUDGET, workers: 2 }, batch);

    expect(sweep.done).toBe(false);
    expect(sweep.reached).toBe(unfinishedAt);
    // The other stream finishes the range it had, and no stream takes another.
    expect(starts.length).toBeLessThanOrEqual(4);
  });
});
