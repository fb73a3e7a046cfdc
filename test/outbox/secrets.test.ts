import { createHmac } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config.js';
import { encryptSecrets } from '../../shared/outbox/encrypt-secrets.js';
import { addEndpoint, rotateSecret } from '../../shared/outbox/endpoints.js';
import { parseSecretKeys, SecretBox } from '../../shared/outbox/secrets.js';
import { sweepOutbox } from '../../shared/outbox/service.js';
import { schema, testDatabase } from '../helpers/db.js';
import { addTestEndpoint, deliveryRows, outboxDeps, publishEvents } from '../helpers/outbox.js';
import { startReceiver } from '../helpers/receiver.js';

const { db, url } = await testDatabase();
const receiver = await startReceiver();
const K1 = `k1:${Buffer.alloc(32, 1).toString('base64')}`;
const K2 = `k2:${Buffer.alloc(32, 2).toString('base64')}`;
const withK1 = outboxDeps(db, url, { OUTBOX_SECRET_KEYS: K1 });
const policy = { allowHttp: true, allowedCidrs: ['127.0.0.1/32'], secretKeys: parseSecretKeys(K1) };

/** The Standard Webhooks signature, computed here from the spec rather than by our code. */
function signatureOf(secret: string, headers: Record<string, string>, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`).digest('base64')}`;
}

async function storedSecrets(): Promise<string[]> {
  const { rows } = await db.query('SELECT secret, previous_secret FROM chores.webhook_endpoints ORDER BY id');
  return rows.flatMap((r) => [r.secret, r.previous_secret]).filter(Boolean);
}

beforeEach(async () => {
  await db.query('TRUNCATE chores.outbox_events, chores.webhook_endpoints CASCADE');
  receiver.received.length = 0;
});

describe('webhook secrets at rest', () => {
  it('are stored encrypted, yet every webhook still verifies with the secret the receiver was given', async () => {
    const { secret } = await addEndpoint(db, schema, policy, { url: receiver.url, eventTypes: [] });
    await publishEvents(db, [{ type: 'order.paid', payload: { orderId: 1 } }]);

    await sweepOutbox(withK1);
    const request = receiver.received[0]!;
    const { rows } = await db.query('SELECT t::text AS row FROM chores.webhook_endpoints t');

    expect(secret).toMatch(/^whsec_/);
    expect(await storedSecrets()).toEqual([expect.stringMatching(/^enc:v1:k1:[A-Za-z0-9+/=]+$/)]);
    expect(rows[0].row).not.toContain('whsec_');
    expect(rows[0].row).not.toContain(secret.slice('whsec_'.length));
    expect(request.headers['webhook-signature']).toBe(signatureOf(secret, request.headers as Record<string, string>, request.body));
  });

  it('cannot sign from a dump of the database alone: without the key nothing is sent, and the reason is kept', async () => {
    await addEndpoint(db, schema, policy, { url: receiver.url, eventTypes: [] });
    await publishEvents(db, [{ type: 'x', payload: {} }]);
    const noKey = outboxDeps(db, url, { OUTBOX_SECRET_KEYS: K2 });

    await sweepOutbox(noKey);
    const [delivery] = await deliveryRows(db);

    expect(receiver.received).toEqual([]);
    expect(delivery).toMatchObject({
      status: 'pending',
      last_error: 'the endpoint secret is encrypted under key "k1", which is not in OUTBOX_SECRET_KEYS',
    });
  });

  it('keep both signatures during a rotation, each secret sealed', async () => {
    const { id, secret: old } = await addEndpoint(db, schema, policy, { url: receiver.url, eventTypes: [] });
    const { secret: fresh } = await rotateSecret(db, schema, policy.secretKeys, id);
    await publishEvents(db, [{ type: 'x', payload: {} }]);

    await sweepOutbox(withK1);
    const request = receiver.received[0]!;
    const headers = request.headers as Record<string, string>;

    expect(await storedSecrets()).toEqual([expect.stringMatching(/^enc:v1:k1:/), expect.stringMatching(/^enc:v1:k1:/)]);
    expect(headers['webhook-signature']!.split(' ')).toEqual([
      signatureOf(fresh, headers, request.body),
      signatureOf(old, headers, request.body),
    ]);
  });
});

describe('encrypting existing secrets and rotating the key', () => {
  it('refuses to sign with a plain-text secret once a key is set, until encrypt-secrets seals it', async () => {
    const legacy = await addTestEndpoint(db, receiver.url); // written in plain text, as before encryption
    await publishEvents(db, [{ type: 'x', payload: {} }]);

    await sweepOutbox(withK1);
    const [refused] = await deliveryRows(db);
    const sealed = await encryptSecrets(db, schema, policy.secretKeys);
    await db.query(`UPDATE chores.webhook_deliveries SET next_attempt_at = now()`);
    await sweepOutbox(withK1);
    const request = receiver.received[0]!;

    expect(refused.last_error).toBe('the endpoint secret is stored in plain text; run `chores endpoints encrypt-secrets` to encrypt it');
    expect(sealed).toEqual({ encrypted: 1, resealed: 0, keyId: 'k1' });
    expect(await storedSecrets()).toEqual([expect.stringMatching(/^enc:v1:k1:/)]);
    expect(receiver.received).toHaveLength(1);
    expect(request.headers['webhook-signature']).toBe(signatureOf(legacy.secret, request.headers as Record<string, string>, request.body));
    expect(await encryptSecrets(db, schema, policy.secretKeys)).toEqual({ encrypted: 0, resealed: 0, keyId: 'k1' }); // idempotent
  });

  it('re-seals every secret under the newest key, after which the old key can go', async () => {
    const { secret } = await addEndpoint(db, schema, policy, { url: receiver.url, eventTypes: [] });
    await publishEvents(db, [{ type: 'x', payload: {} }]);

    const rotated = await encryptSecrets(db, schema, parseSecretKeys(`${K2},${K1}`));
    await sweepOutbox(outboxDeps(db, url, { OUTBOX_SECRET_KEYS: K2 })); // k1 removed
    const request = receiver.received[0]!;

    expect(rotated).toEqual({ encrypted: 0, resealed: 1, keyId: 'k2' });
    expect(await storedSecrets()).toEqual([expect.stringMatching(/^enc:v1:k2:/)]);
    expect(request.headers['webhook-signature']).toBe(signatureOf(secret, request.headers as Record<string, string>, request.body));
  });

  it('detects a tampered ciphertext instead of signing with garbage', () => {
    const box = new SecretBox(parseSecretKeys(K1));
    const sealed = box.seal('whsec_abc');
    const tampered = sealed.slice(0, -6) + (sealed.at(-6) === 'A' ? 'B' : 'A') + sealed.slice(-5);

    expect(box.open(sealed)).toBe('whsec_abc');
    expect(() => box.open(tampered)).toThrow(/does not decrypt under key "k1"/);
  });

  it('rejects a malformed OUTBOX_SECRET_KEYS naming the variable, never echoing key material', () => {
    const attempt = () => loadConfig({ DATABASE_URL: 'postgres://x@localhost/db', OUTBOX_SECRET_KEYS: 'k1:c2hvcnQta2V5LW1hdGVyaWFs' });

    expect(attempt).toThrow(/OUTBOX_SECRET_KEYS: entry 1 is not <id>:<base64 of 32 random bytes>/);
    expect(attempt).not.toThrow(/c2hvcnQ/);
  });
});
