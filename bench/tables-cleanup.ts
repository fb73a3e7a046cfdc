import { UNLIMITED_BUDGET } from '../shared/runtime/budget.js';
import { cleanupTables, DEFAULT_TABLE_BATCH_ROWS } from '../shared/tables/cleanup.js';
import { parseTablePolicies } from '../shared/tables/policies.js';
import { benchDatabase, fmt, verdict, withWriter, type BenchDatabase } from './database.js';

// The app's own writes while a cleanup runs: fresh events.
const liveEvent = () => ({ text: `INSERT INTO public.bench_events (kind, created_at, body) VALUES ('live', now(), '{}')` });

const TOTAL = 1_000_000;
const EXPIRED = 700_000;
// Interleaved: chores, DELETE, chores, DELETE — so both see the same machine, load and cache.
const ROUNDS = 2;

/**
 * tables-cleanup on a table with no index on its timestamp (as kombu_message, audit and event tables
 * usually are): 1,000,000 rows, 700,000 past a 30-day keep. Heap-order batches against the single
 * unbatched DELETE a hand-written cron job issues, each with a concurrent writer inserting rows.
 */
export async function benchTablesCleanup(): Promise<void> {
  const bench = await benchDatabase('chores_bench_tables');
  try {
    console.log(`\ntables-cleanup: ${fmt(TOTAL)} rows, ${fmt(EXPIRED)} expired, no index on the timestamp; ${ROUNDS} interleaved rounds`);
    const policies = parseTablePolicies('[{"table":"public.bench_events","timestampColumn":"created_at","keep":"30d","label":"events"}]');
    const chores: Run[] = [];
    const unbatched: Run[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await seed(bench);
      chores.push(
        await withWriter(bench, liveEvent, async () => {
          const started = performance.now();
          const stats = await cleanupTables({
            db: bench.db,
            policies,
            settings: { dryRun: false, batchSize: DEFAULT_TABLE_BATCH_ROWS },
            budget: UNLIMITED_BUDGET,
            runId: 'bench',
          });
          return {
            seconds: (performance.now() - started) / 1000,
            deleted: stats.deleted,
            longestMs: stats.longestBatchMs,
            skipped: stats.skippedBatches,
          };
        }),
      );
      await seed(bench);
      unbatched.push(
        await withWriter(bench, liveEvent, async () => {
          const started = performance.now();
          const result = await bench.db.query(`DELETE FROM public.bench_events WHERE created_at < now() - interval '30 days'`);
          const ms = performance.now() - started;
          return { seconds: ms / 1000, deleted: result.rowCount ?? 0, longestMs: ms, skipped: 0 };
        }),
      );
    }
    const rate = (runs: Run[]) => runs.reduce((a, r) => a + r.deleted, 0) / runs.reduce((a, r) => a + r.seconds, 0);
    const max = (runs: Run[], pick: (r: Run) => number) => Math.max(...runs.map(pick));
    const rows = [
      ['', 'chores (heap order)', 'one DELETE'],
      ['rows deleted per round', fmt(chores[0]!.deleted), fmt(unbatched[0]!.deleted)],
      ['rows/s', fmt(rate(chores)), fmt(rate(unbatched))],
      ['longest transaction ms', fmt(max(chores, (r) => r.longestMs)), fmt(max(unbatched, (r) => r.longestMs))],
      ['skipped batches', fmt(max(chores, (r) => r.skipped)), '—'],
      [
        'writer p99 insert ms',
        fmt(
          max(chores, (r) => r.writer.p99),
          2,
        ),
        fmt(
          max(unbatched, (r) => r.writer.p99),
          2,
        ),
      ],
    ];
    for (const [label, a, b] of rows) console.log(`  ${label!.padEnd(24)} ${a!.padStart(20)} ${b!.padStart(14)}`);
    const ratio = rate(chores) / rate(unbatched);
    console.log('  targets:');
    console.log(`    >= 1.0x the DELETE's rate .... ${verdict(ratio >= 1)} (${fmt(ratio, 2)}x)`);
    console.log(
      `    no transaction over 100 ms ... ${verdict(max(chores, (r) => r.longestMs) <= 100)} (${fmt(max(chores, (r) => r.longestMs))} ms)`,
    );
    console.log(`    writer p99 under 50 ms ....... ${verdict(max(chores, (r) => r.writer.p99) < 50)}`);
  } finally {
    await bench.close();
  }
}

interface Run {
  seconds: number;
  deleted: number;
  longestMs: number;
  skipped: number;
  writer: { count: number; p99: number };
}

async function seed(bench: BenchDatabase): Promise<void> {
  await bench.db.query('DROP TABLE IF EXISTS public.bench_events');
  await bench.db.query(
    'CREATE TABLE public.bench_events (id bigserial PRIMARY KEY, kind text NOT NULL, created_at timestamptz NOT NULL, body jsonb)',
  );
  // Arrival order, as an event table fills: the oldest 70% first.
  await bench.db.query(
    `INSERT INTO public.bench_events (kind, created_at, body)
     SELECT (ARRAY['login','view','export'])[1 + i % 3], now() - interval '100 days' * (1 - i::float8 / $1::float8) + interval '1 minute',
            jsonb_build_object('n', i)
     FROM generate_series(1, $1::int) AS i`,
    [TOTAL],
  );
  await bench.db.query('VACUUM ANALYZE public.bench_events');
}
