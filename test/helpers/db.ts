import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, inject } from 'vitest';
import { vetSchemaName } from '../../shared/db/identifiers.js';
import { createPool, type Db } from '../../shared/db/pool.js';
import { withDatabase } from '../../shared/db/embedded.js';

export const schema = vetSchemaName('chores');

export interface TestDatabase {
  url: string;
  name: string;
  db: Db;
}

/**
 * A fresh database cloned from the migrated template, dropped after the file's tests. Call at the
 * top level of a test file: `const t = await testDatabase()`.
 */
export async function testDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('adminUrl');
  const name = `chores_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    // CREATE DATABASE … TEMPLATE fails if another session is copying the same template at that
    // moment, so clones from parallel files take turns under a lock.
    await admin.query('SELECT pg_advisory_lock(42)');
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${inject('templateDatabase')}`);
  } finally {
    await admin.query('SELECT pg_advisory_unlock(42)').catch(() => {});
    await admin.end();
  }
  const url = withDatabase(adminUrl, name);
  const db = createPool({ kind: 'url', url }, 10);
  afterAll(async () => {
    await db.end();
    const dropper = new pg.Client({ connectionString: adminUrl });
    await dropper.connect();
    await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await dropper.end();
  });
  return { url, name, db };
}
