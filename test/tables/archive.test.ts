import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeEach, describe, expect, it } from 'vitest';
import { type TimeBudget, UNLIMITED_BUDGET } from '../../shared/runtime/budget.js';
import { FileStorage } from '../../shared/storage/file.js';
import { cleanupTables, tableArchiveRoot } from '../../shared/tables/cleanup.js';
import { parseTablePolicies } from '../../shared/tables/policies.js';
import { restoreTable } from '../../shared/tables/restore.js';
import { archivedRows, objectLineBytes, updateCommittedWhileWaitedOn } from '../helpers/archive.js';
import { CHORES_BIN } from '../helpers/cli.js';
import { testDatabase } from '../helpers/db.js';
import { tempDir } from '../helpers/temp.js';

const { db, url } = await testDatabase();
const ROOT = tableArchiveRoot({ schema: 'public', table: 'big_log' });
// Small, so a few rows of ~190 KB fill a batch: the 16 MiB default would need hundreds of MB of rows.
const BUDGET = 512 * 1024;
// Every column, the body by its digest so a failure prints readably.
const SNAPSHOT = 'SELECT id, kind, created_at::text, md5(body) AS body, length(body) AS length FROM big_log ORDER BY id';
// The `where` names the table, as an operator may: the archive statements must not alias it away.
const policy = (path: 'heap' | 'index') =>
  parseTablePolicies(
    JSON.stringify([
      {
        table: 'public.big_log',
        timestampColumn: 'created_at',
        keep: '30d',
        where: "big_log.kind = 'debug'",
        label: 'big',
        archive: true,
        path,
      },
    ]),
  );

const clean = (archive: FileStorage, path: 'heap' | 'index', options: { bytes?: number; budget?: TimeBudget; runId?: string } = {}) =>
  cleanupTables({
    db,
    policies: policy(path),
    settings: { dryRun: false, batchSize: 1000, archiveBatchBytes: options.bytes ?? BUDGET },
    budget: options.budget ?? UNLIMITED_BUDGET,
    runId: options.runId ?? 'big-run',
    archive,
  });

async function archivedIds(archive: FileStorage): Promise<number[]> {
  return (await archivedRows(archive, ROOT)).map((row) => Number(row.id));
}

const ids = async (sql: string) => (await db.query<{ id: string }>(sql)).rows.map((row) => Number(row.id));
const EXPIRED = `SELECT id FROM big_log WHERE kind = 'debug' AND created_at < now() - interval '30 days' ORDER BY id`;

describe('archiving a table whose rows are several hundred KB each', () => {
  beforeEach(async () => {
    // ~190 KB of hex per row, which does not compress, so TOASTed out of line: the heap tuples are
    // small and all 50 rows share one or two heap pages whatever their JSON weighs. Every fifth row
    // is recent and every seventh is another kind: both stay.
    await db.query(`DROP TABLE IF EXISTS big_log;
      CREATE TABLE big_log (id bigint PRIMARY KEY, kind text NOT NULL, created_at timestamptz NOT NULL, body text);
      CREATE INDEX big_log_created_at_idx ON big_log (created_at);
      INSERT INTO big_log
      SELECT i, CASE WHEN i % 7 = 0 THEN 'audit' ELSE 'debug' END,
        now() - CASE WHEN i % 5 = 0 THEN interval '1 day' ELSE interval '40 days' + i * interval '1 minute' END,
        (SELECT string_agg(md5(i || ':' || g), '') FROM generate_series(1, 6000) AS g)
      FROM generate_series(1, 50) AS i`);
  });

  it.each(['heap', 'index'] as const)(
    'bounds the JSON one %s batch holds when one batch would hold far more: every expired row archived once, restored exactly',
    async (path) => {
      const pages = await db.query('SELECT count(DISTINCT (ctid::text::point)[0])::int AS n FROM big_log');
      const expected = await ids(EXPIRED);
      const original = (await db.query(SNAPSHOT)).rows;
      const archive = new FileStorage(await tempDir('chores-tables-big-'));

      const stats = await clean(archive, path);
      const perObject = await objectLineBytes(archive, ROOT);
      const archived = await archivedIds(archive);
      const left = await ids('SELECT id FROM big_log ORDER BY id');
      const restored = await restoreTable({ db, schema: 'public', table: 'big_log', archive });

      // Arranged: ~6.5 MB of JSON on at most two heap pages, so one range (or one batch of 1,000 rows) could hold it all.
      expect(pages.rows[0].n).toBeLessThanOrEqual(2);
      expect(expected).toHaveLength(34);
      expect(perObject.flat().reduce((a, b) => a + b, 0)).toBeGreaterThan(10 * BUDGET);
      expect(stats).toMatchObject({
        accessPaths: { big: path },
        deleted: 34,
        archived: 34,
        remaining: 0,
        skippedBatches: 0,
        truncated: false,
      });
      expect(left).toEqual(original.map((row) => Number(row.id)).filter((id) => !expected.includes(id)));
      expect(archived.sort((a, b) => a - b)).toEqual(expected);
      // Under the budget, plus the one row that crossed it.
      for (const lines of perObject) expect(lines.reduce((a, b) => a + b, 0) - Math.max(...lines)).toBeLessThan(BUDGET);
      expect(perObject.length).toBe(stats.batches);
      expect(restored).toMatchObject({ matched: 34, restored: 34, alreadyPresent: 0 });
      expect((await db.query(SNAPSHOT)).rows).toEqual(original);
    },
  );

  it('stops mid-range when the budget ends, leaves the rest counted, and the next run archives it, each row once', async () => {
    const expected = await ids(EXPIRED);
    const archive = new FileStorage(await tempDir('chores-tables-big-'));
    const spent: TimeBudget = { expired: () => true, remainingMs: () => 0 };

    const first = await clean(archive, 'heap', { budget: spent, runId: 'big-run-1' });
    const second = await clean(archive, 'heap', { runId: 'big-run-2' });
    const archived = await archivedIds(archive);

    // The first range runs whatever the budget, but only its first byte-bounded batch.
    expect(first).toMatchObject({ truncated: true, batches: 1 });
    expect(first.deleted).toBeGreaterThan(0);
    expect(first.remaining).toBe(34 - first.deleted);
    expect(second).toMatchObject({ truncated: false, deleted: 34 - first.deleted, remaining: 0 });
    expect(archived.sort((a, b) => a - b)).toEqual(expected);
  });

  it.each(['heap', 'index'] as const)('archives a row larger than the budget alone on the %s path, one object per row', async (path) => {
    await db.query(`DELETE FROM big_log WHERE id > 6`);
    const archive = new FileStorage(await tempDir('chores-tables-big-'));

    const stats = await clean(archive, path, { bytes: 1000 });
    const perObject = await objectLineBytes(archive, ROOT);

    // Rows 1, 2, 3, 4 and 6 are old debug rows; 5 is recent.
    expect(stats).toMatchObject({ deleted: 5, archived: 5, batches: 5, remaining: 0 });
    expect(perObject.map((lines) => lines.length)).toEqual([1, 1, 1, 1, 1]);
    expect(perObject.every(([bytes]) => bytes! > 1000)).toBe(true);
  });
});

describe('rows of several MB each', () => {
  it('archive and clean under a 200 MB heap: 300 MB of them, through the CLI', { timeout: 120_000 }, async () => {
    // A hundred rows of 3 MB (compressed inline, so their heap tuples all fit in one page): one heap
    // range held all 300 MB of their JSON and ran the heap out of memory.
    await db.query(`DROP TABLE IF EXISTS report_log;
      CREATE TABLE report_log (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, body text);
      INSERT INTO report_log SELECT i, now() - interval '30 days', repeat('x', 3000000) FROM generate_series(1, 100) AS i`);
    const dir = await tempDir('chores-tables-big-');
    const policies = [{ table: 'public.report_log', timestampColumn: 'created_at', keep: '7d', label: 'reports', archive: true }];

    const { stdout } = await promisify(execFile)('node', ['--max-old-space-size=200', CHORES_BIN, 'run', 'tables-cleanup', '--json'], {
      env: { ...process.env, DATABASE_URL: url, RESULTS_ARCHIVE_URL: `file://${dir}`, TABLE_RETENTION: JSON.stringify(policies) },
    });
    const left = await db.query('SELECT count(*)::int AS n FROM report_log');
    const restored = await restoreTable({ db, schema: 'public', table: 'report_log', archive: new FileStorage(dir) });

    expect(JSON.parse(stdout)).toMatchObject({ deleted: 100, archived: 100, remaining: 0, byPolicy: { reports: 100 }, truncated: false });
    expect(left.rows[0].n).toBe(0);
    expect(restored).toMatchObject({ matched: 100, restored: 100 });
  });
});

describe('archiving a table without a primary key, of awkward column types', () => {
  // Every column as text, whole rows sorted: a multiset, so two identical rows must both come back.
  const ROWS = 'SELECT t::text AS row FROM awkward_log t ORDER BY 1';
  const awkwardPolicy = (path: 'heap' | 'index') =>
    parseTablePolicies(
      JSON.stringify([{ table: 'public.awkward_log', timestampColumn: 'at', keep: '7d', label: 'awkward', archive: true, path }]),
    );

  beforeEach(async () => {
    await db.query(`DROP TABLE IF EXISTS awkward_log;
      CREATE TABLE awkward_log (id int, at timestamptz NOT NULL, naive timestamp, payload bytea, tags text[], grid int[][],
        doc json, docb jsonb, amount numeric, ratio float8, span interval, note text);
      CREATE INDEX awkward_log_at_idx ON awkward_log (at);
      INSERT INTO awkward_log
      SELECT i % 5, now() - interval '30 days' - i * interval '1.000001 seconds', '2026-01-01 12:00:00.123456'::timestamp + i * interval '1 day',
        decode(md5(i::text) || '00ff', 'hex'), ARRAY['a,b', NULL, 'q"uote', 'zß水🙂'], ARRAY[[i, 2], [3, NULL]],
        '{"b": 1,  "a": [1.50, "x"]}'::json, jsonb_build_object('n', i, 'big', 12345678901234567890.000001),
        12345678901234567890.000000001 * i, (ARRAY[0.1::float8, 'NaN', '-Infinity', 1e-300])[1 + i % 4],
        interval '1 mon 2 days 03:04:05.000006', E'line\\none\\ttab'
      FROM generate_series(1, 12) AS i;
      INSERT INTO awkward_log SELECT * FROM awkward_log WHERE id = 1`);
  });

  it('archives a row updated while a heap batch waited on it once, and restores each row once', async () => {
    const update = await updateCommittedWhileWaitedOn(db, `UPDATE awkward_log SET note = 'rewritten' WHERE id = 3 AND ratio = 0.1`);
    const archive = new FileStorage(await tempDir('chores-tables-awkward-'));

    const run = cleanupTables({
      db,
      policies: awkwardPolicy('heap'),
      settings: { dryRun: false, batchSize: 1000 },
      budget: UNLIMITED_BUDGET,
      runId: 'awkward-race',
      archive,
    });
    await update.commitOnceWaitedOn();
    const stats = await run;
    const left = (await db.query(ROWS)).rows;
    const archived = await archivedRows(archive, tableArchiveRoot({ schema: 'public', table: 'awkward_log' }));
    const restored = await restoreTable({ db, schema: 'public', table: 'awkward_log', archive });

    // Without a unique key restore cannot tell a row archived twice from two equal rows: it must be archived once.
    expect(stats).toMatchObject({ deleted: 15, archived: 15, skippedBatches: 0, remaining: 0 });
    expect(archived).toHaveLength(15);
    expect(archived.filter((row) => row.note === 'rewritten')).toHaveLength(1);
    expect(left).toEqual([]);
    expect(restored).toMatchObject({ matched: 15, restored: 15 });
    expect((await db.query(ROWS)).rows).toHaveLength(15);
  });

  it.each(['heap', 'index'] as const)('round-trips every value of every row exactly through the %s path and restore', async (path) => {
    const original = (await db.query(ROWS)).rows;
    const archive = new FileStorage(await tempDir('chores-tables-awkward-'));

    const stats = await cleanupTables({
      db,
      policies: awkwardPolicy(path),
      settings: { dryRun: false, batchSize: 1000, archiveBatchBytes: 2000 },
      budget: UNLIMITED_BUDGET,
      runId: 'awkward-run',
      archive,
    });
    const left = await db.query('SELECT count(*)::int AS n FROM awkward_log');
    const restored = await restoreTable({ db, schema: 'public', table: 'awkward_log', archive });

    expect(original).toHaveLength(15);
    expect(stats).toMatchObject({ accessPaths: { awkward: path }, deleted: 15, archived: 15, remaining: 0 });
    expect(stats.batches).toBeGreaterThan(1);
    expect(left.rows[0].n).toBe(0);
    expect(restored).toMatchObject({ matched: 15, restored: 15 });
    expect((await db.query(ROWS)).rows).toEqual(original);
  });
});
