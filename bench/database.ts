import pg from 'pg';
import { scratchServer, withDatabase } from '../shared/db/embedded.js';
import { vetSchemaName } from '../shared/db/identifiers.js';
import { migrate } from '../shared/db/migrate.js';
import { createPool, type Db } from '../shared/db/pool.js';

export const schema = vetSchemaName('chores');

export interface BenchDatabase {
  url: string;
  db: Db;
  /** Drops the database (and, for the one benchDatabase made, stops its server). */
  close(): Promise<void>;
  /**
   * A copy of this database as it is now, under `name`, made by copying its files: a few seconds,
   * where seeding 1M results takes 25–37 s, so every round of a comparison can start from the same
   * rows. Postgres copies only a database nobody is connected to, so this one's pool is closed: from
   * then on it serves only as the original of copies.
   */
  copy(name: string): Promise<BenchDatabase>;
}

/** A fresh, migrated database: on DATABASE_URL's server when set, else an embedded Postgres. */
export async function benchDatabase(name: string): Promise<BenchDatabase> {
  const server = await scratchServer({
    existingUrl: process.env.DATABASE_URL,
    label: 'bench',
    postgresFlags: (process.env.BENCH_PG_FLAGS ?? '').split(' ').filter(Boolean),
  });
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();

  const open = async (database: string, original?: string): Promise<BenchDatabase> => {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    // FILE_COPY: the copy is the original's files (after a checkpoint), not its rows rewritten one by one.
    await admin.query(original ? `CREATE DATABASE ${database} TEMPLATE ${original} STRATEGY FILE_COPY` : `CREATE DATABASE ${database}`);
    const url = withDatabase(server.adminUrl, database);
    const db = createPool({ kind: 'url', url }, 8);
    if (!original) await migrate(db, schema);
    let closed = false;
    const end = async () => {
      if (!closed) await db.end();
      closed = true;
    };
    return {
      url,
      db,
      close: async () => {
        await end();
        await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      },
      copy: async (copyName) => {
        await end();
        return open(copyName, database);
      },
    };
  };

  const bench = await open(name);
  return {
    ...bench,
    close: async () => {
      await bench.close();
      await admin.end();
      await server.stop();
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The middle value (the upper one of an even count). */
export function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function verdict(ok: boolean): string {
  return ok ? 'ok' : 'MISSED';
}

export interface WriterStats {
  count: number;
  p50: number;
  p99: number;
}

/**
 * Runs `work` while one connection inserts rows back to back, as the app keeps doing, and reports
 * that writer's latencies: what a cleanup costs the producers beside it.
 */
export async function withWriter<T extends object>(
  bench: BenchDatabase,
  insert: (n: number) => { text: string; values?: unknown[] },
  work: () => Promise<T>,
): Promise<T & { writer: WriterStats }> {
  const writer = new pg.Client({ connectionString: bench.url });
  await writer.connect();
  const latencies: number[] = [];
  let running = true;
  const loop = (async () => {
    for (let n = 0; running; n++) {
      const started = performance.now();
      await writer.query(insert(n));
      latencies.push(performance.now() - started);
    }
  })();
  try {
    const result = await work();
    running = false;
    await loop;
    latencies.sort((a, b) => a - b);
    return { ...result, writer: { count: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99) } };
  } finally {
    running = false;
    await loop.catch(() => {});
    await writer.end();
  }
}
