import { join, resolve } from 'node:path';
import pg from 'pg';
import { startLocalPostgres } from '../shared/db/embedded.js';
import { ConfigError } from '../shared/errors.js';

/** Where `chores` keeps local state: the embedded database, demo uploads. Git-ignored. */
// Absolute: a relative CHORES_HOME made the demo uploads URL `file://relhome/uploads`, which every command refused.
export const LOCAL_DIR = resolve(process.env.CHORES_HOME ?? '.chores');
// Off the default 5432, so a developer's own Postgres is never touched.
const LOCAL_PORT = 54320;
const LOCAL_DATABASE = 'chores';

export interface DatabaseTarget {
  url: string;
  /** True when this is the embedded database under .chores/ (safe to migrate and seed freely). */
  local: boolean;
  close(): Promise<void>;
}

/**
 * `DATABASE_URL` when it is set; otherwise the embedded Postgres under `.chores/pg`, started on
 * demand and stopped when the command ends (unless another command was already running it).
 */
export async function openDatabase(env: NodeJS.ProcessEnv = process.env): Promise<DatabaseTarget> {
  if (env.DATABASE_URL) return { url: env.DATABASE_URL, local: false, close: async () => {} };
  const server = await startLocalPostgres({
    dataDir: join(LOCAL_DIR, 'pg'),
    port: portVariable(env, 'CHORES_LOCAL_PG_PORT', LOCAL_PORT),
    persistent: true,
    portVariable: 'CHORES_LOCAL_PG_PORT',
  });
  const admin = new pg.Client({ connectionString: server.urlFor('postgres') });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [LOCAL_DATABASE]);
    if (!rowCount) await admin.query(`CREATE DATABASE ${LOCAL_DATABASE}`);
  } finally {
    await admin.end();
  }
  return { url: server.urlFor(LOCAL_DATABASE), local: true, close: () => server.stop() };
}

/**
 * A port from one of the CLI's own variables, or an error naming it: `Number('abc')` reached the
 * server as NaN and failed with "Port should be >= 0 and < 65536", naming nothing. `min` 0 where
 * 0 means "any free port".
 */
export function portVariable(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 1): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < min || port > 65_535) {
    throw new ConfigError([`${name}: "${text}" is not a port — give a whole number from ${min} to 65535`]);
  }
  return port;
}
