import pg from 'pg';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { vetSchemaName } from '../../shared/db/identifiers.js';
import { createPool } from '../../shared/db/pool.js';
import { decodeRows } from '../../shared/results/archive.js';
import { cleanupResults, cleanupStore } from '../../shared/results/cleanup.js';
import { restoreResults, restoreStore } from '../../shared/results/restore.js';
import { parseRules } from '../../shared/results/rules.js';
import { detectTable, type StoreName } from '../../shared/results/stores.js';
import { UNLIMITED_BUDGET } from '../../shared/runtime/budget.js';
import type { AccessPath } from '../../shared/tables/policies.js';
import { diagnose } from '../../shared/runtime/doctor.js';
import { FileStorage } from '../../shared/storage/file.js';
import { testDatabase } from '../helpers/db.js';
import { tempDir } from '../helpers/temp.js';

const { url, name } = await testDatabase();
// Sessions in UTC+14: a naive UTC timestamp misread as local time would look 14 hours off.
const admin = new pg.Client({ connectionString: url });
await admin.connect();
await admin.query(`ALTER DATABASE ${name} SET timezone = 'Pacific/Kiritimati'`);
await admin.end();
const db = createPool({ kind: 'url', url }, 5);
afterAll(() => db.end());
const publicSchema = vetSchemaName('public');

// The DDL Celery's SQLAlchemy backend emits (celery/backends/database/models.py), with and
// without result_extended, and the group table.
const CELERY_DB = (extended: boolean) => `
  DROP TABLE IF EXISTS celery_taskmeta, celery_tasksetmeta; DROP SEQUENCE IF EXISTS task_id_sequence, taskset_id_sequence;
  CREATE SEQUENCE task_id_sequence; CREATE SEQUENCE taskset_id_sequence;
  CREATE TABLE celery_taskmeta (
    id integer NOT NULL DEFAULT nextval('task_id_sequence') PRIMARY KEY,
    task_id varchar(155) UNIQUE, status varchar(50), result bytea, date_done timestamp without time zone, traceback text
    ${extended ? ', name varchar(155), args bytea, kwargs bytea, worker varchar(155), retries integer, queue varchar(155)' : ''});
  CREATE TABLE celery_tasksetmeta (
    id integer NOT NULL DEFAULT nextval('taskset_id_sequence') PRIMARY KEY, taskset_id varchar(155) UNIQUE, result bytea, date_done timestamp without time zone);`;

// django-celery-results' table as its migrations leave it (2.x; date_started only in newer versions),
// with USE_TZ on (timestamptz) or off (naive timestamps holding UTC).
const DJANGO = (useTz: boolean, withDateStarted: boolean) => {
  const ts = useTz ? 'timestamp with time zone' : 'timestamp without time zone';
  return `
  DROP TABLE IF EXISTS django_celery_results_taskresult;
  CREATE TABLE django_celery_results_taskresult (
    id serial PRIMARY KEY, task_id varchar(255) NOT NULL UNIQUE, status varchar(50) NOT NULL,
    content_type varchar(128) NOT NULL, content_encoding varchar(64) NOT NULL, result text NULL,
    date_done ${ts} NOT NULL, traceback text NULL, meta text NULL, task_args text NULL, task_kwargs text NULL,
    task_name varchar(255) NULL, worker varchar(100) NULL, date_created ${ts} NOT NULL, periodic_task_name varchar(255) NULL
    ${withDateStarted ? `, date_started ${ts} NULL` : ''});`;
};

/** A finished task, `hoursAgo` in the past, written the way each backend writes it. */
async function insertCelery(taskId: string, status: string, hoursAgo: number, taskName?: string) {
  await db.query(
    `INSERT INTO celery_taskmeta (task_id, status, result, date_done${taskName ? ', name, args, kwargs, worker, retries, queue' : ''})
     VALUES ($1, $2, decode('gASVDwAAAAAAAAB9lIwCb2uUiHMu', 'base64'), (now() AT TIME ZONE 'UTC') - $3 * interval '1 hour'
             ${taskName ? `, $4, decode('gASVBQAAAAAAAAApLg==', 'base64'), decode('gASVBAAAAAAAAAB9lC4=', 'base64'), 'celery@w1', 0, 'default'` : ''})`,
    taskName ? [taskId, status, hoursAgo, taskName] : [taskId, status, hoursAgo],
  );
}

async function insertDjango(taskId: string, status: string, hoursAgo: number, taskName: string, useTz: boolean) {
  const at = useTz ? `now() - $3 * interval '1 hour'` : `(now() AT TIME ZONE 'UTC') - $3 * interval '1 hour'`;
  await db.query(
    `INSERT INTO django_celery_results_taskresult (task_id, status, content_type, content_encoding, result, date_done, date_created, task_name, task_args, task_kwargs, meta)
     VALUES ($1, $2, 'application/json', 'utf-8', '{"ok": true}', ${at}, ${at}, $4, '()', '{}', '{"children": []}')`,
    [taskId, status, hoursAgo, taskName],
  );
}

const ids = async (table: string) => (await db.query(`SELECT task_id FROM ${table} ORDER BY task_id`)).rows.map((r) => r.task_id);
const clean = async (store: StoreName, rules: string, extra: { dryRun?: boolean; archive?: FileStorage; accessPath?: AccessPath } = {}) =>
  cleanupResults({
    db,
    table: await detectTable(db, store, publicSchema),
    rules: parseRules(rules),
    settings: { dryRun: extra.dryRun ?? false, batchSize: 2, ...(extra.accessPath && { accessPath: extra.accessPath }) },
    budget: UNLIMITED_BUDGET,
    runId: 'celery',
    ...(extra.archive && { archive: extra.archive }),
  });
const RULES = '[{"task":"audit.*","keep":"never"},{"status":"REVOKED","keep":"0s"},{"keep":"7d"}]';

/** Cleans Celery's table with RULES into a fresh directory archive, then restores all of it. */
async function archiveThenRestore() {
  const archive = new FileStorage(await tempDir('chores-celery-archive-'));
  const stats = await clean('celery-db', RULES, { archive });
  const [key] = await archive.list('results/');
  const archived = decodeRows(await archive.get(key!));
  const restored = await restoreResults({
    db,
    table: await detectTable(db, 'celery-db', publicSchema),
    archive,
    filter: { since: new Date(0) },
  });
  return { stats, archived, restored };
}

describe('the celery-db store (Celery SQLAlchemy backend)', () => {
  beforeEach(async () => {
    await db.query(CELERY_DB(true));
  });

  it.each(['heap', 'index'] as const)('applies the rules by status and task name to naive UTC timestamps (%s path)', async (path) => {
    await insertCelery('old', 'SUCCESS', 7 * 24 + 2, 'app.mail');
    await insertCelery('young', 'SUCCESS', 7 * 24 - 2, 'app.mail'); // 14 h misread would push this past 7 days
    await insertCelery('revoked', 'REVOKED', 1, 'app.mail');
    await insertCelery('audit', 'SUCCESS', 400 * 24, 'audit.access');

    const stats = await clean('celery-db', RULES, { accessPath: path });

    expect(await ids('celery_taskmeta')).toEqual(['audit', 'young']);
    expect(stats.byRule).toEqual({ 'task=audit.* keep=never': 0, 'status=REVOKED keep=0s': 1, 'keep=7d': 1 });
    expect(stats.accessPath).toBe(path);
  });

  it('sweeps in heap order when the table has no index on date_done, and says why', async () => {
    await insertCelery('old', 'SUCCESS', 10 * 24, 'app.mail');

    const stats = await clean('celery-db', RULES);

    expect(stats).toMatchObject({ accessPath: 'heap', pathReason: expect.stringContaining('no btree index leading with date_done') });
    expect(await ids('celery_taskmeta')).toEqual([]);
  });

  it('counts in a dry run and deletes nothing', async () => {
    await insertCelery('old', 'SUCCESS', 10 * 24, 'app.mail');
    await insertCelery('revoked', 'REVOKED', 1, 'app.mail');

    const stats = await clean('celery-db', RULES, { dryRun: true });

    expect(stats).toMatchObject({ dryRun: true, deleted: 0, remaining: 2 });
    expect(await ids('celery_taskmeta')).toEqual(['old', 'revoked']);
  });

  it('archives pickled bytes as base64 and restores them byte for byte', async () => {
    await insertCelery('old-1', 'SUCCESS', 10 * 24, 'app.mail');
    await insertCelery('old-2', 'FAILURE', 11 * 24, 'app.mail');
    const snapshot = `SELECT id, task_id, status, encode(result, 'hex') AS result, date_done::text, name, encode(args, 'hex') AS args, encode(kwargs, 'hex') AS kwargs, worker, retries, queue FROM celery_taskmeta ORDER BY task_id`;
    const before = (await db.query(snapshot)).rows;

    const { archived, restored } = await archiveThenRestore();

    expect(archived[0]!.result).toBe('gASVDwAAAAAAAAB9lIwCb2uUiHMu');
    expect(restored).toMatchObject({ matched: 2, restored: 2 });
    expect((await db.query(snapshot)).rows).toEqual(before);
  });

  it('restores --since by the UTC that naive timestamps hold, wherever the CLI runs', async () => {
    await insertCelery('finished-before', 'SUCCESS', 10 * 24 + 2, 'app.mail');
    await insertCelery('finished-after', 'SUCCESS', 10 * 24 - 2, 'app.mail');
    const archive = new FileStorage(await tempDir('chores-celery-archive-'));
    await clean('celery-db', RULES, { archive });
    const zone = process.env.TZ;
    // Five hours behind UTC: read as local time, 'finished-before' looked three hours after --since.
    process.env.TZ = 'America/New_York';

    try {
      const since = new Date(Date.now() - 10 * 24 * 3_600_000);
      const restored = await restoreResults({ db, table: await detectTable(db, 'celery-db', publicSchema), archive, filter: { since } });

      expect(restored).toMatchObject({ matched: 1, restored: 1 });
      expect(await ids('celery_taskmeta')).toEqual(['finished-after']);
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });

  it('archives and restores a binary column whose name holds quotes, byte for byte', async () => {
    await db.query(`ALTER TABLE celery_taskmeta ADD COLUMN "it's ""odd""" bytea`);
    await insertCelery('old-1', 'SUCCESS', 10 * 24, 'app.mail');
    await db.query(`UPDATE celery_taskmeta SET "it's ""odd""" = '\\x00ff27'::bytea`);
    const snapshot = `SELECT task_id, encode("it's ""odd""", 'hex') AS odd FROM celery_taskmeta ORDER BY task_id`;
    const before = (await db.query(snapshot)).rows;

    const { stats, archived, restored } = await archiveThenRestore();

    expect(stats).toMatchObject({ deleted: 1, archived: 1 });
    expect(archived[0]!['it\'s "odd"']).toBe('AP8n');
    expect(restored).toMatchObject({ matched: 1, restored: 1 });
    expect((await db.query(snapshot)).rows).toEqual(before);
  });

  it('refuses a task-name rule on a table without result_extended, and says how to fix it', async () => {
    await db.query(CELERY_DB(false));
    await insertCelery('old', 'SUCCESS', 10 * 24);

    await expect(clean('celery-db', RULES)).rejects.toThrow(/has no task-name column — enable Celery's result_extended/);
    const stats = await clean('celery-db', '[{"keep":"7d"}]');

    expect(stats.deleted).toBe(1);
  });
});

describe('the django-celery-results store', () => {
  it.each([
    ['USE_TZ on, with date_started', true, true],
    ['USE_TZ off, an older version', false, false],
  ])('detects the columns and applies the rules (%s)', async (_shape, useTz, withDateStarted) => {
    await db.query(DJANGO(useTz, withDateStarted));
    await insertDjango('old', 'SUCCESS', 7 * 24 + 2, 'app.mail', useTz);
    await insertDjango('young', 'SUCCESS', 7 * 24 - 2, 'app.mail', useTz);
    await insertDjango('revoked', 'REVOKED', 1, 'app.mail', useTz);
    await insertDjango('audit', 'SUCCESS', 900, 'audit.access', useTz);

    const table = await detectTable(db, 'django-celery-results', publicSchema);
    const stats = await clean('django-celery-results', RULES);

    expect(table).toMatchObject({ taskName: 'task_name', ageIsNaive: !useTz, binaryColumns: [] });
    expect(await ids('django_celery_results_taskresult')).toEqual(['audit', 'young']);
    expect(stats).toMatchObject({ deleted: 2, remaining: 0 });
  });
});

describe('group results', () => {
  const cleanStore = (store: StoreName, rules: string, archive?: FileStorage) =>
    cleanupStore({
      db,
      store,
      storeSchema: publicSchema,
      rules: parseRules(rules),
      settings: { dryRun: false, batchSize: 2 },
      budget: UNLIMITED_BUDGET,
      runId: 'groups',
      ...(archive && { archive }),
    });

  it('cleans celery_tasksetmeta by the rules that constrain neither status nor task, archiving and restoring its bytes', async () => {
    await db.query(CELERY_DB(true));
    await insertCelery('task-old', 'SUCCESS', 10 * 24, 'app.mail');
    await db.query(`INSERT INTO celery_tasksetmeta (taskset_id, result, date_done) VALUES
      ('group-old', decode('gASVDwAAAAAAAAB9lIwCb2uUiHMu', 'base64'), (now() AT TIME ZONE 'UTC') - interval '10 days'),
      ('group-young', decode('gASVDwAAAAAAAAB9lIwCb2uUiHMu', 'base64'), (now() AT TIME ZONE 'UTC') - interval '1 day')`);
    const snapshot = `SELECT id, taskset_id, encode(result, 'hex') AS result, date_done::text FROM celery_tasksetmeta ORDER BY taskset_id`;
    const before = (await db.query(snapshot)).rows;
    const archive = new FileStorage(await tempDir('chores-groups-archive-'));

    const stats = await cleanStore('celery-db', RULES, archive);
    const afterClean = (await db.query('SELECT taskset_id FROM celery_tasksetmeta')).rows;
    const restored = await restoreStore({ db, store: 'celery-db', storeSchema: publicSchema, archive, filter: { since: new Date(0) } });

    expect(stats).toMatchObject({ deleted: 1, groupsDeleted: 1, archived: 2 });
    expect(afterClean).toEqual([{ taskset_id: 'group-young' }]);
    expect(restored).toMatchObject({ matched: 2, restored: 2 }); // one task row, one group row, each to its own table
    expect((await db.query(snapshot)).rows).toEqual(before);
  });

  it('leaves groups alone when only task-specific rules would delete them', async () => {
    await db.query(CELERY_DB(true));
    await db.query(
      `INSERT INTO celery_tasksetmeta (taskset_id, date_done) VALUES ('group-old', (now() AT TIME ZONE 'UTC') - interval '30 days')`,
    );

    const stats = await cleanStore('celery-db', '[{"status":"SUCCESS","keep":"1d"},{"task":"app.*","keep":"1d"}]');

    expect(stats.groupsDeleted).toBe(0);
  });

  it("cleans django-celery-results' group results too", async () => {
    await db.query(DJANGO(true, true));
    await db.query(`DROP TABLE IF EXISTS django_celery_results_groupresult;
      CREATE TABLE django_celery_results_groupresult (id serial PRIMARY KEY, group_id varchar(255) NOT NULL UNIQUE,
        date_created timestamptz NOT NULL, date_done timestamptz NOT NULL, content_type varchar(128) NOT NULL,
        content_encoding varchar(64) NOT NULL, result text NULL);
      INSERT INTO django_celery_results_groupresult (group_id, date_created, date_done, content_type, content_encoding, result) VALUES
        ('g-old', now() - interval '9 days', now() - interval '9 days', 'application/json', 'utf-8', '[]'),
        ('g-new', now(), now(), 'application/json', 'utf-8', '[]')`);

    const stats = await cleanStore('django-celery-results', RULES);

    expect(stats.groupsDeleted).toBe(1);
    expect((await db.query('SELECT group_id FROM django_celery_results_groupresult')).rows).toEqual([{ group_id: 'g-new' }]);
  });
});

describe('chores doctor on a Celery store', () => {
  it('warns when the table has no index on date_done and prints the statement to create it', async () => {
    await db.query(CELERY_DB(true));

    const before = await diagnose(db, vetSchemaName('chores'), undefined, { store: 'celery-db', storeSchema: publicSchema });
    await db.query('CREATE INDEX celery_taskmeta_date_done_idx ON public.celery_taskmeta (date_done)');
    const after = await diagnose(db, vetSchemaName('chores'), undefined, { store: 'celery-db', storeSchema: publicSchema });

    expect(before).toContainEqual({
      level: 'warn',
      check: 'result store',
      message: expect.stringContaining('has no index on date_done'),
      fix: 'CREATE INDEX CONCURRENTLY celery_taskmeta_date_done_idx ON "public"."celery_taskmeta" (date_done);',
    });
    expect(after).toContainEqual(expect.objectContaining({ level: 'ok', check: 'result store' }));
  });
});

describe('a store whose table is missing', () => {
  it('gives a clear error naming the table and what to check', async () => {
    await db.query('DROP TABLE IF EXISTS django_celery_results_taskresult');

    await expect(detectTable(db, 'django-celery-results', publicSchema)).rejects.toThrow(
      /RESULTS_STORE=django-celery-results: table public\.django_celery_results_taskresult does not exist — check RESULTS_STORE and RESULTS_STORE_SCHEMA/,
    );
  });
});
