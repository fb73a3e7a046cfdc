import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeEach, describe, expect, it } from 'vitest';
import { decodeRows } from '../../shared/results/archive.js';
import { cleanupResults } from '../../shared/results/cleanup.js';
import { ArchiveWriteError } from '../../shared/results/errors.js';
import { restoreResults } from '../../shared/results/restore.js';
import { parseRules } from '../../shared/results/rules.js';
import { nativeTable } from '../../shared/results/stores.js';
import { UNLIMITED_BUDGET } from '../../shared/runtime/budget.js';
import type { AccessPath } from '../../shared/tables/policies.js';
import { FileStorage } from '../../shared/storage/file.js';
import { openStorage } from '../../shared/storage/open.js';
import type { ObjectStorage } from '../../shared/storage/port.js';
import { S3Storage } from '../../shared/storage/s3.js';
import { parseStorageUrl } from '../../shared/storage/url.js';
import { archivedRows, objectLineBytes, updateCommittedWhileWaitedOn } from '../helpers/archive.js';
import { schema, testDatabase } from '../helpers/db.js';
import { localS3 } from '../helpers/s3.js';
import { TEST_S3_TIMEOUTS, TEST_SECRET, s3ConfigFor, silentEndpoint, stallingHttpEndpoint } from '../helpers/stalling.js';
import { tempDir } from '../helpers/temp.js';

const { db, url: dbUrl } = await testDatabase();
const s3 = await localS3(['archive']);
const rules = parseRules('[{"keep":"7d"}]');
const table = nativeTable(schema);
const BIN = join(import.meta.dirname, '../../bin/chores.mjs');

// Every column, as text, so microseconds and JSON formatting are compared exactly.
const SNAPSHOT = `SELECT task_id, task_name, status, result::text, traceback, date_created::text, date_done::text,
  expires_at::text, worker, retries, meta::text FROM chores.task_results ORDER BY task_id`;

async function seedVariedOldResults(count: number): Promise<void> {
  await db.query(
    `INSERT INTO chores.task_results (task_id, task_name, status, result, traceback, date_created, date_done, worker, retries, meta)
     SELECT 'old-' || i, CASE WHEN i % 3 = 0 THEN NULL ELSE 'app.tasks.t' || i END,
            (ARRAY['SUCCESS','FAILURE','REVOKED'])[1 + i % 3],
            jsonb_build_object('n', i, 'nested', jsonb_build_array(1.50, 'two', NULL), 'unicode', 'zß水🙂',
              'id', 9007199254740993 + i, 'amount', 12345678901234567890.000000001),
            CASE WHEN i % 2 = 0 THEN E'Traceback (most recent call last):\\n  line "x"' END,
            now() - interval '40 days' - i * interval '1.234567 seconds',
            now() - interval '30 days' - i * interval '1.000001 seconds',
            'worker@' || i, i % 4, CASE WHEN i % 5 = 0 THEN NULL ELSE jsonb_build_object('i', i) END
     FROM generate_series(1, $1::int) AS i`,
    [count],
  );
}

/**
 * Results of ~190 KB of JSON each (hex that does not compress, so TOASTed out of line): the heap
 * tuples are small, so the rows all share one or two heap pages whatever their JSON weighs. Every
 * pass of MIXED_RULES selects some: producer expiry, a status rule, a task glob, the catch-all.
 */
async function seedLargeOldResults(count: number): Promise<void> {
  await db.query(
    `INSERT INTO chores.task_results (task_id, task_name, status, result, date_done, expires_at)
     SELECT 'big-' || lpad(i::text, 3, '0'), CASE WHEN i % 3 = 0 THEN 'app.tasks.report' ELSE 'app.jobs.export' END,
            CASE WHEN i % 4 = 0 THEN 'FAILURE' ELSE 'SUCCESS' END,
            jsonb_build_object('report', (SELECT string_agg(md5(i || ':' || g), '') FROM generate_series(1, 6000) AS g)),
            now() - interval '30 days', CASE WHEN i % 10 = 0 THEN now() - interval '1 day' END
     FROM generate_series(1, $1::int) AS i`,
    [count],
  );
}
const MIXED_RULES = parseRules('[{"status":"FAILURE","keep":"1d"},{"task":"app.tasks.*","keep":"7d"},{"keep":"7d"}]');

function clean(archive: ObjectStorage, batchSize = 7, accessPath: AccessPath = 'index', archiveBatchBytes?: number) {
  return cleanupResults({
    db,
    table,
    rules: archiveBatchBytes ? MIXED_RULES : rules,
    archive,
    runId: 'run-1',
    budget: UNLIMITED_BUDGET,
    settings: { dryRun: false, batchSize, accessPath, ...(archiveBatchBytes && { archiveBatchBytes }) },
  });
}

beforeEach(async () => {
  await db.query('TRUNCATE chores.task_results');
});

const archives: [string, () => Promise<ObjectStorage>][] = [
  ['a local directory', async () => new FileStorage(await tempDir('chores-archive-'))],
  ['S3 (s3rver)', async () => new S3Storage(s3.client, 'archive', `run-${Math.random().toString(36).slice(2)}`)],
];

describe.each(archives)('archiving results to %s', (_name, openArchive) => {
  it('round-trips every column through archive, delete and restore', async () => {
    await seedVariedOldResults(20);
    const original = (await db.query(SNAPSHOT)).rows;
    const archive = await openArchive();

    const stats = await clean(archive);
    const afterDelete = await db.query('SELECT count(*)::int AS n FROM chores.task_results');
    const restore = await restoreResults({ db, table, archive, filter: { since: new Date(0) } });

    expect(stats).toMatchObject({ deleted: 20, archived: 20, batches: 3 });
    expect(afterDelete.rows[0].n).toBe(0);
    expect(restore).toEqual({ objectsRead: 3, matched: 20, restored: 20, alreadyPresent: 0 });
    expect((await db.query(SNAPSHOT)).rows).toEqual(original);
  });

  it('archives every row a heap-order sweep deletes, one object per range, and restores them exactly', async () => {
    await seedVariedOldResults(3000);
    const original = (await db.query(SNAPSHOT)).rows;
    const archive = await openArchive();

    const stats = await clean(archive, 100, 'heap');
    const keys = await archive.list('results/');
    const perObject = await Promise.all(keys.map(async (key) => decodeRows(await archive.get(key)).length));
    const restore = await restoreResults({ db, table, archive, filter: { since: new Date(0) } });

    expect(stats).toMatchObject({ accessPath: 'heap', deleted: 3000, archived: 3000 });
    expect(stats.batches).toBeGreaterThan(1);
    expect(keys).toHaveLength(stats.batches);
    expect(perObject.reduce((a, b) => a + b, 0)).toBe(3000);
    expect(restore).toMatchObject({ matched: 3000, restored: 3000 });
    expect((await db.query(SNAPSHOT)).rows).toEqual(original);
  });

  it('archives exactly the rows two heap streams delete around a held row, which stays and is not archived', async () => {
    await seedVariedOldResults(3000);
    const holder = await db.connect();
    await holder.query('BEGIN');
    await holder.query(`SELECT 1 FROM chores.task_results WHERE task_id = 'old-1500' FOR UPDATE`);
    const archive = await openArchive();

    try {
      const stats = await cleanupResults({
        db,
        table,
        rules,
        archive,
        runId: 'run-held',
        budget: UNLIMITED_BUDGET,
        settings: { dryRun: false, batchSize: 100, accessPath: 'heap', workers: 2 },
      });
      const archivedIds = (await archivedRows(archive, 'results/')).map((row) => row.task_id);

      expect(stats).toMatchObject({ accessPath: 'heap', deleted: 2999, archived: 2999, remaining: 1, retriedRanges: 1 });
      expect(archivedIds).toHaveLength(2999);
      expect(new Set(archivedIds).size).toBe(2999);
      expect(archivedIds).not.toContain('old-1500');
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    expect((await db.query('SELECT task_id FROM chores.task_results')).rows).toEqual([{ task_id: 'old-1500' }]);
  });

  it('archives a row updated while a heap batch waited on it once, in its new version, and deletes it', async () => {
    await seedVariedOldResults(5);
    const update = await updateCommittedWhileWaitedOn(db, `UPDATE chores.task_results SET worker = 'rewritten' WHERE task_id = 'old-3'`);
    const archive = await openArchive();

    const run = clean(archive, 100, 'heap');
    await update.commitOnceWaitedOn();
    const stats = await run;
    const archived = await archivedRows(archive, 'results/');
    const left = await db.query('SELECT count(*)::int AS n FROM chores.task_results');

    // The batch that waited locked the new version its snapshot cannot see, so could not delete it: the next one did.
    expect(stats).toMatchObject({ deleted: 5, archived: 5, byRule: { 'keep=7d': 5 }, retriedRanges: 0 });
    expect(archived.map((row) => row.task_id).sort()).toEqual(['old-1', 'old-2', 'old-3', 'old-4', 'old-5']);
    expect(archived.find((row) => row.task_id === 'old-3')).toMatchObject({ worker: 'rewritten' });
    expect(left.rows[0].n).toBe(0);
  });

  it('writes one gzip JSON-lines object per batch, one row per line', async () => {
    await seedVariedOldResults(10);
    const archive = await openArchive();

    await clean(archive, 4);
    const keys = await archive.list('results/');
    const lines = (await Promise.all(keys.map(async (key) => decodeRows(await archive.get(key))))).map((rows) => rows.length);

    expect(keys.every((key) => /^results\/\d{4}\/\d{2}\/\d{2}\/\d{8}T\d{9}Z-run-1-\d{4}\.jsonl\.gz$/.test(key))).toBe(true);
    expect(lines).toEqual([4, 4, 2]);
  });

  it.each(['heap', 'index'] as const)(
    'bounds the JSON one batch holds when a %s batch would hold far more: every row archived once, restored exactly',
    async (path) => {
      await seedLargeOldResults(40);
      const pages = await db.query('SELECT count(DISTINCT (ctid::text::point)[0])::int AS n FROM chores.task_results');
      const original = (await db.query(SNAPSHOT)).rows;
      const archive = await openArchive();
      const budget = 512 * 1024;

      const stats = await clean(archive, 1000, path, budget);
      const perObject = await objectLineBytes(archive, 'results/');
      const archivedIds = (await archivedRows(archive, 'results/')).map((row) => row.task_id);
      const afterDelete = await db.query('SELECT count(*)::int AS n FROM chores.task_results');
      const restore = await restoreResults({ db, table, archive, filter: { since: new Date(0) } });

      // Arranged: 7.6 MB of JSON on at most two heap pages, so one range (or one batch of 1,000 rows) could hold it all.
      expect(pages.rows[0].n).toBeLessThanOrEqual(2);
      expect(perObject.flat().reduce((a, b) => a + b, 0)).toBeGreaterThan(10 * budget);
      expect(stats).toMatchObject({
        accessPath: path,
        deleted: 40,
        archived: 40,
        remaining: 0,
        archiveBatchBytes: budget,
        truncated: false,
      });
      // FAILURE: i % 4 = 0 less 20, 40 (expiring); task glob: i % 3 = 0 less 12, 24, 36, 30; the rest; expiring: i % 10 = 0.
      expect(Object.values(stats.byRule)).toEqual([8, 9, 19, 4]);
      expect(afterDelete.rows[0].n).toBe(0);
      expect(archivedIds).toHaveLength(40);
      expect(new Set(archivedIds).size).toBe(40);
      // Under the budget, plus the one row that crossed it.
      for (const lines of perObject) expect(lines.reduce((a, b) => a + b, 0) - Math.max(...lines)).toBeLessThan(budget);
      expect(perObject.length).toBe(stats.batches);
      expect(restore).toMatchObject({ matched: 40, restored: 40 });
      expect((await db.query(SNAPSHOT)).rows).toEqual(original);
    },
  );

  it('stops mid-range when the budget ends, counts what it left, and the next run archives the rest, each row once', async () => {
    await seedLargeOldResults(40);
    const archive = await openArchive();
    const spent = { expired: () => true, remainingMs: () => 0 };
    const run = (budget: typeof spent) =>
      cleanupResults({
        db,
        table,
        rules,
        archive,
        runId: `run-${budget === spent ? 1 : 2}`,
        budget,
        settings: { dryRun: false, batchSize: 1000, accessPath: 'heap', archiveBatchBytes: 512 * 1024 },
      });

    const first = await run(spent);
    const second = await run(UNLIMITED_BUDGET);
    const archivedIds = (await archivedRows(archive, 'results/')).map((row) => row.task_id);

    // The first range runs whatever the budget, but only its first byte-bounded batch.
    expect(first).toMatchObject({ truncated: true, batches: 1 });
    expect(first.deleted).toBeGreaterThan(0);
    expect(first.remaining).toBe(40 - first.deleted);
    expect(second).toMatchObject({ truncated: false, deleted: 40 - first.deleted, remaining: 0 });
    expect(new Set(archivedIds).size).toBe(40);
    expect(archivedIds).toHaveLength(40);
  });

  it('archives a row larger than the budget alone, one object per row', async () => {
    await seedLargeOldResults(5);
    const archive = await openArchive();

    const stats = await clean(archive, 1000, 'heap', 1000);
    const perObject = await objectLineBytes(archive, 'results/');

    expect(stats).toMatchObject({ deleted: 5, archived: 5, batches: 5, remaining: 0 });
    expect(perObject.map((lines) => lines.length)).toEqual([1, 1, 1, 1, 1]);
    expect(perObject.every(([bytes]) => bytes! > 1000)).toBe(true);
  });

  it('restores idempotently and by task id', async () => {
    await seedVariedOldResults(5);
    const archive = await openArchive();
    await clean(archive);

    const first = await restoreResults({ db, table, archive, filter: { taskIds: ['old-2', 'old-4'] } });
    const second = await restoreResults({ db, table, archive, filter: { taskIds: ['old-2', 'old-4'] } });
    const { rows } = await db.query('SELECT task_id FROM chores.task_results ORDER BY task_id');

    expect(first).toMatchObject({ matched: 2, restored: 2, alreadyPresent: 0 });
    expect(second).toMatchObject({ matched: 2, restored: 0, alreadyPresent: 2 });
    expect(rows.map((r) => r.task_id)).toEqual(['old-2', 'old-4']);
  });
});

describe.each(['index', 'heap'] as const)('when the archive cannot be written (%s path)', (path) => {
  it('rolls the batch back, deletes nothing and names the object', async () => {
    await seedVariedOldResults(5);
    const before = (await db.query(SNAPSHOT)).rows;
    const notADirectory = join(await tempDir('chores-archive-'), 'file');
    await writeFile(notADirectory, 'x');

    const run = clean(new FileStorage(notADirectory), 7, path);

    await expect(run).rejects.toThrow(ArchiveWriteError);
    await expect(run).rejects.toThrow(/rolled back and nothing was deleted/);
    expect((await db.query(SNAPSHOT)).rows).toEqual(before);
  });

  it('loses nothing when the bucket is missing either', async () => {
    await seedVariedOldResults(5);

    await expect(clean(new S3Storage(s3.client, 'missing-bucket', 'p'), 7, path)).rejects.toThrow(/s3:\/\/missing-bucket\/p\/results\//);

    expect((await db.query('SELECT count(*)::int AS n FROM chores.task_results')).rows[0].n).toBe(5);
  });

  it('fails the run naming the timeout when the archive endpoint never answers, and keeps every row', async () => {
    await seedVariedOldResults(5);
    const before = (await db.query(SNAPSHOT)).rows;
    const silent = await silentEndpoint();
    const archive = openStorage(parseStorageUrl('s3://archive/hung', 'TEST'), s3ConfigFor(silent.endpoint), undefined, TEST_S3_TIMEOUTS);

    const failure = await clean(archive, 7, path).then(
      () => undefined,
      (error: unknown) => error as Error,
    );

    expect(failure).toBeInstanceOf(ArchiveWriteError);
    expect(failure!.message).toMatch(
      /^archive write failed for s3:\/\/archive\/hung\/results\/\S+: could not write .*: timed out after 3 attempts/,
    );
    expect(failure!.message).toMatch(/rolled back and nothing was deleted/);
    expect(failure!.message).not.toContain('\n');
    expect(failure!.message).not.toContain(TEST_SECRET);
    expect((await db.query(SNAPSHOT)).rows).toEqual(before);
  });
});

describe.each(['heap', 'index'] as const)('archiving rows of wildly mixed sizes on the %s path', (path) => {
  it('holds each batch to the budget plus one row, and archives every row once: tiny rows, a 4 MB row, tiny rows', async () => {
    // One range or one walk: 300 rows of ~300 bytes of JSON, the 151st ~4 MB (compressible, so stored
    // inline), in date order as inserted.
    await db.query(
      `INSERT INTO chores.task_results (task_id, task_name, status, result, date_done)
       SELECT 'mixed-' || lpad(i::text, 3, '0'), 'app.tasks.t', 'SUCCESS',
              jsonb_build_object('v', CASE WHEN i = 151 THEN repeat('x', 4000000) ELSE md5(i::text) END),
              now() - interval '30 days' - (300 - i) * interval '1 second'
       FROM generate_series(1, 300) AS i`,
    );
    const archive = new FileStorage(await tempDir('chores-archive-'));
    const budget = 16 * 1024;

    const stats = await clean(archive, 1000, path, budget);
    const perObject = await objectLineBytes(archive, 'results/');
    const archivedIds = (await archivedRows(archive, 'results/')).map((row) => row.task_id);

    expect(stats).toMatchObject({ deleted: 300, archived: 300, remaining: 0, truncated: false });
    expect(archivedIds).toHaveLength(300);
    expect(new Set(archivedIds).size).toBe(300);
    expect(Math.max(...perObject.flat())).toBeGreaterThan(4_000_000);
    for (const lines of perObject) expect(lines.reduce((a, b) => a + b, 0) - Math.max(...lines)).toBeLessThan(budget);
  });
});

describe('when the batch’s Postgres backend is terminated while it waits on a held row', () => {
  // Without a listener on the batch's client, pg's 'error' event after the lost connection was an
  // uncaught exception (Vitest reports it as an unhandled error and fails the run): in a Lambda, the
  // process ended and the run's own error was lost with it.
  it('fails the run with Postgres’ error, archives and deletes nothing, and the next run archives each row once', async () => {
    await seedVariedOldResults(50);
    const holder = await db.connect();
    await holder.query('BEGIN');
    await holder.query(`SELECT 1 FROM chores.task_results WHERE task_id = 'old-30' FOR UPDATE`);
    const { rows } = await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const archive = new FileStorage(await tempDir('chores-archive-'));

    const run = clean(archive, 1000, 'heap').then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    for (;;) {
      const { rows: waiting } = await db.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE $1::int = ANY (pg_blocking_pids(pid))',
        [rows[0]!.pid],
      );
      if (waiting.length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const failure = await run;
    await holder.query('ROLLBACK');
    holder.release();
    const objectsAfterFailure = await archive.list('results/');
    const left = await db.query('SELECT count(*)::int AS n FROM chores.task_results');
    const next = await clean(archive, 1000, 'heap');
    const archivedIds = (await archivedRows(archive, 'results/')).map((row) => row.task_id);

    expect(failure?.message).toMatch(/terminating connection due to administrator command/);
    expect(objectsAfterFailure).toEqual([]);
    expect(left.rows[0].n).toBe(50);
    expect(next).toMatchObject({ deleted: 50, archived: 50, remaining: 0 });
    expect(new Set(archivedIds).size).toBe(50);
    expect(archivedIds).toHaveLength(50);
  });
});

describe('restoring', () => {
  it('restores only rows finished at or after --since', async () => {
    await db.query(`INSERT INTO chores.task_results (task_id, status, date_done) VALUES
      ('older', 'SUCCESS', now() - interval '40 days'), ('newer', 'SUCCESS', now() - interval '10 days')`);
    const archive = new FileStorage(await tempDir('chores-archive-'));
    await clean(archive);

    const stats = await restoreResults({ db, table, archive, filter: { since: new Date(Date.now() - 20 * 86_400_000) } });

    expect(stats).toMatchObject({ matched: 1, restored: 1 });
    expect((await db.query('SELECT task_id FROM chores.task_results')).rows).toEqual([{ task_id: 'newer' }]);
  });

  it('fails naming the object and the timeout when an archive object stops midway', async () => {
    const key = 'p/results/2026/11/21/20261121T031500123Z-run-1-0001.jsonl.gz';
    const listing = `<?xml version="1.0" encoding="UTF-8"?>
      <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>archive</Name><KeyCount>1</KeyCount>
      <IsTruncated>false</IsTruncated><Contents><Key>${key}</Key><Size>1000</Size></Contents></ListBucketResult>`;
    const stalling = await stallingHttpEndpoint((request) => (request.url!.includes('list-type=2') ? { xml: listing } : 'stall-body'));
    const archive = openStorage(parseStorageUrl('s3://archive/p', 'TEST'), s3ConfigFor(stalling.endpoint), undefined, TEST_S3_TIMEOUTS);

    const restore = restoreResults({ db, table, archive, filter: { since: new Date(0) } });

    await expect(restore).rejects.toThrow(/^could not read archive object s3:\/\/archive\/\S+-0001\.jsonl\.gz: .*timed out: /);
    expect((await db.query('SELECT count(*)::int AS n FROM chores.task_results')).rows[0].n).toBe(0);
  });

  it('refuses to restore without a filter', async () => {
    const archive = new FileStorage(await tempDir('chores-archive-'));

    await expect(restoreResults({ db, table, archive, filter: {} })).rejects.toThrow(/say what to restore/);
  });
});

describe('results of several MB each', () => {
  it('archive and clean under a 200 MB heap: 300 MB of them, through the CLI', { timeout: 120_000 }, async () => {
    // A hundred results of 3 MB, as tasks returning reports leave them: their heap tuples all fit in
    // one or two pages, so one heap range held all 300 MB of their JSON and ran the heap out of memory.
    await db.query(
      `INSERT INTO chores.task_results (task_id, task_name, status, result, date_done)
       SELECT 'report-' || i, 'app.tasks.report', 'SUCCESS', jsonb_build_object('report', repeat('x', 3000000)), now() - interval '30 days'
       FROM generate_series(1, 100) AS i`,
    );
    const dir = await tempDir('chores-archive-');

    const { stdout } = await promisify(execFile)('node', ['--max-old-space-size=200', BIN, 'run', 'results-cleanup', '--json'], {
      env: { ...process.env, DATABASE_URL: dbUrl, RESULTS_ARCHIVE_URL: `file://${dir}` },
    });
    const left = await db.query(`SELECT count(*)::int AS n FROM chores.task_results WHERE task_name = 'app.tasks.report'`);

    expect(JSON.parse(stdout)).toMatchObject({ deleted: 100, archived: 100, remaining: 0, archiveBatchBytes: 16 * 1024 * 1024 });
    expect(left.rows[0].n).toBe(0);
  });
});
