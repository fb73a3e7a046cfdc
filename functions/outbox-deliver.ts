import { WebhookSender } from '../shared/outbox/http.js';
import { sweepOutbox } from '../shared/outbox/service.js';
import { deliverSqsBatch } from '../shared/outbox/sqs.js';
import type { TimeBudget } from '../shared/runtime/budget.js';
import { createJobHandler } from '../shared/runtime/handler.js';
import { runtimeFromEnv } from '../shared/runtime/runtime.js';

const runtime = runtimeFromEnv(process.env);
const { db, config, logger } = runtime;
// One pooled keep-alive client per container, reused across invocations.
const sender = new WebhookSender(config.outbox);
const deps = (budget: TimeBudget) => ({ db, schema: config.schema, outbox: config.outbox, sender, budget });

export const handler = createJobHandler('outbox-deliver', runtime, ({ budget }) => sweepOutbox(deps(budget)), {
  sqs: (event, { budget }) => deliverSqsBatch(event, deps(budget), logger),
});
