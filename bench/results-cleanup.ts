import pg from 'pg';
import { DEFAULT_BATCH_SIZE } from '../shared/jobs.js';
import { nativeTable } from '../shared/results/stores.js';
import { cleanupResults } from '../shared/results/cleanup.js';
import { parseRules } from '../shared/results/rules.js';
import { UNLIMITED_BUDGET } from '../shared/runtime/budget.js';
import { benchDatabase, fmt, percentile, schema, verdict, type BenchDatabase } from './database.js';

const TOTAL = 1_000_000;
const EXPIRED = 700_000;

/**
 * 1,000,000 results, 700,000 past the default 7-day retention. Runs results-cleanup, then the
 * single unbatched DELETE Celery's backend cleanup issues, each with a concurrent writer inserting
 * results the whole time, and prints rate, longest transaction and the writer's insert latency.
 */
export async function benchResultsCleanup(): Promise<void> {
  const bench = await benchDatabase('chores_bench_results');
  try {
    for (const layout of ['arrival', 'shuffled'] as const) await compare(bench, layout);
  } finally {
    await bench.close();
  }
}

async function compare(bench: BenchDatabase, layout: Layout): Promise<void> {
  {
    console.log(`\nresults-cleanup: ${fmt(TOTAL)} results, ~${fmt(EXPIRED)} expired, heap in ${layout} order`);
    await seed(bench, layout);
    const batched = await withWriter(bench, async () => {
      const started = performance.now();
      const stats = await cleanupResults({
        db: bench.db,
        table: nativeTable(schema),
        rules: parseRules('[{"status":"REVOKED","keep":"0s"},{"keep":"7d"}]'),
        settings: { dryRun: false, batchSize: DEFAULT_BATCH_SIZE },
        budget: UNLIMITED_BUDGET,
        runId: 'bench',
      });
      return { seconds: (performance.now() - started) / 1000, deleted: stats.deleted, longestMs: stats.longestBatchMs };
    });

    await seed(bench, layout);
    const unbatched = await withWriter(bench, async () => {
      const started = performance.now();
      const result = await bench.db.query(
        `DELETE FROM chores.task_results WHERE coalesce(date_done, date_created) < now() - interval '7 days'`,
      );
      const ms = performance.now() - started;
      return { seconds: ms / 1000, deleted: result.rowCount ?? 0, longestMs: ms };
    });

    const batchedRate = batched.deleted / batched.seconds;
    const unbatchedRate = unbatched.deleted / unbatched.seconds;
    const rows = [
      ['', 'chores (batched)', 'one DELETE (Celery)'],
      ['rows deleted', fmt(batched.deleted), fmt(unbatched.deleted)],
      ['rows/s', fmt(batchedRate), fmt(unbatchedRate)],
      ['longest transaction ms', fmt(batched.longestMs), fmt(unbatched.longestMs)],
      ['writer inserts', fmt(batched.writer.count), fmt(unbatched.writer.count)],
      ['writer p50 insert ms', fmt(batched.writer.p50, 2), fmt(unbatched.writer.p50, 2)],
      ['writer p99 insert ms', fmt(batched.writer.p99, 2), fmt(unbatched.writer.p99, 2)],
    ];
    for (const [label, a, b] of rows) console.log(`  ${label!.padEnd(24)} ${a!.padStart(18)} ${b!.padStart(20)}`);
    console.log('  targets:');
    console.log(`    >= 100,000 rows/s ............ ${verdict(batchedRate >= 100_000)} (${fmt(batchedRate)})`);
    console.log(
      `    >= half the DELETE's rate .... ${verdict(batchedRate >= unbatchedRate / 2)} (${fmt((100 * batchedRate) / unbatchedRate)}%)`,
    );
    console.log(`    no transaction over 250 ms ... ${verdict(batched.longestMs <= 250)} (${fmt(batched.longestMs)} ms)`);
    console.log(`    writer p99 under 50 ms ....... ${verdict(batched.writer.p99 < 50)} (${fmt(batched.writer.p99, 2)} ms)`);
  }
}

/**
 * `arrival`: rows in the order they finished, as a live table fills (37 days, oldest first, with
 * jitter). `shuffled`: the same ages scattered over the heap, the worst case for an index scan.
 */
type Layout = 'arrival' | 'shuffled';

async function seed(bench: BenchDatabase, layout: Layout): Promise<void> {
  const started = performance.now();
  await bench.db.query('TRUNCATE chores.task_results');
  // 70% of rows are older than 7 days. Statuses and names vary so every index sees realistic
  // cardinality; REVOKED is rare, as it is in practice.
  await bench.db.query(
    `INSERT INTO chores.task_results (task_id, task_name, status, result, date_created, date_done, worker)
     SELECT md5(i::text), (ARRAY['billing.charge','mail.send','reports.build','audit.log'])[1 + i % 4],
            (ARRAY['SUCCESS','SUCCESS','SUCCESS','FAILURE','SUCCESS','SUCCESS','SUCCESS','SUCCESS','SUCCESS','REVOKED'])[1 + i % 10],
            jsonb_build_object('n', i), d - interval '1 second', d, 'celery@bench'
     FROM generate_series(1, $1::int) AS i,
          LATERAL (SELECT now() - interval '7 days' * ($3::float8 / ($3::float8 - $2::float8))
                            * (1 - (CASE WHEN $4::text = 'arrival' THEN i ELSE (i::bigint * 7919) % $3::int + 1 END)::float8 / $3::float8)
                            + (i % 7) * interval '1 minute' AS d) AS t`,
    [TOTAL, EXPIRED, TOTAL, layout],
  );
  await bench.db.query('VACUUM ANALYZE chores.task_results');
  console.log(`  seeded in ${fmt((performance.now() - started) / 1000, 1)} s`);
}

interface WriterStats {
  count: number;
  p50: number;
  p99: number;
}

/** Runs `work` while one connection inserts fresh results back to back, as a busy worker pool does. */
async function withWriter<T>(bench: BenchDatabase, work: () => Promise<T>): Promise<T & { writer: WriterStats }> {
  const writer = new pg.Client({ connectionString: bench.url });
  await writer.connect();
  const latencies: number[] = [];
  let running = true;
  const loop = (async () => {
    for (let n = 0; running; n++) {
      const started = performance.now();
      await writer.query(
        `INSERT INTO chores.task_results (task_id, task_name, status, result, date_done) VALUES ($1, 'app.live', 'SUCCESS', '{"ok":true}', now())`,
        [`live-${Date.now()}-${n}`],
      );
      latencies.push(performance.now() - started);
    }
  })();
  try {
    const result = await work();
    running = false;
    await loop;
    latencies.sort((a, b) => a - b);
    return { ...result, writer: { count: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99) } };
  } finally {
    running = false;
    await loop.catch(() => {});
    await writer.end();
  }
}
