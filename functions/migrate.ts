import { Logger } from '@aws-lambda-powertools/logger';
import { loadConfig, type Config } from '../shared/config.js';
import { migrate } from '../shared/db/migrate.js';
import { createPool, type Db } from '../shared/db/pool.js';
import { encryptSecrets } from '../shared/outbox/encrypt-secrets.js';
import { withWebhookKeysFromSecret } from '../shared/outbox/key-secret.js';

// Deploy machinery, not a job: the stack's trigger runs this before the jobs on every deploy whose
// bundle (and so whose migrations) changed. Concurrent runs are safe (see migrate()).
const logger = new Logger({ serviceName: 'chores' });
// Built on the first invocation: the webhook keys are read from Secrets Manager, which takes a call.
let ready: Promise<{ config: Config; db: Db }> | undefined;

export const handler = async () => {
  ready ??= withWebhookKeysFromSecret(process.env)
    .then((env) => {
      const config = loadConfig(env);
      return { config, db: createPool(config.database, 2) };
    })
    .catch((error: unknown) => {
      ready = undefined; // tried again on the next invocation
      throw error;
    });
  const { config, db } = await ready;
  const result = await migrate(db, config.schema);
  // SQL cannot encrypt with an application key: plain-text secrets are sealed here, before the
  // job functions (which refuse them once keys are set) are updated.
  const secrets = config.outbox.secretKeys.length > 0 ? await encryptSecrets(db, config.schema, config.outbox.secretKeys) : undefined;
  logger.info('migrations applied', { ...result, ...(secrets && { secrets }) });
  return { ...result, ...(secrets && { secrets }) };
};
