import { createJobHandler } from '../shared/runtime/handler.js';
import { handlerFromEnv, type JobRuntime } from '../shared/runtime/runtime.js';
import { openStorage } from '../shared/storage/open.js';
import { cleanupTables } from '../shared/tables/cleanup.js';

export function makeHandler(runtime: JobRuntime) {
  // Archived rows go where results-cleanup archives, under tables/<schema>.<table>/.
  const { archive } = runtime.config.results;
  const archiveStorage = archive && openStorage(archive, undefined, runtime.tracing);
  return createJobHandler('tables-cleanup', runtime, ({ db, config, settings, budget, runId }) =>
    cleanupTables({ db, policies: config.tables.policies, settings, budget, runId, ...(archiveStorage && { archive: archiveStorage }) }),
  );
}

export const handler = handlerFromEnv(process.env, makeHandler);
