import { lazySqsDispatcher } from '../shared/outbox/lazy-dispatch.js';
import { createJobHandler } from '../shared/runtime/handler.js';
import { handlerFromEnv, type JobRuntime } from '../shared/runtime/runtime.js';
import { notifyExpiringUploads } from '../shared/uploads/notify.js';

export function makeHandler(runtime: JobRuntime) {
  const queueUrl = runtime.config.outbox.dispatchQueueUrl;
  // Without a dispatch queue the notices still go out, on outbox-deliver's next sweep.
  const dispatcher = queueUrl ? lazySqsDispatcher(queueUrl, runtime.tracing) : undefined;

  return createJobHandler('uploads-notify', runtime, ({ db, config, budget }) =>
    notifyExpiringUploads({
      db,
      schema: config.schema,
      ttlHours: config.uploads.ttlHours,
      noticeHours: config.uploads.noticeHours,
      budget,
      ...(dispatcher && { dispatcher }),
    }),
  );
}

export const handler = handlerFromEnv(process.env, makeHandler);
