import { WebhookSender } from '../shared/outbox/http.js';
import { replayOutbox, sweepOutbox } from '../shared/outbox/service.js';
import { deliverSqsBatch } from '../shared/outbox/sqs.js';
import type { TimeBudget } from '../shared/runtime/budget.js';
import { createJobHandler } from '../shared/runtime/handler.js';
import { handlerFromEnv, type JobRuntime } from '../shared/runtime/runtime.js';

export function makeHandler(runtime: JobRuntime) {
  const { db, config, logger } = runtime;
  // One pooled keep-alive client per container, reused across invocations.
  const sender = new WebhookSender(config.outbox);
  const deps = (budget: TimeBudget) => ({ db, schema: config.schema, outbox: config.outbox, sender, budget });

  return createJobHandler(
    'outbox-deliver',
    runtime,
    ({ budget, settings }) => (settings.replay ? replayOutbox(deps(budget), settings.replay) : sweepOutbox(deps(budget))),
    {
      sqs: (event, { budget }) => deliverSqsBatch(event, deps(budget), logger),
    },
  );
}

export const handler = handlerFromEnv(process.env, makeHandler);
