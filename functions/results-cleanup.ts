import { cleanupStore } from '../shared/results/cleanup.js';
import { cleanupRedisResults, redisClient } from '../shared/results/redis.js';
import { createJobHandler } from '../shared/runtime/handler.js';
import { runtimeFromEnv } from '../shared/runtime/runtime.js';
import { openStorage } from '../shared/storage/open.js';

const runtime = runtimeFromEnv(process.env);
const { archive } = runtime.config.results;
const archiveStorage = archive && openStorage(archive);

// Celery's Redis backend instead of a table: one client per container, connected on first use.
const { redisUrl } = runtime.config.results;
const redis = redisUrl ? redisClient(redisUrl, (error) => runtime.logger.warn('Redis connection lost; reconnecting', { error })) : undefined;

export const handler = createJobHandler('results-cleanup', runtime, async ({ db, config, settings, budget, runId }) => {
  if (redis) {
    if (!redis.isOpen) await redis.connect();
    return cleanupRedisResults({ redis, rules: config.results.rules, settings, budget, runId, ...(archiveStorage && { archive: archiveStorage }) });
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
