import { cleanupStore } from '../shared/results/cleanup.js';
import type { RedisClient } from '../shared/results/redis.js';
import { createJobHandler } from '../shared/runtime/handler.js';
import { handlerFromEnv, type JobRuntime } from '../shared/runtime/runtime.js';
import { openStorage } from '../shared/storage/open.js';

export function makeHandler(runtime: JobRuntime) {
  const { archive, redisUrl } = runtime.config.results;
  const archiveStorage = archive && openStorage(archive, undefined, runtime.tracing);
  // Celery's Redis backend instead of a table: one client per container, connected on first use.
  // Imported only then: the Redis client is the largest part of this function, and most stores are tables.
  let redis: RedisClient | undefined;

  return createJobHandler('results-cleanup', runtime, async ({ db, config, settings, budget, runId }) => {
    if (redisUrl) {
      const { cleanupRedisResults, connectRedis, redisClient } = await import('../shared/results/redis.js');
      redis ??= redisClient(redisUrl, (error) => runtime.logger.warn('Redis connection lost; reconnecting', { error }));
      await connectRedis(redis, redisUrl);
      const { rules } = config.results;
      return cleanupRedisResults({ redis, rules, settings, budget, runId, ...(archiveStorage && { archive: archiveStorage }) });
    }
    return cleanupStore({
      db,
      // Tables are detected each run: a Celery upgrade can change their columns between runs.
      store: config.results.store,
      storeSchema: config.results.storeSchema,
      rules: config.results.rules,
      settings,
      budget,
      runId,
      ...(archiveStorage && { archive: archiveStorage }),
    });
  });
}

export const handler = handlerFromEnv(process.env, makeHandler);
