import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { DatabaseAheadError } from './errors.js';
import { inTransaction, type Db } from './pool.js';
import { qualified, type SchemaName } from './identifiers.js';
import { hasPgCode, PgErrorCode } from './pg-errors.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
const MIGRATION_FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

export interface MigrateResult {
  applied: string[];
  current: number;
}

/** The migrations shipped with this version, in order. */
export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((file) => file.endsWith('.sql')).sort();
  return Promise.all(
    files.map(async (file) => {
      const match = MIGRATION_FILE.exec(file);
      if (!match) throw new Error(`migration file ${file} is not named NNNN_name.sql`);
      return { id: Number(match[1]), name: match[2]!, sql: await readFile(`${dir}/${file}`, 'utf8') };
    }),
  );
}

/**
 * Applies every migration not yet recorded in `<schema>.migrations`, each in its own transaction
 * that also records it. Two runners at once settle on the migrations primary key: the loser's
 * insert waits for the winner's commit, fails with a unique violation, and moves on. A schema
 * holding a migration this version does not ship is refused (`DatabaseAheadError`), as
 * graphile-worker does: older code would run against tables it does not understand.
 *
 * @example await migrate(pool, vetSchemaName('chores'))
 */
export async function migrate(db: Db, schema: SchemaName, migrations?: Migration[]): Promise<MigrateResult> {
  const all = migrations ?? (await loadMigrations());
  await ensureMigrationsTable(db, schema);
  const done = await appliedMigrationIds(db, schema);
  await refuseNewerDatabase(db, schema, done, all);
  const applied: string[] = [];
  for (const migration of all.filter((m) => !done.has(m.id))) {
    if (await applyOne(db, schema, migration)) applied.push(`${migration.id}_${migration.name}`);
  }
  return { applied, current: all.at(-1)?.id ?? 0 };
}

export async function appliedMigrationIds(db: Db, schema: SchemaName): Promise<Set<number>> {
  try {
    const { rows } = await db.query<{ id: number }>(`SELECT id FROM ${qualified(schema, 'migrations')}`);
    return new Set(rows.map((row) => row.id));
  } catch (error) {
    if (hasPgCode(error, PgErrorCode.undefinedTable)) return new Set();
    throw error;
  }
}

/** Throws `DatabaseAheadError` naming each applied migration that `shipped` does not contain. */
export async function refuseNewerDatabase(db: Db, schema: SchemaName, applied: Set<number>, shipped: Migration[]): Promise<void> {
  const known = new Set(shipped.map((m) => m.id));
  if ([...applied].every((id) => known.has(id))) return;
  const { rows } = await db.query<{ id: number; name: string }>(`SELECT id, name FROM ${qualified(schema, 'migrations')} ORDER BY id`);
  throw new DatabaseAheadError(
    schema,
    rows.filter((row) => !known.has(row.id)).map((row) => `${row.id}_${row.name}`),
  );
}

async function ensureMigrationsTable(db: Db, schema: SchemaName): Promise<void> {
  await inTransaction(db, async (tx) => {
    // CREATE ... IF NOT EXISTS is not safe against a concurrent twin (it can still raise a
    // unique violation on the catalog), so the bootstrap alone is serialised by a lock.
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1::text))', [`chores.migrate.${schema}`]);
    await tx.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await tx.query(`CREATE TABLE IF NOT EXISTS ${qualified(schema, 'migrations')} (
      id integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
  });
}

async function applyOne(db: Db, schema: SchemaName, migration: Migration): Promise<boolean> {
  try {
    await inTransaction(db, async (tx) => {
      await tx.query(`SET LOCAL search_path TO "${schema}", public`);
      await tx.query(`INSERT INTO ${qualified(schema, 'migrations')} (id, name) VALUES ($1::int, $2::text)`, [
        migration.id,
        migration.name,
      ]);
      await tx.query(migration.sql);
    });
    return true;
  } catch (error) {
    // A concurrent runner recorded this migration first. Only that key counts: a unique violation
    // raised by the migration's own SQL is a real failure.
    if (hasPgCode(error, PgErrorCode.uniqueViolation) && (error as { constraint?: string }).constraint === 'migrations_pkey') return false;
    throw new Error(`migration ${migration.id}_${migration.name} failed: ${(error as Error).message}`, { cause: error });
  }
}
