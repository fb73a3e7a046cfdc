import { cleanupResults } from '../shared/results/cleanup.js';
import { createJobHandler } from '../shared/runtime/handler.js';
import { runtimeFromEnv } from '../shared/runtime/runtime.js';
import { openStorage } from '../shared/storage/open.js';

const runtime = runtimeFromEnv(process.env);
const { archive } = runtime.config.results;
const archiveStorage = archive && openStorage(archive);

export const handler = createJobHandler('results-cleanup', runtime, ({ db, config, settings, budget, runId }) =>
  cleanupResults({
    db,
    schema: config.schema,
    rules: config.results.rules,
    settings,
    budget,
    runId,
    ...(archiveStorage && { archive: archiveStorage }),
  }),
);
