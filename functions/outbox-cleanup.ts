import { cleanupOutbox } from '../shared/outbox/cleanup.js';
import { createJobHandler } from '../shared/runtime/handler.js';
import { runtimeFromEnv } from '../shared/runtime/runtime.js';

const runtime = runtimeFromEnv(process.env);

export const handler = createJobHandler('outbox-cleanup', runtime, ({ db, config, settings, budget }) =>
  cleanupOutbox({ db, schema: config.schema, retentionHours: settings.retentionHours ?? config.outbox.retentionHours, budget, dryRun: settings.dryRun }),
);
