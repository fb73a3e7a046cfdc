import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { loadConfig, type Config } from '../config.js';
import { createPool, type Db } from '../db/pool.js';
import { METRICS_NAMESPACE } from './metrics.js';

/** What a handler needs from its process: validated config, a pool, and Powertools. */
export interface JobRuntime {
  config: Config;
  db: Db;
  logger: Logger;
  metrics: Metrics;
}

/**
 * Builds the runtime from an environment, once per process (Lambda init). Throws a `ConfigError`
 * naming each bad variable, so a misconfigured function fails at init rather than at 3 a.m.
 */
export function runtimeFromEnv(env: Record<string, string | undefined>): JobRuntime {
  const config = loadConfig(env);
  return {
    config,
    db: createPool(config.database),
    logger: new Logger({ serviceName: 'chores' }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'chores' }),
  };
}
