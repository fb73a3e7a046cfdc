import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { diagnose } from '../../shared/runtime/doctor.js';
import { parseTablePolicies } from '../../shared/tables/policies.js';
import { schema, testDatabase } from '../helpers/db.js';

const { db, url } = await testDatabase();
const results = { store: 'chores' as const, storeSchema: schema };

describe('chores doctor, for the tables chores cleans', () => {
  it("shows each policy's access path and fails a policy that does not fit the database", async () => {
    await db.query(`CREATE TABLE event_log (id bigint PRIMARY KEY, at timestamptz NOT NULL)`);
    const policies = parseTablePolicies(
      '[{"table":"event_log","timestampColumn":"at","keep":"7d","label":"events"},{"table":"gone_log","timestampColumn":"at","keep":"7d"}]',
    );

    const findings = await diagnose(db, schema, undefined, results, { policies });

    expect(findings).toContainEqual({
      level: 'ok',
      check: 'tables',
      message: 'events (public.event_log): heap-order batches; no btree index leads with at',
    });
    expect(findings).toContainEqual(
      expect.objectContaining({
        level: 'fail',
        check: 'tables',
        message: expect.stringContaining('policy "public.gone_log": table public.gone_log does not exist'),
      }),
    );
  });

  it('suggests VACUUM (ANALYZE) once dead tuples pass a fifth of the live ones, and not after the vacuum', async () => {
    const policies = parseTablePolicies('[{"table":"big_log","timestampColumn":"at","keep":"7d"}]');
    const deleter = new pg.Client({ connectionString: url });
    await deleter.connect();
    // Autovacuum off: 1500 dead of 5000 passes its threshold, and a vacuum landing before the first
    // diagnosis would take the dead tuples this test counts.
    await deleter.query(`CREATE TABLE big_log (id bigint PRIMARY KEY, at timestamptz NOT NULL) WITH (autovacuum_enabled = false);
      INSERT INTO big_log SELECT n, now() FROM generate_series(1, 5000) AS n`);
    await deleter.query('DELETE FROM big_log WHERE id <= 1500'); // 1500 dead against 3500 live
    await deleter.query('SELECT pg_stat_force_next_flush()'); // its statistics reach the collector now, not in 10 s
    await deleter.end();

    const bloated = await diagnose(db, schema, undefined, results, { policies });
    await db.query('VACUUM (ANALYZE) big_log');
    const vacuumed = await diagnose(db, schema, undefined, results, { policies });

    expect(bloated).toContainEqual({
      level: 'warn',
      check: 'storage',
      message: expect.stringMatching(/^"public"."big_log" has 1500 dead tuples against 3500 live/),
      fix: 'VACUUM (ANALYZE) "public"."big_log";',
    });
    expect(vacuumed.filter((f) => f.check === 'storage')).toEqual([
      { level: 'ok', check: 'storage', message: 'no table has dead tuples past a fifth of its live ones' },
    ]);
  });
});
