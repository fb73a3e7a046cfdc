import { describe, expect, it } from 'vitest';
import { inTransaction } from '../../shared/db/pool.js';
import { EXPECTED_INDEXES } from '../../shared/db/indexes.js';
import { schema, testDatabase } from '../helpers/db.js';

const { db } = await testDatabase();

/** The migrated schema's indexes that no constraint owns (primary keys and unique constraints are the tables' own). */
async function migratedIndexes(): Promise<Map<string, string>> {
  const { rows } = await db.query<{ indexname: string; indexdef: string }>(
    `SELECT i.indexname, i.indexdef FROM pg_indexes i
     WHERE i.schemaname = $1::text
       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = format('%I.%I', i.schemaname, i.indexname)::regclass)`,
    [schema],
  );
  return new Map(rows.map((row) => [row.indexname, row.indexdef]));
}

describe('the indexes doctor expects', () => {
  it('are exactly the indexes the migrations create', async () => {
    const migrated = await migratedIndexes();

    expect(EXPECTED_INDEXES.map((index) => index.name).sort()).toEqual([...migrated.keys()].sort());
  });

  it('each recreate exactly the index its migration made (the catalog definition is the same)', async () => {
    const migrated = await migratedIndexes();
    const recreated = new Map<string, string>();

    // Each index dropped and created from its declaration, then rolled back: the database is unchanged.
    await inTransaction(db, async (tx) => {
      for (const index of EXPECTED_INDEXES) {
        await tx.query(`DROP INDEX "${schema}".${index.name}`);
        await tx.query(`CREATE INDEX ${index.name} ON "${schema}".${index.table} ${index.on}`);
        const { rows } = await tx.query<{ indexdef: string }>(
          'SELECT indexdef FROM pg_indexes WHERE schemaname = $1::text AND indexname = $2::text',
          [schema, index.name],
        );
        recreated.set(index.name, rows[0]!.indexdef);
      }
      throw new Rollback();
    }).catch((error) => {
      if (!(error instanceof Rollback)) throw error;
    });

    expect(Object.fromEntries(recreated)).toEqual(Object.fromEntries(migrated));
  });
});

class Rollback extends Error {}
