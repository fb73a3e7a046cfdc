import { ConfigError } from '../shared/errors.js';
import { createJobHandler } from '../shared/runtime/handler.js';
import { handlerFromEnv, type JobRuntime } from '../shared/runtime/runtime.js';
import { openStorage } from '../shared/storage/open.js';
import { cleanupUploads } from '../shared/uploads/cleanup.js';

export function makeHandler(runtime: JobRuntime) {
  const { storage } = runtime.config.uploads;
  if (!storage) {
    const need = 'uploads-cleanup needs the uploads bucket (s3://bucket/prefix or file:///dir)';
    throw new ConfigError([`UPLOADS_STORAGE_URL: is not set — ${need}`]);
  }
  const uploads = openStorage(storage, undefined, runtime.tracing);

  return createJobHandler('uploads-cleanup', runtime, ({ db, config, settings, budget }) =>
    cleanupUploads({ db, schema: config.schema, storage: uploads, ttlHours: config.uploads.ttlHours, budget, dryRun: settings.dryRun }),
  );
}

export const handler = handlerFromEnv(process.env, makeHandler);
