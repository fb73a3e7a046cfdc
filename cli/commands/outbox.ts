import { SQSClient } from '@aws-sdk/client-sqs';
import type { Command } from 'commander';
import { InProcessDispatcher, SqsDispatcher, type EventDispatcher } from '../../shared/outbox/dispatch.js';
import { WebhookSender } from '../../shared/outbox/http.js';
import { publishInTransaction } from '../../shared/outbox/publish.js';
import { deliverEvents } from '../../shared/outbox/service.js';
import { UNLIMITED_BUDGET } from '../../shared/runtime/budget.js';
import { parseJsonOption } from '../options.js';
import { printJson } from '../output.js';
import { withSession, type Session } from '../session.js';

export function registerOutbox(program: Command): void {
  const outbox = program.command('outbox').description('the transactional outbox');
  outbox
    .command('publish')
    .description('publish an event (delivered at once locally or through the dispatch queue, else by the next sweep)')
    .requiredOption('--type <type>', 'event type, e.g. order.paid')
    .option('--payload <json>', 'event payload as JSON', '{}')
    .option('--key <key>', 'idempotency key: publishing it again returns the first event')
    .option('--json', 'print the result as JSON')
    .action(async (options: { type: string; payload: string; key?: string; json?: boolean }) => {
      const payload = parseJsonOption('--payload', options.payload);
      const outcome = await withSession(async (session) => {
        const { dispatcher, how, close } = openDispatcher(session);
        try {
          const { published, dispatch } = await publishInTransaction(
            session.db,
            session.config.schema,
            dispatcher,
            (_tx, publish) => publish({ type: options.type, payload, ...(options.key && { idempotencyKey: options.key }) }),
            { maxPayloadBytes: session.config.outbox.maxPayloadBytes },
          );
          return { event: published[0]!, dispatch, how };
        } finally {
          await close();
        }
      });
      if (options.json) return printJson(outcome);
      const { event, dispatch, how } = outcome;
      console.log(event.created ? `published event ${event.id}` : `event ${event.id} already exists for key "${options.key}"; nothing new published`);
      if (event.created) console.log(dispatch.failed.length ? `fast path failed (${dispatch.failed[0]!.error}); the sweep will deliver it` : how);
    });
}

/** The fast path to use from this machine, and how to describe it. */
function openDispatcher({ target, config, db }: Session): { dispatcher?: EventDispatcher; how: string; close: () => Promise<void> } {
  if (config.outbox.dispatchQueueUrl) {
    const sqs = new SQSClient({});
    return { dispatcher: new SqsDispatcher(sqs, config.outbox.dispatchQueueUrl), how: 'dispatched to the SQS fast path', close: async () => sqs.destroy() };
  }
  if (!target.local) return { how: 'no OUTBOX_DISPATCH_QUEUE_URL: the next sweep (within a minute) delivers it', close: async () => {} };
  const sender = new WebhookSender(config.outbox);
  const deliver = (ids: string[]) => deliverEvents({ db, schema: config.schema, outbox: config.outbox, sender, budget: UNLIMITED_BUDGET }, ids);
  return { dispatcher: new InProcessDispatcher(deliver), how: 'delivered in-process (local fast path)', close: () => sender.close() };
}
