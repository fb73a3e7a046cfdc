import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { scratchServer, withDatabase } from '../shared/db/embedded.js';
import { vetSchemaName } from '../shared/db/identifiers.js';
import { migrate } from '../shared/db/migrate.js';
import { createPool } from '../shared/db/pool.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Connection string to the server's maintenance database, for creating per-file databases. */
    adminUrl: string;
    /** The migrated database each test file clones. */
    templateDatabase: string;
  }
}

/**
 * One Postgres for the whole run: DATABASE_URL's server when set (it needs CREATEDB), otherwise an
 * embedded one in a temp dir. The schema is migrated once into a template database; each test file
 * clones it (see test/helpers/db.ts), which is much faster than migrating per file.
 */
export default async function setup(project: TestProject) {
  const server = await scratchServer({
    existingUrl: process.env.DATABASE_URL,
    label: 'test',
    // A throwaway server: durability buys nothing here and costs the suite an fsync per commit.
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
  });
  const { adminUrl } = server;

  const templateDatabase = `chores_template_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${templateDatabase}`);
  await admin.query(`CREATE DATABASE ${templateDatabase}`);
  const templateUrl = withDatabase(adminUrl, templateDatabase);
  const pool = createPool({ kind: 'url', url: templateUrl }, 2);
  await migrate(pool, vetSchemaName('chores'));
  await pool.end();

  project.provide('adminUrl', adminUrl);
  project.provide('templateDatabase', templateDatabase);

  return async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${templateDatabase}`).catch(() => {});
    await admin.end();
    await server.stop();
  };
}
