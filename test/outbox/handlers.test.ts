import { beforeEach, describe, expect, it } from 'vitest';
import { cleanupOutbox } from '../../shared/outbox/cleanup.js';
import { sqsBatch } from '../../cli/dev/sqs-batch.js';
import { UNLIMITED_BUDGET } from '../../shared/runtime/budget.js';
import { schema, testDatabase } from '../helpers/db.js';
import { freshEntry, lambdaContext } from '../helpers/lambda.js';
import { addTestEndpoint, publishEvents } from '../helpers/outbox.js';
import { startReceiver } from '../helpers/receiver.js';

const { db, url } = await testDatabase();
const receiver = await startReceiver();

const importDeliverHandler = () =>
  freshEntry(() => import('../../functions/outbox-deliver.js'), {
    DATABASE_URL: url,
    OUTBOX_ALLOW_HTTP: 'true',
    OUTBOX_ALLOWED_CIDRS: '127.0.0.1/32',
  });

beforeEach(async () => {
  await db.query('TRUNCATE chores.outbox_events, chores.webhook_endpoints, chores.task_results CASCADE');
  receiver.received.length = 0;
});

describe('the outbox-deliver Lambda', () => {
  it('fails a malformed SQS record alone and delivers the rest of the batch', async () => {
    const handler = await importDeliverHandler();
    await addTestEndpoint(db, receiver.url);
    const [eventId] = await publishEvents(db, [{ type: 'fast', payload: {} }]);

    const response = await handler(sqsBatch([JSON.stringify({ eventIds: [eventId] }), 'not json', '{"eventIds":"7"}']), lambdaContext());

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-1' }, { itemIdentifier: 'm-2' }] });
    expect(receiver.received.map((r) => r.headers['webhook-id'])).toEqual([`msg_${eventId}`]);
  });

  it('runs the sweep on a scheduled invocation and records it', async () => {
    const handler = await importDeliverHandler();
    await addTestEndpoint(db, receiver.url);
    await publishEvents(db, [
      { type: 'a', payload: {} },
      { type: 'b', payload: {} },
    ]);

    const stats = await handler({}, lambdaContext());
    const { rows } = await db.query(`SELECT status FROM chores.task_results WHERE task_name = 'chores.outbox-deliver'`);

    expect(stats).toMatchObject({ job: 'outbox-deliver', fannedOut: 2, delivered: 2, remaining: 0, truncated: false });
    expect(rows).toEqual([{ status: 'SUCCESS' }]);
  });
});

describe('outbox-cleanup', () => {
  it('deletes old terminal events with their deliveries and keeps pending and young ones', async () => {
    const endpoint = await addTestEndpoint(db, receiver.url);
    const [oldDelivered, oldFailed, youngDelivered, oldPending, oldInFlight] = await publishEvents(
      db,
      ['a', 'b', 'c', 'd', 'e'].map((type) => ({ type, payload: {} })),
    );
    await db.query(
      `UPDATE chores.outbox_events SET status = s.status, completed_at = s.done, created_at = now() - interval '30 days'
       FROM (VALUES ($1::bigint, 'delivered', now() - interval '200 hours'), ($2, 'failed', now() - interval '169 hours'),
                    ($3, 'delivered', now() - interval '100 hours'), ($4, 'pending', NULL::timestamptz),
                    ($5, 'fanned_out', NULL)) AS s(id, status, done)
       WHERE outbox_events.id = s.id`,
      [oldDelivered, oldFailed, youngDelivered, oldPending, oldInFlight],
    );
    await db.query(
      `INSERT INTO chores.webhook_deliveries (event_id, endpoint_id, status) VALUES ($1, $3, 'delivered'), ($2, $3, 'pending')`,
      [oldDelivered, oldInFlight, endpoint.id],
    );

    const stats = await cleanupOutbox({ db, schema, retentionHours: 168, budget: UNLIMITED_BUDGET });
    const { rows: events } = await db.query('SELECT id::text FROM chores.outbox_events ORDER BY id');
    const { rows: deliveries } = await db.query('SELECT event_id::text FROM chores.webhook_deliveries');

    expect(stats).toEqual({ deleted: 2, remaining: 0, truncated: false });
    expect(events.map((e) => e.id)).toEqual([youngDelivered, oldPending, oldInFlight]);
    expect(deliveries).toEqual([{ event_id: oldInFlight }]);
  });

  it('stops at the budget and reports what is left', async () => {
    await db.query(`INSERT INTO chores.outbox_events (event_type, status, completed_at)
      SELECT 'bulk', 'delivered', now() - interval '300 hours' FROM generate_series(1, 2500)`);

    const stats = await cleanupOutbox({ db, schema, retentionHours: 168, budget: { expired: () => true, remainingMs: () => 0 } });

    expect(stats).toEqual({ deleted: 2_000, remaining: 500, truncated: true });
  });
});
