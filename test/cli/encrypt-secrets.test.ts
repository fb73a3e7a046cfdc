import { execFile } from 'node:child_process';
import { chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { freeLoopbackPort, startLocalPostgres } from '../../shared/db/embedded.js';
import { tempDir } from '../helpers/temp.js';

const BIN = join(import.meta.dirname, '../../bin/chores.mjs');
const home = await tempDir('chores-reseal-home-');
// As root, Postgres runs as its own user, which must be able to reach its data directory.
await chmod(home, 0o755);
const pgPort = await freeLoopbackPort();
const { DATABASE_URL: _ignored, OUTBOX_SECRET_KEYS: _keys, ...inherited } = process.env; // the embedded database
const env = { ...inherited, CHORES_HOME: home, CHORES_LOCAL_PG_PORT: String(pgPort) };
const chores = async (args: string[], extra: Record<string, string> = {}) =>
  (await promisify(execFile)('node', [BIN, ...args], { env: { ...env, ...extra }, timeout: 90_000 })).stdout.trim();

/** The key each endpoint secret is sealed under, read from the embedded database the CLI uses. */
async function sealedUnder(): Promise<string[]> {
  const server = await startLocalPostgres({ dataDir: join(home, 'pg'), port: pgPort, persistent: true });
  const client = new pg.Client({ connectionString: server.urlFor('chores') });
  await client.connect();
  try {
    const { rows } = await client.query<{ key: string }>(`SELECT split_part(secret, ':', 3) AS key FROM chores.webhook_endpoints`);
    return rows.map((row) => row.key);
  } finally {
    await client.end();
    await server.stop();
  }
}

describe('chores endpoints encrypt-secrets on the embedded database', () => {
  // Four cold starts of the embedded Postgres (one with initdb).
  it('reports the secrets it re-sealed under the new key, not 0', { timeout: 180_000 }, async () => {
    await chores(['endpoints', 'add', '--url', 'https://example.com/hooks']);
    const oldKeys = (await readFile(join(home, 'secret-keys'), 'utf8')).trim();
    const newKey = await chores(['endpoints', 'new-secret-key', '--id', 'k2']);

    const result = JSON.parse(await chores(['endpoints', 'encrypt-secrets', '--json'], { OUTBOX_SECRET_KEYS: `${newKey},${oldKeys}` }));

    expect(result).toEqual({ encrypted: 0, resealed: 1, keyId: 'k2' });
    expect(await sealedUnder()).toEqual(['k2']);
  });
});
