import { secretsManagerReader, withWebhookKeysFromSecret } from '../shared/outbox/key-secret.js';
import { FAILED_ATTEMPT_MESSAGE, type FailedAttempt } from '../shared/outbox/log-messages.js';
import { replayOutbox, sweepOutbox } from '../shared/outbox/service.js';
import { deliverSqsBatch } from '../shared/outbox/sqs.js';
import { webhookSender } from '../shared/outbox/traced-sender.js';
import type { TimeBudget } from '../shared/runtime/budget.js';
import { createJobHandler } from '../shared/runtime/handler.js';
import { handlerFromEnv, type JobRuntime } from '../shared/runtime/runtime.js';

export function makeHandler(runtime: JobRuntime) {
  const { db, config, logger } = runtime;
  // One pooled keep-alive client per container, reused across invocations.
  const sender = webhookSender(config.outbox, runtime.tracing);
  // Each failed POST is one log line: the stack's saved query groups them by endpoint.
  const onFailedAttempt = (failure: FailedAttempt) => logger.warn(FAILED_ATTEMPT_MESSAGE, { ...failure });
  const deps = (budget: TimeBudget) => ({ db, schema: config.schema, outbox: config.outbox, sender, budget, onFailedAttempt });

  return createJobHandler(
    'outbox-deliver',
    runtime,
    ({ budget, settings }) => (settings.replay ? replayOutbox(deps(budget), settings.replay) : sweepOutbox(deps(budget))),
    {
      sqs: (event, { budget }) => deliverSqsBatch(event, deps(budget), logger),
    },
  );
}

// The webhook keys are in Secrets Manager when deployed: read on the first invocation (see key-secret.ts).
export const handler = handlerFromEnv(process.env, makeHandler, (env, tracing) =>
  withWebhookKeysFromSecret(env, secretsManagerReader(tracing)),
);
