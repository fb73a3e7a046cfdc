import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeRows } from '../../shared/results/archive.js';
import { UNLIMITED_BUDGET } from '../../shared/runtime/budget.js';
import { FileStorage } from '../../shared/storage/file.js';
import { cleanupTables, tableArchiveRoot } from '../../shared/tables/cleanup.js';
import { PolicyError } from '../../shared/tables/errors.js';
import { parseTablePolicies } from '../../shared/tables/policies.js';
import { restoreTable } from '../../shared/tables/restore.js';
import { testDatabase } from '../helpers/db.js';
import { tempDir } from '../helpers/temp.js';

const { db, url } = await testDatabase();
const run = promisify(execFile);
// Debian's python3-kombu and python3-django, not the pyenv python on PATH.
const PYTHON = '/usr/bin/python3';
const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;
// The kombu consumer's local zone: UTC+14, so a naive local time misread as UTC is 14 hours off.
const WORKER_TZ = 'Pacific/Kiritimati';

const clean = (policies: string, options: { dryRun?: boolean; batchSize?: number; archive?: FileStorage } = {}) =>
  cleanupTables({
    db,
    policies: parseTablePolicies(policies),
    settings: { dryRun: options.dryRun ?? false, batchSize: options.batchSize ?? 10_000 },
    budget: UNLIMITED_BUDGET,
    runId: 'tables-test',
    ...(options.archive && { archive: options.archive }),
  });
const column = async <T>(sql: string, values: unknown[] = []) =>
  (await db.query(sql, values)).rows.map((row) => Object.values(row)[0] as T);

describe('the kombu preset, on the tables kombu itself creates and fills', () => {
  beforeEach(async () => {
    await db.query('DROP TABLE IF EXISTS kombu_message, kombu_queue; DROP SEQUENCE IF EXISTS message_id_sequence, queue_id_sequence');
    // Real publishes and real consumes through kombu's SQLAlchemy transport, in the worker's zone.
    await run(PYTHON, [fixture('kombu-broker.py'), url, 'publish:celery:6', 'publish:mail:2', 'consume:celery:4'], {
      env: { ...process.env, TZ: WORKER_TZ },
    });
  });

  it('leaves the shapes kombu leaves: consumed rows stamped with naive local time, pending rows with NULL', async () => {
    const rows = (
      await db.query(
        `SELECT visible, "timestamp" IS NULL AS pending_shape, "timestamp" - (now() AT TIME ZONE $1) AS skew FROM kombu_message ORDER BY id`,
        [WORKER_TZ],
      )
    ).rows;
    const type = await column<string>(
      `SELECT data_type FROM information_schema.columns WHERE table_name = 'kombu_message' AND column_name = 'timestamp'`,
    );

    expect(type).toEqual(['timestamp without time zone']);
    expect(rows.map((r) => [r.visible, r.pending_shape])).toEqual([...Array(4).fill([false, false]), ...Array(4).fill([true, true])]);
    // Stamped in the worker's zone: within a minute of its wall clock, not of UTC's.
    for (const row of rows.slice(0, 4)) expect(Math.abs(row.skew.minutes ?? 0) + Math.abs(row.skew.hours ?? 0) * 60).toBeLessThan(1);
  });

  it('deletes only consumed messages older than keep, read in the worker zone, and never a pending one', async () => {
    const consumed = await column<number>('SELECT id FROM kombu_message WHERE NOT visible ORDER BY id');
    await db.query(`UPDATE kombu_message SET "timestamp" = (now() AT TIME ZONE $1) - interval '20 hours' WHERE id = ANY($2::int[])`, [
      WORKER_TZ,
      consumed.slice(0, 2),
    ]);
    await db.query(`UPDATE kombu_message SET "timestamp" = (now() AT TIME ZONE $1) - interval '2 hours' WHERE id = ANY($2::int[])`, [
      WORKER_TZ,
      consumed.slice(2),
    ]);
    // A pending message with an ancient stamp (as older transports left them) must stay anyway.
    await db.query(
      `UPDATE kombu_message SET "timestamp" = now() - interval '400 days' WHERE id = (SELECT min(id) FROM kombu_message WHERE visible)`,
    );

    const stats = await clean(`[{"preset":"kombu","keep":"12h","naiveTimezone":"${WORKER_TZ}"}]`);

    expect(await column<number>('SELECT id FROM kombu_message WHERE NOT visible ORDER BY id')).toEqual(consumed.slice(2));
    expect(await column<number>('SELECT count(*)::int FROM kombu_message WHERE visible')).toEqual([4]);
    expect(stats).toMatchObject({ dryRun: false, deleted: 2, remaining: 0, byPolicy: { kombu: 2 }, skippedBatches: 0, truncated: false });
    expect(stats.backlog).toEqual({ celery: 2, mail: 2 });
    expect(stats.backlogTotal).toBe(4);
  });

  it('reads naive timestamps as UTC by default, so the worker zone matters: misread, nothing is old enough', async () => {
    const consumed = await column<number>('SELECT id FROM kombu_message WHERE NOT visible ORDER BY id');
    await db.query(`UPDATE kombu_message SET "timestamp" = (now() AT TIME ZONE $1) - interval '20 hours' WHERE id = ANY($2::int[])`, [
      WORKER_TZ,
      consumed,
    ]);

    const misread = await clean('[{"preset":"kombu","keep":"12h"}]', { dryRun: true });
    const right = await clean(`[{"preset":"kombu","keep":"12h","naiveTimezone":"${WORKER_TZ}"}]`, { dryRun: true });

    expect(misread).toMatchObject({ dryRun: true, deleted: 0, wouldDelete: 0 });
    expect(right).toMatchObject({ dryRun: true, deleted: 0, wouldDelete: 4, byPolicy: { kombu: 4 } });
    expect(await column<number>('SELECT count(*)::int FROM kombu_message')).toEqual([8]);
  });
});

describe('a custom table without an index on its timestamp', () => {
  const POLICY =
    '[{"table":"public.audit_log","timestampColumn":"created_at","keep":"30d","where":"kind = \'debug\'","label":"debug-audit","archive":true}]';
  beforeEach(async () => {
    await db.query(`DROP TABLE IF EXISTS audit_log;
      CREATE TABLE audit_log (id bigint PRIMARY KEY, kind text NOT NULL, created_at timestamptz NOT NULL, body jsonb, blob bytea);
      INSERT INTO audit_log SELECT n, CASE WHEN n % 3 = 0 THEN 'info' ELSE 'debug' END, now() - (n % 60) * interval '1 day',
        jsonb_build_object('n', n, 'text', repeat('x', 200)), decode(md5(n::text), 'hex')
      FROM generate_series(1, 3000) AS n`);
  });

  it('deletes exactly the matching old rows in heap-order batches, and reports the path it took', async () => {
    const expected = await column<number>(
      `SELECT id FROM audit_log WHERE kind = 'debug' AND created_at < now() - interval '30 days' ORDER BY id`,
    );
    const archive = new FileStorage(await tempDir('chores-tables-archive-'));

    const stats = await clean(POLICY, { batchSize: 100, archive });

    expect(expected.length).toBeGreaterThan(500);
    expect(stats).toMatchObject({
      deleted: expected.length,
      archived: expected.length,
      remaining: 0,
      byPolicy: { 'debug-audit': expected.length },
      accessPaths: { 'debug-audit': 'heap' },
    });
    expect(stats.pathReasons['debug-audit']).toContain('no btree index leads with created_at');
    expect(stats.batches).toBeGreaterThan(1);
    expect(await column<number>('SELECT count(*)::int FROM audit_log WHERE id = ANY($1::bigint[])', [expected])).toEqual([0]);
    expect(await column<number>('SELECT count(*)::int FROM audit_log')).toEqual([3000 - expected.length]);
  });

  it('archives every deleted row before deleting it, and restores them exactly, once', async () => {
    const snapshot = `SELECT id, kind, created_at::text, body::text, encode(blob, 'hex') AS blob FROM audit_log ORDER BY id`;
    const before = (await db.query(snapshot)).rows;
    const archive = new FileStorage(await tempDir('chores-tables-archive-'));
    const stats = await clean(POLICY, { batchSize: 500, archive });
    const keys = await archive.list(tableArchiveRoot({ schema: 'public', table: 'audit_log' }));
    const archivedIds = (await Promise.all(keys.map(async (key) => decodeRows(await archive.get(key)))))
      .flat()
      .map((row) => Number(row.id));

    const restored = await restoreTable({ db, schema: 'public', table: 'audit_log', archive });
    const again = await restoreTable({ db, schema: 'public', table: 'audit_log', archive });

    expect(archivedIds.sort((a, b) => a - b)).toHaveLength(stats.deleted);
    expect(new Set(archivedIds).size).toBe(stats.deleted);
    expect(
      keys.every((key) => /^tables\/public\.audit_log\/\d{4}\/\d{2}\/\d{2}\/\d{8}T\d{9}Z-tables-test-\d{4}\.jsonl\.gz$/.test(key)),
    ).toBe(true);
    expect(restored).toMatchObject({ matched: stats.deleted, restored: stats.deleted, alreadyPresent: 0 });
    expect(again).toMatchObject({ restored: 0, alreadyPresent: stats.deleted });
    expect((await db.query(snapshot)).rows).toEqual(before);
  });

  it('counts per policy in a dry run and deletes nothing', async () => {
    const expected = await column<number>(
      `SELECT count(*)::int FROM audit_log WHERE kind = 'debug' AND created_at < now() - interval '30 days'`,
    );

    const stats = await clean(
      `[${POLICY.slice(1, -1)},{"table":"audit_log","timestampColumn":"created_at","keep":"50d","label":"all-old"}]`,
      { dryRun: true },
    );

    expect(stats).toMatchObject({ dryRun: true, deleted: 0, archived: 0, byPolicy: { 'debug-audit': expected[0], 'all-old': 500 } });
    expect(stats.wouldDelete).toBe(expected[0]! + 500);
    expect(stats.accessPaths).toEqual({ 'debug-audit': 'heap', 'all-old': 'heap' });
    expect(await column<number>('SELECT count(*)::int FROM audit_log')).toEqual([3000]);
  });

  it('walks an index when one exists and few rows are expired, with the same exact result', async () => {
    await db.query(`CREATE INDEX audit_log_created_at_idx ON audit_log (created_at)`);
    await db.query(`UPDATE audit_log SET created_at = now() - interval '1 day' WHERE id > 40`);
    await db.query('ANALYZE audit_log');
    const expected = await column<number>(
      `SELECT id FROM audit_log WHERE kind = 'debug' AND created_at < now() - interval '30 days' ORDER BY id`,
    );

    const stats = await clean(POLICY.replace('"archive":true', '"archive":false'), { batchSize: 5 });

    expect(expected.length).toBeGreaterThan(5);
    expect(stats).toMatchObject({ deleted: expected.length, remaining: 0, accessPaths: { 'debug-audit': 'index' } });
    expect(stats.pathReasons['debug-audit']).toContain('walking audit_log_created_at_idx');
    expect(stats.batches).toBeGreaterThan(1);
    expect(await column<number>('SELECT count(*)::int FROM audit_log WHERE id = ANY($1::bigint[])', [expected])).toEqual([0]);
  });

  it('skips a batch whose rows another transaction holds, leaves it for the next run, and never waits on the holder', async () => {
    const holder = new pg.Client({ connectionString: url });
    holder.on('error', () => {}); // the database is dropped with FORCE after the file
    await holder.connect();
    afterAll(() => holder.end());
    const held = await column<number>(
      `SELECT min(id)::int FROM audit_log WHERE kind = 'debug' AND created_at < now() - interval '30 days'`,
    );
    await holder.query('BEGIN');
    await holder.query('SELECT * FROM audit_log WHERE id = $1 FOR UPDATE', [held[0]]);

    const blocked = await clean(POLICY.replace('"archive":true', '"archive":false'), { batchSize: 100 });
    await holder.query('UPDATE audit_log SET body = body WHERE id = $1', [held[0]]); // the holder still works
    await holder.query('COMMIT');
    const later = await clean(POLICY.replace('"archive":true', '"archive":false'), { batchSize: 100 });

    expect(blocked.skippedBatches).toBeGreaterThanOrEqual(1);
    expect(blocked.remaining).toBeGreaterThanOrEqual(1);
    expect(blocked.deleted).toBeGreaterThan(0);
    expect(later).toMatchObject({ deleted: blocked.remaining, remaining: 0, skippedBatches: 0 });
  });

  it('reports the table size on disk and the statistics on dead and live tuples', async () => {
    const stats = await clean(POLICY.replace('"archive":true', '"archive":false'));
    const bytes = await column<string>(`SELECT pg_total_relation_size('public.audit_log')::text`);

    expect(stats.tables['public.audit_log']!.bytes).toBe(Number(bytes[0]));
    expect(stats.tableBytes).toBe(Number(bytes[0]));
    expect(stats.tables['public.audit_log']).toEqual({
      bytes: Number(bytes[0]),
      deadTuples: expect.any(Number),
      liveTuples: expect.any(Number),
    });
  });

  it('fails naming the policy when its where is not a valid condition, and deletes nothing', async () => {
    const bad = (where: string) =>
      clean(`[{"table":"audit_log","timestampColumn":"created_at","keep":"1d","where":"${where}","label":"noisy"}]`);

    await expect(bad('kind = ')).rejects.toThrow(/policy "noisy": "where" is not a valid condition on public.audit_log: syntax error/);
    await expect(bad('no_such_column = 1')).rejects.toThrow(/policy "noisy".*column "no_such_column" does not exist/);
    await expect(bad('42')).rejects.toThrow(/policy "noisy".*must be type boolean/);
    await expect(bad('kind = 1')).rejects.toBeInstanceOf(PolicyError);
    expect(await column<number>('SELECT count(*)::int FROM audit_log')).toEqual([3000]);
  });

  it('names the policy when its where parses but fails on a row at delete time, and that batch deletes nothing', async () => {
    const policies = `[{"table":"audit_log","timestampColumn":"created_at","keep":"1d","label":"fine"},
      {"table":"audit_log","timestampColumn":"created_at","keep":"1d","where":"kind::int > 0","label":"cast"}]`;
    await db.query(`UPDATE audit_log SET created_at = now() - interval '2 days'`);

    const failure = clean(policies.replace('"fine"', '"fine","where":"kind = \'info\'"'));

    await expect(failure).rejects.toThrow(
      /^TABLE_RETENTION policy "cast": a batch failed: invalid input syntax for type integer: "debug"$/,
    );
    await expect(failure).rejects.toBeInstanceOf(PolicyError);
    expect(await column<number>('SELECT count(*)::int FROM audit_log')).toEqual([2000]); // "fine" ran first; "cast" deleted nothing
  });

  it('lets an error that is not the policy’s doing (the server out of disk) go up as Postgres said it, blaming no policy', async () => {
    await db.query(`UPDATE audit_log SET created_at = now() - interval '2 days'`);
    await db.query(`CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$`);
    await db.query('CREATE TRIGGER disk_full BEFORE DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION disk_full()');
    try {
      const failure = clean('[{"table":"audit_log","timestampColumn":"created_at","keep":"1d"}]');

      await expect(failure).rejects.toThrow(/^could not extend file: No space left on device$/);
      await expect(failure).rejects.not.toBeInstanceOf(PolicyError);
    } finally {
      await db.query('DROP TRIGGER disk_full ON audit_log; DROP FUNCTION disk_full()');
    }
  });

  it('fails naming the policy when the table or column is missing or not a timestamp', async () => {
    await expect(clean('[{"table":"nowhere","timestampColumn":"created_at","keep":"1d"}]')).rejects.toThrow(
      /policy "public.nowhere": table public.nowhere does not exist/,
    );
    await expect(clean('[{"table":"audit_log","timestampColumn":"made_at","keep":"1d","label":"a"}]')).rejects.toThrow(
      /policy "a": public.audit_log has no column "made_at"/,
    );
    await expect(clean('[{"table":"audit_log","timestampColumn":"kind","keep":"1d","label":"a"}]')).rejects.toThrow(
      /policy "a": column "kind" is text, not a timestamp/,
    );
  });
});

// Each test runs a Python process that imports Django and migrates (1–1.5 s on the loaded machine).
describe('the django-sessions preset, on the table Django migrates and fills', { timeout: 60_000 }, () => {
  const django = (useTz: boolean, zone: string, n: number) =>
    run(PYTHON, [fixture('django-sessions.py'), url, String(useTz), zone, String(n)]).then(({ stdout }) => stdout.trim().split('\n'));
  beforeEach(async () => {
    await db.query('DROP TABLE IF EXISTS django_session; DROP TABLE IF EXISTS django_migrations');
  });

  it('deletes sessions past expire_date (USE_TZ = True: timestamptz)', async () => {
    const keys = await django(true, 'UTC', 4);
    await db.query(`UPDATE django_session SET expire_date = now() - interval '1 minute' WHERE session_key = ANY($1::text[])`, [
      keys.slice(0, 2),
    ]);

    const dry = await clean('[{"preset":"django-sessions"}]', { dryRun: true });
    const stats = await clean('[{"preset":"django-sessions"}]');

    expect(dry).toMatchObject({ dryRun: true, deleted: 0, wouldDelete: 2 });
    expect(stats).toMatchObject({ deleted: 2, remaining: 0, byPolicy: { 'django-sessions': 2 } });
    expect(await column<string>('SELECT session_key FROM django_session ORDER BY session_key')).toEqual(keys.slice(2).sort());
  });

  it('needs no naiveTimezone with USE_TZ = False: Django still writes timestamptz on Postgres, in its TIME_ZONE', async () => {
    const keys = await django(false, 'Asia/Tokyo', 3);
    const type = await column<string>(
      `SELECT data_type FROM information_schema.columns WHERE table_name = 'django_session' AND column_name = 'expire_date'`,
    );
    const lifetimes = await column<number>(`SELECT round(extract(epoch FROM expire_date - now()) / 86400)::int FROM django_session`);
    await db.query(`UPDATE django_session SET expire_date = now() - interval '1 second' WHERE session_key = $1`, [keys[0]]);

    const stats = await clean('[{"preset":"django-sessions"}]');

    expect(type).toEqual(['timestamp with time zone']);
    expect(lifetimes).toEqual([14, 14, 14]); // SESSION_COOKIE_AGE, two weeks from now: no zone shift
    expect(stats).toMatchObject({ deleted: 1, remaining: 0 });
    expect(await column<string>('SELECT session_key FROM django_session ORDER BY session_key')).toEqual(keys.slice(1).sort());
  });
});
