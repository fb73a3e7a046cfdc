import type { Db } from '../db/pool.js';
import type { SchemaName } from '../db/identifiers.js';
import { SecretBox, type SecretKey } from './secrets.js';
import { resealEndpointSecrets, selectEndpointSecrets } from './sql.js';

export interface EncryptSecretsResult {
  /** Endpoints whose secrets were in plain text and are now encrypted. */
  encrypted: number;
  /** Endpoints whose secrets were under an older key and are now under the newest. */
  resealed: number;
  /** The key id everything is now sealed under. */
  keyId: string;
}

/**
 * Seals every endpoint secret (current and previous) under the newest key: plain-text rows from
 * before encryption, and rows under an older key after a rotation. Idempotent; safe beside running
 * deliveries (a row is replaced only if it still holds what was read). `chores migrate` runs it
 * whenever keys are configured; `chores endpoints encrypt-secrets` runs it by hand.
 *
 * @example await encryptSecrets(db, schema, config.outbox.secretKeys) // → { encrypted: 3, resealed: 0, keyId: 'k20261122' }
 */
export async function encryptSecrets(db: Db, schema: SchemaName, secretKeys: SecretKey[]): Promise<EncryptSecretsResult> {
  const box = new SecretBox(secretKeys);
  const keyId = box.currentKeyId;
  if (!keyId) box.seal(''); // throws, naming OUTBOX_SECRET_KEYS
  const result = { encrypted: 0, resealed: 0, keyId: keyId! };
  const { rows } = await db.query<{ id: string; secret: string; previous_secret: string | null }>(selectEndpointSecrets(schema));
  for (const row of rows) {
    const stale = [row.secret, row.previous_secret].filter((s): s is string => s !== null && box.needsResealing(s));
    if (stale.length === 0) continue;
    const reseal = (stored: string) => (box.needsResealing(stored) ? box.seal(box.open(stored, true)) : stored);
    const { rowCount } = await db.query(
      resealEndpointSecrets(schema, {
        id: row.id,
        secret: row.secret,
        previousSecret: row.previous_secret,
        newSecret: reseal(row.secret),
        newPreviousSecret: row.previous_secret === null ? null : reseal(row.previous_secret),
      }),
    );
    if (!rowCount) continue; // rotated meanwhile: the new values were sealed by whoever wrote them
    if (stale.some((s) => !s.startsWith('enc:'))) result.encrypted += 1;
    else result.resealed += 1;
  }
  return result;
}
