import { cleanupOutbox } from '../shared/outbox/cleanup.js';
import { createJobHandler } from '../shared/runtime/handler.js';
import { handlerFromEnv, type JobRuntime } from '../shared/runtime/runtime.js';

export const makeHandler = (runtime: JobRuntime) =>
  createJobHandler('outbox-cleanup', runtime, ({ db, config, settings, budget }) =>
    cleanupOutbox({
      db,
      schema: config.schema,
      retentionHours: settings.retentionHours ?? config.outbox.retentionHours,
      budget,
      dryRun: settings.dryRun,
    }),
  );

export const handler = handlerFromEnv(process.env, makeHandler);
