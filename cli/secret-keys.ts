import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newSecretKey, SecretBox, type SecretKey } from '../shared/outbox/secrets.js';
import { LOCAL_DIR } from './local.js';

const KEY_FILE = join(LOCAL_DIR, 'secret-keys');

/**
 * The local stack's OUTBOX_SECRET_KEYS: generated once under .chores/ (readable by its owner only).
 * The environment's OUTBOX_SECRET_KEYS wins when set; the deployed stack keeps its key in Secrets Manager.
 */
export function localSecretKeys(): string {
  mkdirSync(LOCAL_DIR, { recursive: true });
  try {
    writeFileSync(KEY_FILE, `${newSecretKey('local1')}\n`, { mode: 0o600, flag: 'wx' }); // 'wx': two first runs keep one key
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return readFileSync(KEY_FILE, 'utf8').trim();
}

/** Seals and opens secrets with the keys the command runs with (for the demo endpoint). */
export function cliSecretBox(keys: SecretKey[]): SecretBox {
  return new SecretBox(keys);
}
