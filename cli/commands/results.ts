import type { Command } from 'commander';
import { ChoresError } from '../../shared/errors.js';
import { connectRedis, redisClient, restoreRedisResults } from '../../shared/results/redis.js';
import { restoreStore } from '../../shared/results/restore.js';
import { openStorage } from '../../shared/storage/open.js';
import { parseStorageUrl } from '../../shared/storage/url.js';
import { printJson } from '../output.js';
import { withSession } from '../session.js';

export function registerResults(program: Command): void {
  const results = program.command('results').description('the task result store');
  results
    .command('restore')
    .description('put archived results back into task_results (idempotent: rows already present are left alone)')
    .option('--task-id <id...>', 'restore these task ids')
    .option('--since <date>', 'restore every row finished at or after this date (ISO 8601)')
    .option('--from <url>', 'archive to read (default: RESULTS_ARCHIVE_URL)')
    .option('--json', 'print the counts as JSON')
    .action(async (options: { taskId?: string[]; since?: string; from?: string; json?: boolean }) => {
      const since = options.since === undefined ? undefined : new Date(options.since);
      if (since && Number.isNaN(since.getTime()))
        throw new ChoresError(`--since "${options.since}" is not a date — use e.g. 2026-11-01 or 2026-11-01T12:00:00Z`);
      const stats = await withSession(async ({ db, config }) => {
        const location = options.from ? parseStorageUrl(options.from, '--from') : config.results.archive;
        if (!location) throw new ChoresError('no archive to restore from — set RESULTS_ARCHIVE_URL or pass --from s3://bucket/prefix');
        const filter = { ...(options.taskId && { taskIds: options.taskId }), ...(since && { since }) };
        if (config.results.redisUrl) {
          const redis = redisClient(config.results.redisUrl);
          await connectRedis(redis, config.results.redisUrl);
          try {
            return await restoreRedisResults({ redis, archive: openStorage(location), filter });
          } finally {
            redis.destroy();
          }
        }
        return restoreStore({
          db,
          store: config.results.store,
          storeSchema: config.results.storeSchema,
          archive: openStorage(location),
          filter,
        });
      });
      if (options.json) printJson(stats);
      else
        console.log(
          `restored ${stats.restored} of ${stats.matched} matching rows (${stats.alreadyPresent} already present) from ${stats.objectsRead} archive objects`,
        );
    });
}
