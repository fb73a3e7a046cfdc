import { loadConfig, type Config } from '../shared/config.js';
import { ChoresError } from '../shared/errors.js';
import { appliedMigrationIds, loadMigrations, migrate } from '../shared/db/migrate.js';
import { createPool, type Db } from '../shared/db/pool.js';
import { encryptSecrets } from '../shared/outbox/encrypt-secrets.js';
import { LOCAL_DIR, openDatabase, type DatabaseTarget } from './local.js';
import { ensureLocalSecretKeys } from './secret-keys.js';

export interface Session {
  target: DatabaseTarget;
  config: Config;
  db: Db;
}

/**
 * Opens the database a command works on and validates the configuration against it. The embedded
 * database is migrated on the spot; a real one must already be current (`chores migrate`), so a
 * command never changes a shared schema as a side effect.
 */
export async function withSession<T>(
  work: (session: Session) => Promise<T>,
  options: { checkSchema: boolean } = { checkSchema: true },
): Promise<T> {
  const target = await openDatabase();
  try {
    // Handlers build their own config from process.env; point them at the same database.
    process.env.DATABASE_URL = target.url;
    if (target.local) {
      // The local stack's defaults: demo receivers listen on plain http on loopback.
      process.env.OUTBOX_ALLOW_HTTP ??= 'true';
      process.env.OUTBOX_ALLOWED_CIDRS ??= '127.0.0.0/8,::1/128';
      process.env.UPLOADS_STORAGE_URL ??= `file://${LOCAL_DIR}/uploads`;
      ensureLocalSecretKeys();
    }
    const config = loadConfig(process.env);
    const db = createPool(config.database, 4);
    try {
      if (options.checkSchema && target.local) await migrateAndSeal(db, config);
      else if (options.checkSchema) await requireCurrentSchema(db, config);
      return await work({ target, config, db });
    } finally {
      await db.end();
    }
  } finally {
    await target.close();
  }
}

/**
 * Migrations, then the step SQL cannot do: encrypting plain-text webhook secrets (and re-sealing
 * those under older keys) with the newest key, when keys are configured.
 */
export async function migrateAndSeal(db: Db, config: Config) {
  const result = await migrate(db, config.schema);
  const secrets = config.outbox.secretKeys.length > 0 ? await encryptSecrets(db, config.schema, config.outbox.secretKeys) : undefined;
  return { ...result, ...(secrets && { secrets }) };
}

async function requireCurrentSchema(db: Db, config: Config): Promise<void> {
  const applied = await appliedMigrationIds(db, config.schema);
  const missing = (await loadMigrations()).filter((m) => !applied.has(m.id));
  if (missing.length > 0) {
    throw new ChoresError(
      `schema "${config.schema}" is missing migrations ${missing.map((m) => `${m.id}_${m.name}`).join(', ')} — run \`chores migrate\``,
    );
  }
}
