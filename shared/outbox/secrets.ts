import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { SecretKeyError } from './errors.js';

/**
 * Webhook signing secrets at rest: AES-256-GCM under a key from OUTBOX_SECRET_KEYS, stored as
 * `enc:v1:<key id>:<base64 of iv | ciphertext | tag>`. A dump or a read replica of the database
 * alone cannot sign a webhook. Several keys may be configured: the first (newest) seals, every one
 * opens, so a key is rotated by putting a new one first, running `chores endpoints encrypt-secrets`
 * (which re-seals every row under it), then removing the old one.
 */
export interface SecretKey {
  id: string;
  key: Buffer;
}

const PREFIX = 'enc:v1:';
const KEY_BYTES = 32;
const IV_BYTES = 12; // GCM's standard nonce; random per seal, so a key can seal 2^32 secrets safely
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
// What the deployed stack's secret holds until an operator rotates it: Secrets Manager generates
// 64 letters and digits (it cannot generate `<id>:<base64>`), ~380 bits, taken as key material.
// Exactly that shape, so a typed passphrase is refused rather than taken for a key.
const GENERATED_MATERIAL = /^[A-Za-z0-9]{64}$/;

/**
 * Parses `id:base64key,id:base64key` (newest first); throws naming the bad entry. An entry may also
 * be key material as the stack's secret is generated (64 letters and digits, no id): its key
 * is derived from it (HKDF-SHA256) and its id is `gen-` and the key's fingerprint, the same every
 * time, so a rotation keeps it in the list as it is, after the new entry.
 */
export function parseSecretKeys(text: string): SecretKey[] {
  const keys: SecretKey[] = [];
  for (const [index, entry] of text
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)
    .entries()) {
    const parsed = GENERATED_MATERIAL.test(entry) ? derivedKey(entry) : keyEntry(entry);
    if (!parsed) {
      // The message never quotes the entry: it is key material.
      throw new Error(`entry ${index + 1} is not <id>:<base64 of 32 random bytes> (make one with \`chores endpoints new-secret-key\`)`);
    }
    if (keys.some((k) => k.id === parsed.id)) throw new Error(`key id "${parsed.id}" appears twice`);
    keys.push(parsed);
  }
  return keys;
}

function keyEntry(entry: string): SecretKey | undefined {
  const at = entry.indexOf(':');
  const id = entry.slice(0, at);
  const key = Buffer.from(entry.slice(at + 1), 'base64');
  return at < 1 || !KEY_ID.test(id) || key.length !== KEY_BYTES ? undefined : { id, key };
}

function derivedKey(material: string): SecretKey {
  const key = Buffer.from(hkdfSync('sha256', material, '', 'chores:webhook-secret-keys', KEY_BYTES));
  return { id: `gen-${createHash('sha256').update(key).digest('hex').slice(0, 12)}`, key };
}

/** A new key entry for OUTBOX_SECRET_KEYS, e.g. `k20261122:…`. */
export function newSecretKey(id = `k${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`): string {
  return `${id}:${randomBytes(KEY_BYTES).toString('base64')}`;
}

export function isSealed(stored: string): boolean {
  return stored.startsWith(PREFIX);
}

export class SecretBox {
  constructor(private readonly keys: SecretKey[]) {}

  /** The key id new secrets are sealed under, if any key is configured. */
  get currentKeyId(): string | undefined {
    return this.keys[0]?.id;
  }

  seal(secret: string): string {
    const current = this.keys[0];
    if (!current) {
      throw new SecretKeyError(
        'OUTBOX_SECRET_KEYS is not set: webhook secrets are stored only encrypted (make a key with `chores endpoints new-secret-key`)',
      );
    }
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', current.key, iv).setAAD(aad(current.id));
    const sealed = Buffer.concat([iv, cipher.update(secret, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${PREFIX}${current.id}:${sealed.toString('base64')}`;
  }

  /**
   * The plain secret. A legacy plain-text secret (`whsec_…`, written before encryption) is accepted
   * only while no key is configured; once one is, `chores migrate` encrypts such rows, and one
   * found later is refused so that it cannot stay in plain text unnoticed.
   */
  open(stored: string, acceptPlainText = this.keys.length === 0): string {
    if (!isSealed(stored)) {
      if (acceptPlainText) return stored;
      throw new SecretKeyError('the endpoint secret is stored in plain text; run `chores endpoints encrypt-secrets` to encrypt it');
    }
    const rest = stored.slice(PREFIX.length);
    const id = rest.slice(0, rest.indexOf(':'));
    const key = this.keys.find((k) => k.id === id);
    if (!key) throw new SecretKeyError(`the endpoint secret is encrypted under key "${id}", which is not in OUTBOX_SECRET_KEYS`);
    const sealed = Buffer.from(rest.slice(id.length + 1), 'base64');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.key, sealed.subarray(0, IV_BYTES)).setAAD(aad(id));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch (error) {
      throw new SecretKeyError(`the endpoint secret does not decrypt under key "${id}" (wrong key material, or the value was altered)`, {
        cause: error,
      });
    }
  }

  /** True for a plain-text secret, or one sealed under a key other than the newest. */
  needsResealing(stored: string): boolean {
    return this.keys.length > 0 && !stored.startsWith(`${PREFIX}${this.keys[0]!.id}:`);
  }
}

// Binds a ciphertext to its purpose and key id: it cannot be replayed as another kind of value.
function aad(keyId: string): Buffer {
  return Buffer.from(`chores:webhook-secret:${keyId}`);
}
