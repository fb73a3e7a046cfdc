import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { loadConfig, type Config } from '../config.js';
import { createPool, type Db } from '../db/pool.js';
import { loadTracing, noTracing, type Tracing } from '../tracing/tracing.js';
import { METRICS_NAMESPACE } from './metrics.js';

/** What a handler needs from its process: validated config, a pool, and Powertools. */
export interface JobRuntime {
  config: Config;
  db: Db;
  logger: Logger;
  metrics: Metrics;
  /** X-Ray subsegments in a traced Lambda; absent (or `noTracing`) everywhere else. */
  tracing?: Tracing;
}

/**
 * Builds the runtime from an environment, once per process (Lambda init). Throws a `ConfigError`
 * naming each bad variable, so a misconfigured function fails at init rather than at 3 a.m.
 * With `tracing`, the pool's statements are subsegments.
 */
export function runtimeFromEnv(env: Record<string, string | undefined>, tracing: Tracing = noTracing): JobRuntime {
  const config = loadConfig(env);
  return {
    config,
    db: createPool(config.database, undefined, tracing.pgClient),
    logger: new Logger({ serviceName: 'chores' }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'chores' }),
    tracing,
  };
}

type Handler<Result> = (event: unknown, context: Context) => Promise<Result>;
type Env = Record<string, string | undefined>;

/**
 * A Lambda entry's `handler`: `make` given the runtime built from `env`, once per container, on the
 * first invocation. Importing the entry thus reads no environment, so the CLI can import the same
 * module and hand its `makeHandler` a runtime of its own. A bad variable fails that first
 * invocation with the `ConfigError` naming it, and every later one until it is fixed. In a traced
 * Lambda the Tracer is loaded then too (see `loadTracing`), before anything it should record.
 * `resolve` completes the environment first, where a job needs a value read at run time (outbox-deliver's
 * webhook keys, from Secrets Manager): only the entries that pass it bundle what it loads.
 *
 * @example export const handler = handlerFromEnv(process.env, makeHandler)
 */
export function handlerFromEnv<Result>(
  env: Env,
  make: (runtime: JobRuntime) => Handler<Result>,
  resolve: (env: Env, tracing: Tracing) => Promise<Env> = async (same) => same,
): Handler<Result> {
  let built: Promise<Handler<Result>> | undefined;
  return async (event, context) => {
    built ??= loadTracing(env)
      .then(async (tracing) => make(runtimeFromEnv(await resolve(env, tracing), tracing)))
      .catch((error: unknown) => {
        built = undefined; // tried again on the next invocation, failing the same way until fixed
        throw error;
      });
    return (await built)(event, context);
  };
}
