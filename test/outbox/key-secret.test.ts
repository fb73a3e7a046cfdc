import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { Webhook } from 'standardwebhooks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { withSession } from '../../cli/session.js';
import { WEBHOOK_KEYS_SECRET_ENV } from '../../shared/jobs.js';
import { addEndpoint } from '../../shared/outbox/endpoints.js';
import { parseSecretKeys } from '../../shared/outbox/secrets.js';
import { schema, testDatabase } from '../helpers/db.js';
import { freshEntry, lambdaContext } from '../helpers/lambda.js';
import { publishEvents } from '../helpers/outbox.js';
import { startReceiver } from '../helpers/receiver.js';

const { db, url } = await testDatabase();
const receiver = await startReceiver();
const secretsManager = mockClient(SecretsManagerClient);
const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:chores/webhook-secret-keys-AbCdEf';
// What the stack's secret holds as deployed: Secrets Manager's 64 generated letters and digits.
const GENERATED = 'q7Rk2mXv9TzL4pWc8YhN3bGd6FsJ1aQe5VuK0oPi2tMx7ZrB9nCw4HyD8gLs3EfA';
const deployedEnv = { DATABASE_URL: url, OUTBOX_ALLOW_HTTP: 'true', OUTBOX_ALLOWED_CIDRS: '127.0.0.1/32', [WEBHOOK_KEYS_SECRET_ENV]: ARN };
const policy = { allowHttp: true, allowedCidrs: ['127.0.0.1/32'], secretKeys: parseSecretKeys(GENERATED) };

beforeEach(async () => {
  await db.query('TRUNCATE chores.outbox_events, chores.webhook_endpoints, chores.task_results CASCADE');
  receiver.received.length = 0;
  secretsManager.reset();
  secretsManager.on(GetSecretValueCommand, { SecretId: ARN }).resolves({ SecretString: GENERATED });
});

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("the deployed functions' webhook keys, read from the secret the stack generated", () => {
  it('let outbox-deliver sign with an endpoint secret sealed under them, the receiver verifying it', async () => {
    const { secret } = await addEndpoint(db, schema, policy, { url: receiver.url, eventTypes: [] });
    await publishEvents(db, [{ type: 'order.paid', payload: { orderId: 7 } }]);
    const handler = await freshEntry(() => import('../../functions/outbox-deliver.js'), deployedEnv);

    const stats = await handler({}, lambdaContext());
    const request = receiver.received[0]!;

    expect(stats).toMatchObject({ delivered: 1, failed: 0 });
    expect(() => new Webhook(secret).verify(request.body, request.headers as Record<string, string>)).not.toThrow();
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('let the migrate function seal a plain-text endpoint secret on deploy', async () => {
    await db.query(`INSERT INTO chores.webhook_endpoints (url, secret) VALUES ($1, 'whsec_cGxhaW4tdGV4dC1zZWNyZXQ=')`, [receiver.url]);
    const handler = await freshEntry(() => import('../../functions/migrate.js'), { DATABASE_URL: url, [WEBHOOK_KEYS_SECRET_ENV]: ARN });

    const result = await handler();
    const { rows } = await db.query('SELECT secret FROM chores.webhook_endpoints');

    expect(result).toMatchObject({ secrets: { encrypted: 1 } });
    expect(rows[0].secret).toMatch(new RegExp(`^enc:v1:${policy.secretKeys[0]!.id}:`));
  });

  it('fail the first invocation naming the variable and the secret when the secret cannot be read, and say nothing of its value', async () => {
    secretsManager.on(GetSecretValueCommand).rejects(new Error('User is not authorized to perform: secretsmanager:GetSecretValue'));
    const handler = await freshEntry(() => import('../../functions/outbox-deliver.js'), deployedEnv);

    const attempt = handler({}, lambdaContext());

    await expect(attempt).rejects.toThrow(
      `${WEBHOOK_KEYS_SECRET_ENV}: could not read the webhook keys from ${ARN}: User is not authorized to perform: secretsmanager:GetSecretValue`,
    );
  });

  it('are refused beside OUTBOX_SECRET_KEYS, rather than one of the two silently winning', async () => {
    const handler = await freshEntry(() => import('../../functions/outbox-deliver.js'), {
      ...deployedEnv,
      OUTBOX_SECRET_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
    });

    await expect(handler({}, lambdaContext())).rejects.toThrow(/OUTBOX_SECRET_KEYS and OUTBOX_SECRET_KEYS_SECRET_ARN are both set/);
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });
});

describe("the CLI, given the stack's WebhookKeysSecretArn output", () => {
  it('seals and opens with the deployed key, not a local one', async () => {
    vi.stubEnv('DATABASE_URL', url);
    vi.stubEnv(WEBHOOK_KEYS_SECRET_ENV, ARN);
    vi.stubEnv('AWS_REGION', 'us-east-1'); // the shell's region; the secret is in eu-west-1

    const ids = await withSession(async ({ config }) => config.outbox.secretKeys.map((k) => k.id));
    const [call] = secretsManager.commandCalls(GetSecretValueCommand);

    expect(ids).toEqual([policy.secretKeys[0]!.id]);
    expect(await call!.thisValue.config.region()).toBe('eu-west-1');
  });
});

describe('a generated key entry', () => {
  it('derives the same key and id every time, and keeps opening after a rotation puts a new key first', () => {
    const [generated] = parseSecretKeys(GENERATED);
    const rotated = parseSecretKeys(`k2:${Buffer.alloc(32, 2).toString('base64')},${GENERATED}`);

    expect(generated!.id).toMatch(/^gen-[0-9a-f]{12}$/);
    expect(parseSecretKeys(GENERATED)).toEqual([generated]);
    expect(rotated.map((k) => k.id)).toEqual(['k2', generated!.id]);
    expect(rotated[1]!.key.equals(generated!.key)).toBe(true);
    expect(generated!.key).toHaveLength(32);
  });

  it('is refused unless shaped as the stack generates it: a typed passphrase is not a key', () => {
    expect(() => parseSecretKeys('changemechangemechangemechangeme')).toThrow(/entry 1 is not <id>:<base64 of 32 random bytes>/);
    expect(() => parseSecretKeys(`${GENERATED}x`)).toThrow(/entry 1 is not/);
  });
});
