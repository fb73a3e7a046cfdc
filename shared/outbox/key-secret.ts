import { ConfigError } from '../errors.js';
import { WEBHOOK_KEYS_SECRET_ENV } from '../jobs.js';
import type { Tracing } from '../tracing/port.js';

/** Reads a secret's string value by ARN (Secrets Manager's GetSecretValue, unless a test gives its own). */
export type SecretReader = (arn: string) => Promise<string>;

/**
 * The environment with OUTBOX_SECRET_KEYS filled in from Secrets Manager when it names the secret
 * instead (WEBHOOK_KEYS_SECRET_ENV, the ARN): the deployed stack keeps the keys in a secret and
 * gives the functions, and through its `WebhookKeysSecretArn` output the CLI, only its ARN. The
 * value goes into the returned copy, never into process.env, and is validated by the configuration
 * exactly as if it had been set directly (the stack's generated value is a valid key list). Without
 * the ARN, `env` is returned as it is and no AWS client is loaded.
 *
 * @example const config = loadConfig(await withWebhookKeysFromSecret(process.env))
 */
export async function withWebhookKeysFromSecret(
  env: Record<string, string | undefined>,
  read: SecretReader = secretsManagerReader(),
): Promise<Record<string, string | undefined>> {
  const arn = env[WEBHOOK_KEYS_SECRET_ENV];
  if (!arn) return env;
  if (env.OUTBOX_SECRET_KEYS) {
    throw new ConfigError([`OUTBOX_SECRET_KEYS and ${WEBHOOK_KEYS_SECRET_ENV} are both set: keep one (the secret's ARN, deployed)`]);
  }
  let keys: string;
  try {
    keys = await read(arn);
  } catch (error) {
    // The ARN names the secret, not its value: safe to show, and what the operator must check.
    throw new ConfigError([
      `${WEBHOOK_KEYS_SECRET_ENV}: could not read the webhook keys from ${arn}: ${(error as Error).message} ` +
        '(the function needs secretsmanager:GetSecretValue on it, and a route to Secrets Manager)',
    ]);
  }
  return { ...env, OUTBOX_SECRET_KEYS: keys };
}

/** GetSecretValue through the AWS SDK, loaded on first use: only outbox-deliver and migrate read the secret. */
export function secretsManagerReader(tracing?: Tracing): SecretReader {
  return async (arn) => {
    const { GetSecretValueCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
    // The secret's own region (arn:aws:secretsmanager:<region>:…): a CLI may have none configured.
    const region = arn.split(':')[3];
    const plain = new SecretsManagerClient(region ? { region } : {});
    const client = tracing ? tracing.awsClient(plain) : plain;
    try {
      const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: arn }));
      if (!SecretString) throw new Error('the secret has no string value');
      return SecretString;
    } finally {
      client.destroy();
    }
  };
}
