import type { Command } from 'commander';
import { showEvent } from '../../shared/outbox/inspect.js';
import { publishInTransaction } from '../../shared/outbox/publish.js';
import { parseJsonOption } from '../options.js';
import { printJson } from '../output.js';
import { withSession } from '../session.js';
import { describeDelivery, fastPathLine, sendNow } from './outbox-ops.js';

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
      // Checked here to name the option; the text itself is stored, so no number is rounded by JS.
      parseJsonOption('--payload', options.payload);
      const outcome = await withSession(async (session) => {
        const { published } = await publishInTransaction(
          session.db,
          session.config.schema,
          undefined,
          (_tx, publish) =>
            publish({ type: options.type, payloadJson: options.payload, ...(options.key && { idempotencyKey: options.key }) }),
          { maxPayloadBytes: session.config.outbox.maxPayloadBytes },
        );
        const event = published[0]!;
        const fastPath = await sendNow(session, event.created ? [event.id] : [], 'fast-path');
        // What actually happened to each delivery, read back rather than assumed.
        const { deliveries, status } = await showEvent(session.db, session.config.schema, event.id);
        return { event, status, fastPath, deliveries: deliveries.map(({ history: _, ...d }) => d) };
      });
      if (options.json) return printJson(outcome);
      const { event, status, fastPath, deliveries } = outcome;
      if (!event.created) console.log(`event ${event.id} already exists for key "${options.key}"; nothing new published (it is ${status})`);
      else console.log(`published event ${event.id}`);
      if (event.created && fastPath.how !== 'in-process') console.log(fastPathLine(fastPath, 'it'));
      if (fastPath.how === 'in-process' && deliveries.length === 0)
        console.log('no active endpoint subscribes to this event type; nothing to send');
      for (const d of deliveries) console.log(`  ${describeDelivery(d)}`);
    });
}
