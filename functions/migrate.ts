import { Logger } from '@aws-lambda-powertools/logger';
import { loadConfig } from '../shared/config.js';
import { migrate } from '../shared/db/migrate.js';
import { createPool } from '../shared/db/pool.js';
import { encryptSecrets } from '../shared/outbox/encrypt-secrets.js';

// Deploy machinery, not a job: the stack's trigger runs this before the jobs on every deploy whose
// bundle (and so whose migrations) changed. Concurrent runs are safe (see migrate()).
const config = loadConfig(process.env);
const db = createPool(config.database, 2);
const logger = new Logger({ serviceName: 'chores' });

export const handler = async () => {
  const result = await migrate(db, config.schema);
  // SQL cannot encrypt with an application key: plain-text secrets are sealed here, before the
  // job functions (which refuse them once keys are set) are updated.
  const secrets = config.outbox.secretKeys.length > 0 ? await encryptSecrets(db, config.schema, config.outbox.secretKeys) : undefined;
  logger.info('migrations applied', { ...result, ...(secrets && { secrets }) });
  return { ...result, ...(secrets && { secrets }) };
};
