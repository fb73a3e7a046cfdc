import { loadConfig, type Config } from '../shared/config.js';
import { ChoresError } from '../shared/errors.js';
import { appliedMigrationIds, loadMigrations, migrate, refuseNewerDatabase } from '../shared/db/migrate.js';
import { createPool, type Db } from '../shared/db/pool.js';
import { WEBHOOK_KEYS_SECRET_ENV } from '../shared/jobs.js';
import { encryptSecrets, type EncryptSecretsResult } from '../shared/outbox/encrypt-secrets.js';
import { withWebhookKeysFromSecret } from '../shared/outbox/key-secret.js';
import { LOCAL_DIR, openDatabase, type DatabaseTarget } from './local.js';
import { LocalJobs } from './run-job.js';
import { localSecretKeys } from './secret-keys.js';

export interface Session {
  target: DatabaseTarget;
  config: Config;
  db: Db;
  /** The jobs' real handlers, given this session's configuration. */
  jobs: LocalJobs;
  /** What the embedded database's schema step encrypted or re-sealed as the session opened. */
  sealed?: EncryptSecretsResult;
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
    // The deployed stack's keys when the environment names their secret (its WebhookKeysSecretArn output).
    const config = loadConfig(await withWebhookKeysFromSecret(sessionEnv(target)));
    const db = createPool(config.database, 4);
    const jobs = new LocalJobs(config, { verbose: process.argv.includes('--verbose') });
    try {
      let sealed: EncryptSecretsResult | undefined;
      if (options.checkSchema && target.local) sealed = (await migrateAndSeal(db, config)).secrets;
      else if (options.checkSchema) await requireCurrentSchema(db, config);
      return await work({ target, config, db, jobs, ...(sealed && { sealed }) });
    } finally {
      await jobs.close();
      await db.end();
    }
  } finally {
    await target.close();
  }
}

/** The environment the command's configuration is read from: this process's, pointed at the target database. */
function sessionEnv(target: DatabaseTarget): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env, DATABASE_URL: target.url };
  if (!target.local) return env;
  // The local stack's defaults: demo receivers listen on plain http on loopback.
  return {
    OUTBOX_ALLOW_HTTP: 'true',
    OUTBOX_ALLOWED_CIDRS: '127.0.0.0/8,::1/128',
    UPLOADS_STORAGE_URL: `file://${LOCAL_DIR}/uploads`,
    // A key of its own, kept under .chores/ (the environment's OUTBOX_SECRET_KEYS, or its secret, wins).
    ...(!env.OUTBOX_SECRET_KEYS && !env[WEBHOOK_KEYS_SECRET_ENV] && { OUTBOX_SECRET_KEYS: localSecretKeys() }),
    ...env,
  };
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
  const shipped = await loadMigrations();
  await refuseNewerDatabase(db, config.schema, applied, shipped);
  const missing = shipped.filter((m) => !applied.has(m.id));
  if (missing.length > 0) {
    throw new ChoresError(
      `schema "${config.schema}" is missing migrations ${missing.map((m) => `${m.id}_${m.name}`).join(', ')} — run \`chores migrate\``,
    );
  }
}
