import pg from 'pg';
import { scratchServer, withDatabase } from '../shared/db/embedded.js';
import { vetSchemaName } from '../shared/db/identifiers.js';
import { migrate } from '../shared/db/migrate.js';
import { createPool, type Db } from '../shared/db/pool.js';

export const schema = vetSchemaName('chores');

export interface BenchDatabase {
  url: string;
  db: Db;
  close(): Promise<void>;
}

/** A fresh, migrated database: on DATABASE_URL's server when set, else an embedded Postgres. */
export async function benchDatabase(name: string): Promise<BenchDatabase> {
  const server = await scratchServer({
    existingUrl: process.env.DATABASE_URL,
    label: 'bench',
    postgresFlags: (process.env.BENCH_PG_FLAGS ?? '').split(' ').filter(Boolean),
  });
  const { adminUrl } = server;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  const url = withDatabase(adminUrl, name);
  const db = createPool({ kind: 'url', url }, 8);
  await migrate(db, schema);
  return {
    url,
    db,
    close: async () => {
      await db.end();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
      await server.stop();
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function verdict(ok: boolean): string {
  return ok ? 'ok' : 'MISSED';
}
