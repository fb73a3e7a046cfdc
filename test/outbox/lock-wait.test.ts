import { beforeEach, describe, expect, it } from 'vitest';
import { budgetUntil } from '../../shared/runtime/budget.js';
import { sweepOutbox } from '../../shared/outbox/service.js';
import { testDatabase } from '../helpers/db.js';
import { addTestEndpoint, deliveryRows, outboxDeps, publishEvents } from '../helpers/outbox.js';
import { startReceiver } from '../helpers/receiver.js';

const { db, url } = await testDatabase();
const deps = outboxDeps(db, url);
const receiver = await startReceiver();

/**
 * A sweep with `budgetMs` left while another session's open transaction holds the endpoint's row (an
 * app that updated it and has not committed): what the sweep threw, once the holder has let go.
 */
async function sweepWhileHeld(endpointId: string, mode: 'FOR UPDATE' | 'FOR NO KEY UPDATE', budgetMs: number): Promise<unknown> {
  const holder = await db.connect();
  try {
    await holder.query('BEGIN');
    await holder.query(`SELECT 1 FROM chores.webhook_endpoints WHERE id = $1 ${mode}`, [endpointId]);
    return await sweepOutbox({ ...deps, budget: budgetUntil(Date.now() + budgetMs) }).catch((error: unknown) => error);
  } finally {
    await holder.query('ROLLBACK');
    holder.release();
  }
}

beforeEach(async () => {
  await db.query('TRUNCATE chores.outbox_events, chores.webhook_endpoints CASCADE');
  receiver.received.length = 0;
  receiver.respond(() => ({ status: 200, body: 'ok' }));
});

describe('a row lock another transaction keeps', () => {
  it('fails the flush within the run’s budget, naming the wait, and the delivery goes again once the lease lapses', async () => {
    const endpoint = await addTestEndpoint(db, receiver.url);
    await publishEvents(db, [{ type: 'x', payload: {} }]);
    receiver.respond(() => ({ status: 500, body: 'down' })); // a failure starts the endpoint's failing streak: its row is written
    // Long enough to start a POST (a request never starts with under a second left).
    const failure = await sweepWhileHeld(endpoint.id, 'FOR NO KEY UPDATE', 1_500);
    await db.query(`UPDATE chores.webhook_deliveries SET leased_until = now() - interval '1 second'`);
    receiver.respond(() => ({ status: 200, body: 'ok' }));
    const retry = await sweepOutbox(deps);

    expect(String(failure)).toMatch(/^OutboxError: recording webhook outcomes gave up waiting for a row lock/);
    expect(retry).toMatchObject({ processed: 1, delivered: 1 });
    expect(receiver.received).toHaveLength(2); // at least once: the unrecorded attempt is sent again
  });

  it('fails the disable of an endpoint that answered 410 within the run’s budget, naming the wait', async () => {
    const endpoint = await addTestEndpoint(db, receiver.url);
    // Already failing: the flush then leaves the endpoint's row alone, and only the disable must lock it.
    await db.query(`UPDATE chores.webhook_endpoints SET failing_since = now() - interval '1 hour' WHERE id = $1`, [endpoint.id]);
    await publishEvents(db, [{ type: 'x', payload: {} }]);
    receiver.respond(() => ({ status: 410, body: 'gone' }));
    const failure = await sweepWhileHeld(endpoint.id, 'FOR NO KEY UPDATE', 1_500);
    const { rows } = await db.query('SELECT is_active FROM chores.webhook_endpoints WHERE id = $1', [endpoint.id]);

    expect(String(failure)).toMatch(/^OutboxError: disabling endpoints gave up waiting for a row lock/);
    expect(rows).toEqual([{ is_active: true }]); // the next run's 410 disables it
  });

  it('fails the fan-out within the run’s budget and sends nothing, leaving the event pending for the next run', async () => {
    const endpoint = await addTestEndpoint(db, receiver.url);
    await publishEvents(db, [{ type: 'x', payload: {} }]);
    const failure = await sweepWhileHeld(endpoint.id, 'FOR UPDATE', 500); // the delivery's foreign key must share-lock it
    const next = await sweepOutbox(deps);

    expect(String(failure)).toMatch(/^OutboxError: the fan-out gave up waiting for a row lock/);
    expect(next).toMatchObject({ fannedOut: 1, delivered: 1 });
    expect(await deliveryRows(db)).toMatchObject([{ status: 'delivered', attempts: 1 }]);
  });
});
