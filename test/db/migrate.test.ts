import { describe, expect, it } from 'vitest';
import { nativeTable } from '../../shared/results/stores.js';
import { vetSchemaName } from '../../shared/db/identifiers.js';
import { loadMigrations, migrate } from '../../shared/db/migrate.js';
import { Params } from '../../shared/db/params.js';
import { passPredicate, type RetentionPass } from '../../shared/results/sql.js';
import { parseRules } from '../../shared/results/rules.js';
import { schema, testDatabase } from '../helpers/db.js';

const { db } = await testDatabase();

describe('migrations', () => {
  it('settle when two runners apply them at once: each migration applied and recorded once', async () => {
    const fresh = vetSchemaName('race_schema');
    const all = await loadMigrations();

    const [a, b] = await Promise.all([migrate(db, fresh), migrate(db, fresh)]);
    const { rows } = await db.query('SELECT id FROM race_schema.migrations ORDER BY id');

    expect(rows.map((r) => r.id)).toEqual(all.map((m) => m.id));
    expect([...a.applied, ...b.applied].sort()).toEqual(all.map((m) => `${m.id}_${m.name}`).sort());
  });

  it('report a migration whose own SQL violates a unique key instead of skipping it', async () => {
    const bad = [{ id: 1, name: 'dupes', sql: 'CREATE TABLE t (x int UNIQUE); INSERT INTO t VALUES (1), (1);' }];

    await expect(migrate(db, vetSchemaName('bad_schema'), bad)).rejects.toThrow(/migration 1_dupes failed: duplicate key/);
    expect((await db.query('SELECT count(*)::int AS n FROM bad_schema.migrations')).rows[0].n).toBe(0);
  });

  it('refuse a database migrated by a newer chores, naming the migrations this version does not know', async () => {
    const ahead = vetSchemaName('ahead_schema');
    const shipped = await loadMigrations();
    await migrate(db, ahead);
    await db.query(`INSERT INTO ahead_schema.migrations (id, name) VALUES (9998, 'from_the_future'), (9999, 'and_beyond')`);

    const refused = migrate(db, ahead);

    await expect(refused).rejects.toMatchObject({ name: 'DatabaseAheadError', unknown: ['9998_from_the_future', '9999_and_beyond'] });
    await expect(migrate(db, ahead)).rejects.toThrow(/does not know \(9998_from_the_future, 9999_and_beyond\).*upgrade chores/);
    expect((await db.query('SELECT count(*)::int AS n FROM ahead_schema.migrations')).rows[0].n).toBe(shipped.length + 2);
  });

  it('compare against the migrations the code ships: an older list refuses a schema its successor migrated', async () => {
    const shipped = await loadMigrations();
    const older = shipped.slice(0, -1);
    const last = shipped.at(-1)!;

    await expect(migrate(db, vetSchemaName('chores'), older)).rejects.toThrow(`(${last.id}_${last.name})`);
  });

  it('are a no-op when already current', async () => {
    const again = await migrate(db, vetSchemaName('chores'));

    expect(again.applied).toEqual([]);
  });

  it('put every table in the named schema', async () => {
    const other = vetSchemaName('tenant_two');

    await migrate(db, other);
    const { rows } = await db.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'tenant_two' ORDER BY 1`);

    expect(rows.map((r) => r.table_name)).toContain('task_results');
  });

  it('refuse a schema name that is not a plain identifier, naming the variable', () => {
    expect(() => vetSchemaName('chores; drop table x')).toThrow(/CHORES_SCHEMA/);
  });
});

describe('retention indexes', () => {
  const rules = parseRules(
    '[{"task":"audit.*","keep":"never"},{"status":"REVOKED","keep":"0s"},{"task":"reports.*","keep":"2d"},{"keep":"7d"}]',
  );
  const now = new Date();
  const passes: RetentionPass[] = [
    { kind: 'expires_at', label: 'expires_at', now },
    ...rules.slice(1).map((rule, i) => ({ kind: 'rule' as const, label: rule.label, rule, earlier: rules.slice(0, i + 1), cutoff: now })),
  ];

  it.each(passes.map((pass) => [pass.label, pass] as const))('serve the "%s" pass with an index scan', async (_label, pass) => {
    const client = await db.connect();
    try {
      await client.query('BEGIN');
      // With sequential scans priced out, the planner shows whether an index can serve the
      // predicate at all; on a real table of millions of rows it picks the same index on cost.
      await client.query('SET LOCAL enable_seqscan = off');
      const params = new Params();
      const where = passPredicate(nativeTable(schema), pass, params);
      const { rows } = await client.query(`EXPLAIN SELECT task_id FROM chores.task_results WHERE ${where}`, params.values);
      const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
      await client.query('ROLLBACK');

      expect(plan).toMatch(/Index (Only )?Scan|Bitmap Index Scan/);
      expect(plan).not.toMatch(/Seq Scan/);
    } finally {
      client.release();
    }
  });
});
