import { ConfigError } from '../shared/errors.js';
import { createJobHandler } from '../shared/runtime/handler.js';
import { runtimeFromEnv } from '../shared/runtime/runtime.js';
import { openStorage } from '../shared/storage/open.js';
import { cleanupUploads } from '../shared/uploads/cleanup.js';

const runtime = runtimeFromEnv(process.env);
const { storage } = runtime.config.uploads;
if (!storage) throw new ConfigError(['UPLOADS_STORAGE_URL: is not set — uploads-cleanup needs the uploads bucket (s3://bucket/prefix or file:///dir)']);
const uploads = openStorage(storage);

export const handler = createJobHandler('uploads-cleanup', runtime, ({ db, config, settings, budget }) =>
  cleanupUploads({ db, schema: config.schema, storage: uploads, ttlHours: config.uploads.ttlHours, budget, dryRun: settings.dryRun }),
);
