import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { EmbeddedPostgresError, postgresBinaries, serverUser, type ServerUser } from './embedded-host.js';

export { EmbeddedPostgresError } from './embedded-host.js';

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
  /** The variable that moves the port, named in the message when the port is taken. */
  portVariable?: string;
}

// Local-only credentials: the server listens on 127.0.0.1 and exists for development and tests.
const USER = 'postgres';
const PASSWORD = 'chores-local';
// initdb and a cold start take 1–3 s here; a minute covers a loaded 2-core machine.
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

/**
 * Starts Postgres from the embedded binaries in `dataDir`, initialising it on first use. If this
 * same data directory is already served on `port` (another `chores` command holds it), that server
 * is reused; a different server on the port is refused with a message saying what to do.
 *
 * @example const local = await startLocalPostgres({ dataDir: '.chores/pg', port: 54320, persistent: true })
 */
export async function startLocalPostgres(options: LocalPostgresOptions): Promise<LocalPostgres> {
  const dataDir = resolve(options.dataDir);
  const urlFor = (database: string) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${encodeURIComponent(database)}`;
  if (await portIsOpen(options.port)) {
    await requireSameServer(urlFor('postgres'), dataDir, options);
    return { urlFor, stop: async () => {} };
  }
  const user = await serverUser(dataDir);
  const binaries = await postgresBinaries();
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await initialise(binaries.initdb, dataDir, user);
  const server = await startServer(binaries.postgres, dataDir, options, user);
  return {
    urlFor,
    stop: async () => {
      await server.stop();
      if (!options.persistent) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function portIsOpen(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = connect({ host: '127.0.0.1', port });
    const settle = (open: boolean) => {
      socket.destroy();
      resolvePromise(open);
    };
    socket.once('connect', () => settle(true));
    socket.once('error', () => settle(false));
    socket.setTimeout(1_000, () => settle(false));
  });
}

/** Reuse only the server of this data directory: another checkout's database must not be used silently. */
async function requireSameServer(url: string, dataDir: string, options: LocalPostgresOptions): Promise<void> {
  const moveIt = options.portVariable ? `, or set ${options.portVariable} to a free port` : '';
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  client.on('error', () => {}); // a server going away mid-check is reported by the query below
  let served: string;
  try {
    await client.connect();
    served = (await client.query<{ data_directory: string }>('SHOW data_directory')).rows[0]!.data_directory;
  } catch {
    throw new EmbeddedPostgresError(
      `port ${options.port} on 127.0.0.1 is in use by another program, not this embedded Postgres: free it${moveIt}`,
    );
  } finally {
    await client.end().catch(() => {});
  }
  if (canonical(served) !== canonical(dataDir)) {
    throw new EmbeddedPostgresError(
      `port ${options.port} is served by another embedded Postgres (data in ${served}), not this one (${dataDir}): stop the chores using it${moveIt}`,
    );
  }
}

function canonical(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

async function initialise(initdb: string, dataDir: string, user: ServerUser | undefined): Promise<void> {
  await mkdir(dirname(dataDir), { recursive: true }); // parents stay searchable by the server's user
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // The password reaches initdb through a file only the server's user can read, removed right after.
  const secretDir = await mkdtemp(join(tmpdir(), 'chores-initdb-'));
  const passwordFile = join(secretDir, 'password');
  try {
    await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    if (user) {
      for (const path of [dataDir, secretDir, passwordFile]) await chown(path, user.uid, user.gid);
    }
    await chmod(dataDir, 0o700);
    const args = [
      `--pgdata=${dataDir}`,
      '--auth=scram-sha-256',
      `--username=${USER}`,
      `--pwfile=${passwordFile}`,
      '--encoding=UTF8',
      '--locale=C',
    ];
    await runToCompletion(initdb, args, user, 'initdb');
  } finally {
    await rm(secretDir, { recursive: true, force: true });
  }
}

function runToCompletion(command: string, args: string[], user: ServerUser | undefined, label: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { ...identity(user), stdio: ['ignore', 'ignore', 'pipe'], env: serverEnv() });
    const output = tail(child);
    child.once('error', (error) => reject(new EmbeddedPostgresError(`${label} could not start: ${error.message}`, { cause: error })));
    child.once('exit', (code) => {
      if (code === 0) resolvePromise();
      else reject(new EmbeddedPostgresError(`${label} failed (exit ${code}): ${output().at(-1) ?? 'no output'}`));
    });
  });
}

async function startServer(postgres: string, dataDir: string, options: LocalPostgresOptions, user: ServerUser | undefined) {
  const args = ['-D', dataDir, '-p', String(options.port), '-c', 'listen_addresses=127.0.0.1', ...(options.postgresFlags ?? [])];
  // Detached: the terminal's Ctrl-C goes to our process group, not to Postgres, so a running job
  // can finish and record itself before we stop the server ourselves.
  const child = spawn(postgres, args, { ...identity(user), detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: serverEnv() });
  const output = tail(child);
  const exited = new Promise<number | null>((resolvePromise) => child.once('exit', (code) => resolvePromise(code)));
  // If this process ends without stopping the server (an uncaught error, process.exit), stop it
  // anyway: a synchronous signal is all an 'exit' listener can do, and it is enough for a fast shutdown.
  const stopOnExit = () => signal(child, 'SIGINT');
  process.on('exit', stopOnExit);
  try {
    await waitUntilReady(child, output, exited);
  } catch (error) {
    signal(child, 'SIGKILL');
    process.off('exit', stopOnExit);
    throw error;
  }
  return {
    stop: async () => {
      process.off('exit', stopOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      signal(child, 'SIGINT'); // fast shutdown: roll back open transactions, checkpoint, exit
      const timer = setTimeout(() => signal(child, 'SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

function waitUntilReady(child: ChildProcess, output: () => string[], exited: Promise<number | null>): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(
      () => reject(new EmbeddedPostgresError(`Postgres did not start within ${START_TIMEOUT_MS / 1000} s: ${output().at(-1)}`)),
      START_TIMEOUT_MS,
    );
    const onData = (chunk: Buffer) => {
      if (!chunk.toString('utf8').includes('ready to accept connections')) return;
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      resolvePromise();
    };
    child.stderr?.on('data', onData);
    child.once('error', (error) => reject(new EmbeddedPostgresError(`Postgres could not start: ${error.message}`, { cause: error })));
    void exited.then((code) => {
      clearTimeout(timer);
      const last =
        output()
          .filter((line) => /FATAL|ERROR/.test(line))
          .at(-1) ??
        output().at(-1) ??
        'no output';
      reject(new EmbeddedPostgresError(`Postgres exited during start (code ${code}): ${last}`));
    });
  });
}

/** Keeps the child's stderr drained (a full pipe would stall its logging) and its last lines for errors. */
function tail(child: ChildProcess): () => string[] {
  const lines: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    lines.splice(0, Math.max(0, lines.length - 20));
  });
  return () => lines;
}

function identity(user: ServerUser | undefined): { uid?: number; gid?: number } {
  return user ? { uid: user.uid, gid: user.gid } : {};
}

/** English server messages: readiness is detected from the log line. */
function serverEnv(): NodeJS.ProcessEnv {
  return { ...process.env, LC_MESSAGES: 'C', LC_ALL: 'C' };
}

function signal(child: ChildProcess, name: NodeJS.Signals): void {
  try {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
  } catch {
    // already gone
  }
}

/**
 * A Postgres server to make throwaway databases on (the test run, a benchmark): `existingUrl`'s
 * server when given (it needs CREATEDB), otherwise an embedded one in a temp dir on a free
 * loopback port, removed on stop.
 */
export async function scratchServer(options: {
  existingUrl: string | undefined;
  label: string;
  postgresFlags?: string[];
}): Promise<{ adminUrl: string; stop(): Promise<void> }> {
  if (options.existingUrl) return { adminUrl: options.existingUrl, stop: async () => {} };
  const dataDir = await mkdtemp(join(tmpdir(), `chores-${options.label}-pg-`));
  try {
    // A free port can be taken by someone else between our probe and Postgres' bind: try again.
    for (let attempt = 1; ; attempt++) {
      try {
        const port = await freeLoopbackPort();
        const server = await startLocalPostgres({ dataDir, port, persistent: false, postgresFlags: options.postgresFlags ?? [] });
        return { adminUrl: server.urlFor('postgres'), stop: () => server.stop() };
      } catch (error) {
        if (attempt >= 3 || !/could not create any TCP\/IP sockets/.test((error as Error).message)) throw error;
      }
    }
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
}

/** A port nobody listens on right now, on 127.0.0.1. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolvePromise(port));
    });
    probe.once('error', reject);
  });
}

/** The same server's URL for another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
