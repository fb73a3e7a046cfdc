import { beforeEach, describe, expect, it } from 'vitest';
import type { DeliveryStats } from '../../shared/outbox/deliver.js';
import { disableEndpointByHand } from '../../shared/outbox/endpoints.js';
import { deliverEvents, sweepOutbox } from '../../shared/outbox/service.js';
import { claimDue, completeEvents, recordResults, type ClaimedDelivery } from '../../shared/outbox/sql.js';
import { budgetUntil } from '../../shared/runtime/budget.js';
import { schema, testDatabase } from '../helpers/db.js';
import { addTestEndpoint, deliveryRows, outboxDeps, publishEvents } from '../helpers/outbox.js';
import { startReceiver } from '../helpers/receiver.js';

const { db, url } = await testDatabase();
const deps = outboxDeps(db, url);
const receiver = await startReceiver();
const other = await startReceiver();

/** Waits until a statement whose text has `marker` waits for a lock. */
async function untilWaiting(marker: string): Promise<void> {
  for (;;) {
    const { rows } = await db.query(
      `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND position($1 in query) > 0`,
      [marker],
    );
    if (rows.length > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Ends the backend running the first statement that waits for a lock and whose text has `marker`. */
async function terminateWaiting(marker: string): Promise<void> {
  for (;;) {
    const { rows } = await db.query(
      `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
       WHERE datname = current_database() AND wait_event_type = 'Lock' AND position($1 in query) > 0`,
      [marker],
    );
    if (rows.length > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function leasedCount(): Promise<number> {
  const { rows } = await db.query('SELECT count(*)::int AS n FROM chores.webhook_deliveries WHERE leased_until IS NOT NULL');
  return rows[0].n;
}

function addsUp(stats: DeliveryStats): boolean {
  return stats.processed === stats.delivered + stats.retried + stats.failed + stats.superseded;
}

beforeEach(async () => {
  await db.query('TRUNCATE chores.outbox_events, chores.webhook_endpoints CASCADE');
  receiver.received.length = 0;
  receiver.respond(() => ({ status: 200, body: 'ok' }));
  other.received.length = 0;
  other.respond(() => ({ status: 200, body: 'ok' }));
});

describe('an endpoint the run thought was failing too long', () => {
  it('keeps retrying a failed POST when the endpoint turns out to have recovered meanwhile, and gives back what waited', async () => {
    const oneAtATime = outboxDeps(db, url, { OUTBOX_ENDPOINT_CONCURRENCY: '1' });
    const endpoint = await addTestEndpoint(db, receiver.url);
    await db.query(`UPDATE chores.webhook_endpoints SET failing_since = now() - interval '200 hours' WHERE id = $1`, [endpoint.id]);
    await publishEvents(db, [
      { type: 'x', payload: { n: 1 } },
      { type: 'x', payload: { n: 2 } },
    ]);
    // While the first POST is under way, a concurrent run records a success for the endpoint (its
    // failing streak ends); then the POST fails. The second delivery waits behind it.
    receiver.respond(() => ({
      status: 500,
      after: db.query('UPDATE chores.webhook_endpoints SET failing_since = NULL WHERE id = $1', [endpoint.id]),
    }));

    const stats = await sweepOutbox(oneAtATime);
    const [sent, waited] = await deliveryRows(db);
    const { rows } = await db.query('SELECT is_active FROM chores.webhook_endpoints WHERE id = $1', [endpoint.id]);
    const { rows: leases } = await db.query('SELECT count(*)::int AS n FROM chores.webhook_deliveries WHERE leased_until IS NOT NULL');

    expect(rows[0].is_active).toBe(true);
    expect(receiver.received).toHaveLength(1);
    expect(sent).toMatchObject({ status: 'pending', attempts: 1, last_status_code: 500 });
    expect(waited).toMatchObject({ status: 'pending', attempts: 0 });
    expect(leases[0].n).toBe(0);
    expect(stats).toMatchObject({ processed: 1, retried: 1, failed: 0, endpointsDisabled: 0 });
    expect(addsUp(stats)).toBe(true);
  });
});

describe('a database connection lost mid-run', () => {
  it('records what was sent and gives back what waited when a claim fails, then fails the run naming the claim', async () => {
    await addTestEndpoint(db, receiver.url);
    await db.query(
      `INSERT INTO chores.outbox_events (event_type, payload) SELECT 'bulk', jsonb_build_object('i', i) FROM generate_series(1, 300) AS i`,
    );
    // Once POSTs are under way, another session locks the events table: the run's next claim (it
    // reads payloads) waits for it, and its backend is terminated while it waits.
    const holder = await db.connect();
    let locked: Promise<unknown> | undefined;
    receiver.respond(() => {
      locked ??= holder.query('BEGIN').then(() => holder.query('LOCK TABLE chores.outbox_events IN ACCESS EXCLUSIVE MODE'));
      return { status: 200, after: locked };
    });

    const run = sweepOutbox(deps).catch((error: unknown) => error);
    try {
      await terminateWaiting('WITH RECURSIVE candidates');
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    const failure = await run;
    const { rows: attempts } = await db.query(`SELECT count(*)::int AS n FROM chores.webhook_attempts WHERE outcome = 'delivered'`);
    const { rows: delivered } = await db.query(`SELECT count(*)::int AS n FROM chores.webhook_deliveries WHERE status = 'delivered'`);

    expect(String(failure)).toMatch(/^OutboxError: claiming due deliveries failed: terminating connection due to administrator command/);
    expect(receiver.received.length).toBeGreaterThan(0);
    expect(attempts[0].n).toBe(receiver.received.length);
    expect(delivered[0].n).toBe(receiver.received.length);
    expect(await leasedCount()).toBe(0);
  });

  it('starts no POST once a flush has failed, since its outcome could not be recorded, and fails the run naming the flush', async () => {
    await addTestEndpoint(db, receiver.url);
    await db.query(
      `INSERT INTO chores.outbox_events (event_type, payload) SELECT 'bulk', jsonb_build_object('i', i) FROM generate_series(1, 400) AS i`,
    );
    // The first 250 answers come at once and start a flush; that flush waits for a lock another
    // session holds on the attempts table and its backend is terminated. Requests after the 250th
    // are held meanwhile, and answered once the flush has failed.
    const holder = await db.connect();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE chores.webhook_attempts IN ACCESS EXCLUSIVE MODE');
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => (open = resolve));
    receiver.respond(() => ({ status: 200, after: receiver.received.length > 250 ? gate : undefined }));

    const run = sweepOutbox(deps).catch((error: unknown) => error);
    try {
      await terminateWaiting('WITH o AS (');
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    // The terminated backend is gone once another statement has seen it go.
    const sentBeforeFailure = receiver.received.length;
    open();
    const failure = await run;

    expect(String(failure)).toMatch(/^OutboxError: recording webhook outcomes failed: terminating connection due to administrator command/);
    expect(receiver.received).toHaveLength(sentBeforeFailure);
    expect(await leasedCount()).toBe(sentBeforeFailure); // sent, not recorded: they go again once their leases lapse
  });
});

describe('an event two runs settle at the same moment', () => {
  it('is completed by the run that records its last outcome even when that run then fails to disable the endpoint', async () => {
    const gone = await addTestEndpoint(db, receiver.url);
    const kept = await addTestEndpoint(db, other.url);
    const [eventId] = await publishEvents(db, [{ type: 'x', payload: {} }]);
    await sweepOutbox({ ...deps, budget: { expired: () => true, remainingMs: () => 0 } }); // fans out only
    // Already failing, so recording another failure leaves its row alone; only the disable locks it.
    await db.query(`UPDATE chores.webhook_endpoints SET failing_since = now() - interval '1 hour' WHERE id = $1`, [gone.id]);
    const [keptDelivery] = (
      await db.query<ClaimedDelivery>(
        claimDue(schema, { limit: 10, leaseMs: 60_000, excludeEndpoints: [gone.id], byteBudget: 1_000_000, maxPayloadBytes: 262_144 }),
      )
    ).rows;
    const runOne = await db.connect(); // another run, recording the kept endpoint's 200
    const app = await db.connect(); // an app's open transaction that updated the gone endpoint
    const locker = await db.connect(); // holds the gone endpoint's delivery while our run records it
    let failure: unknown;
    try {
      await runOne.query('BEGIN');
      await runOne.query(
        recordResults(
          schema,
          [
            {
              result: {
                id: keptDelivery!.id,
                attempt: keptDelivery!.attempts,
                status: 'delivered',
                delayMs: 0,
                statusCode: 200,
                error: null,
                response: 'ok',
              },
              eventId: eventId!,
              endpointId: kept.id,
              startedAt: new Date(),
              durationMs: 1,
            },
          ],
          'sweep',
        ),
      );
      await app.query('BEGIN');
      await app.query('SELECT 1 FROM chores.webhook_endpoints WHERE id = $1 FOR NO KEY UPDATE', [gone.id]);
      await locker.query('BEGIN');
      // Locked once claimed (a claim skips a locked row), before the answer comes back.
      let lockedDelivery: Promise<unknown> | undefined;
      receiver.respond(() => {
        lockedDelivery ??= locker.query('SELECT 1 FROM chores.webhook_deliveries WHERE endpoint_id = $1 FOR UPDATE', [gone.id]);
        return { status: 410, after: lockedDelivery };
      });

      // Our run's flush waits for the delivery with the kept one still pending in its snapshot;
      // meanwhile the other run commits and completes what it can (nothing: ours is pending).
      const run = sweepOutbox({ ...deps, budget: budgetUntil(Date.now() + 1_500) }).catch((error: unknown) => error);
      await untilWaiting('WITH o AS (');
      await runOne.query('COMMIT');
      await db.query(completeEvents(schema, [eventId!]));
      await locker.query('ROLLBACK');
      failure = await run;
    } finally {
      await runOne.query('ROLLBACK').catch(() => {});
      await locker.query('ROLLBACK').catch(() => {});
      await app.query('ROLLBACK');
      for (const client of [runOne, app, locker]) client.release();
    }
    const { rows: deliveries } = await db.query('SELECT endpoint_id::text, status FROM chores.webhook_deliveries ORDER BY id');
    const { rows: events } = await db.query('SELECT status FROM chores.outbox_events WHERE id = $1', [eventId]);

    expect(String(failure)).toMatch(/^OutboxError: disabling endpoints gave up waiting for a row lock/);
    expect(deliveries).toEqual([
      { endpoint_id: gone.id, status: 'failed' },
      { endpoint_id: kept.id, status: 'delivered' },
    ]);
    expect(events[0].status).toBe('failed');
  });
});

describe('an endpoint disabled by hand while a run sends to it', () => {
  it('gets no more POSTs once the run has checked, instead of every delivery the run had claimed', async () => {
    const oneAtATime = outboxDeps(db, url, { OUTBOX_ENDPOINT_CONCURRENCY: '1' });
    const endpoint = await addTestEndpoint(db, receiver.url);
    await db.query(
      `INSERT INTO chores.outbox_events (event_type, payload) SELECT 'bulk', jsonb_build_object('i', i) FROM generate_series(1, 100) AS i`,
    );
    // The operator disables it as the first POST arrives; each POST takes 50 ms, so sending all
    // 100 would take 5 s, and the run checks its endpoints every second.
    let disabled: Promise<unknown> | undefined;
    receiver.respond(() => {
      disabled ??= disableEndpointByHand(db, schema, endpoint.id, 'customer offboarded');
      return { status: 200, delayMs: 50, after: disabled };
    });

    const stats = await sweepOutbox(oneAtATime);
    const { rows: attempts } = await db.query('SELECT count(*)::int AS n FROM chores.webhook_attempts');
    const { rows: deliveries } = await db.query('SELECT DISTINCT status, last_error FROM chores.webhook_deliveries');

    expect(receiver.received.length).toBeLessThan(100);
    expect(stats).toMatchObject({ processed: receiver.received.length, superseded: receiver.received.length });
    expect(addsUp(stats)).toBe(true);
    expect(attempts[0].n).toBe(receiver.received.length);
    expect(deliveries).toEqual([{ status: 'failed', last_error: 'endpoint disabled: customer offboarded' }]);
    expect(await leasedCount()).toBe(0);
  });
});

describe('an endpoint deleted by SQL while a run sends to it', () => {
  it('completes the event whose last open delivery went with it, and counts that POST as superseded', async () => {
    const gone = await addTestEndpoint(db, receiver.url);
    const deleted = await addTestEndpoint(db, other.url);
    const [eventId] = await publishEvents(db, [{ type: 'x', payload: {} }]);
    receiver.respond(() => ({ status: 410 })); // recorded at once, with the disable, while the other POST is held
    const goneRecorded = async () => {
      for (;;) {
        const { rows } = await db.query(`SELECT 1 FROM chores.webhook_deliveries WHERE endpoint_id = $1 AND status = 'failed'`, [gone.id]);
        if (rows.length > 0) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    let removed: Promise<unknown> | undefined;
    other.respond(() => {
      removed ??= goneRecorded().then(() => db.query('DELETE FROM chores.webhook_endpoints WHERE id = $1', [deleted.id]));
      return { status: 200, after: removed };
    });

    const stats = await sweepOutbox(deps);
    const { rows } = await db.query('SELECT status FROM chores.outbox_events WHERE id = $1', [eventId]);

    expect(stats).toMatchObject({ processed: 2, failed: 1, superseded: 1, endpointsDisabled: 1 });
    expect(addsUp(stats)).toBe(true);
    expect(rows[0].status).toBe('failed');
  });
});

describe('the end of the budget', () => {
  it('gives back unsent deliveries within the budget, even when a row of one is locked, and still records what was sent', async () => {
    const oneAtATime = outboxDeps(db, url, { OUTBOX_ENDPOINT_CONCURRENCY: '1' });
    await addTestEndpoint(db, receiver.url);
    await publishEvents(db, [
      { type: 'x', payload: { n: 1 } },
      { type: 'x', payload: { n: 2 } },
    ]);
    // While the first POST is under way, another session locks the waiting delivery's row; the
    // answer comes once the budget has too little left to start another request.
    const holder = await db.connect();
    let locked: Promise<unknown> | undefined;
    receiver.respond((request) => {
      const sent = String(request.headers['webhook-id']).replace('msg_', '');
      locked ??= holder
        .query('BEGIN')
        .then(() => holder.query('SELECT 1 FROM chores.webhook_deliveries WHERE event_id <> $1 FOR UPDATE', [sent]));
      return { status: 200, after: locked, delayMs: 1_000 };
    });

    let failure: unknown;
    try {
      failure = await sweepOutbox({ ...oneAtATime, budget: budgetUntil(Date.now() + 1_500) }).catch((error: unknown) => error);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    const { rows } = await db.query(`SELECT outcome FROM chores.webhook_attempts`);

    expect(String(failure)).toMatch(/^OutboxError: giving back unsent deliveries gave up waiting for a row lock/);
    expect(receiver.received).toHaveLength(1);
    expect(rows).toEqual([{ outcome: 'delivered' }]);
  });
});

describe('a fan-out whose connection is lost', () => {
  /**
   * Runs `run` while an app's open transaction holds the endpoint row: the fan-out's insert waits for
   * it, and its backend is terminated while it waits. Returns what the run failed with.
   */
  async function cutOffFanOut(endpointId: string, run: () => Promise<unknown>): Promise<unknown> {
    const app = await db.connect();
    try {
      await app.query('BEGIN');
      await app.query('SELECT 1 FROM chores.webhook_endpoints WHERE id = $1 FOR UPDATE', [endpointId]);
      const failure = run().catch((error: unknown) => error);
      await terminateWaiting('WITH ev AS (');
      return await failure;
    } finally {
      await app.query('ROLLBACK');
      app.release();
    }
  }

  it('fails the run naming the fan-out and leaves the event pending for the next run', async () => {
    const endpoint = await addTestEndpoint(db, receiver.url);
    const [eventId] = await publishEvents(db, [{ type: 'x', payload: {} }]);

    const failure = await cutOffFanOut(endpoint.id, () => sweepOutbox(deps));
    const retry = await sweepOutbox(deps);

    expect(String(failure)).toMatch(/^OutboxError: fanning out events failed: terminating connection due to administrator command/);
    expect(retry).toMatchObject({ fannedOut: 1, delivered: 1 });
    expect(receiver.received.map((r) => r.headers['webhook-id'])).toEqual([`msg_${eventId}`]);
  });

  it('on the fast path, fails naming the fan-out and leaves the event pending, nothing sent', async () => {
    const endpoint = await addTestEndpoint(db, receiver.url);
    const [eventId] = await publishEvents(db, [{ type: 'x', payload: {} }]);

    const failure = await cutOffFanOut(endpoint.id, () => deliverEvents(deps, [eventId!]));
    const { rows } = await db.query('SELECT status FROM chores.outbox_events WHERE id = $1', [eventId]);

    expect(String(failure)).toMatch(
      /^OutboxError: fanning out events failed: terminating connection due to administrator command — nothing was sent/,
    );
    expect(rows).toEqual([{ status: 'pending' }]);
    expect(receiver.received).toHaveLength(0);
  });
});

describe('a 410 in the middle of a batch', () => {
  it('with 64 POSTs in flight and another endpoint going on: every POST recorded once, the stats add up, every event settled', async () => {
    const wide = outboxDeps(db, url, { OUTBOX_ENDPOINT_CONCURRENCY: '64' });
    await addTestEndpoint(db, receiver.url);
    await addTestEndpoint(db, other.url);
    await db.query(
      `INSERT INTO chores.outbox_events (event_type, payload) SELECT 'bulk', jsonb_build_object('i', i) FROM generate_series(1, 400) AS i`,
    );
    receiver.respond(() => ({ status: receiver.received.length > 150 ? 410 : 200, delayMs: 5 }));

    const stats = await sweepOutbox(wide);
    const posts = receiver.received.length + other.received.length;
    const { rows: attempts } = await db.query('SELECT count(DISTINCT (delivery_id, attempt))::int AS n FROM chores.webhook_attempts');
    const { rows: open } = await db.query(
      `SELECT count(*)::int AS n FROM chores.outbox_events e WHERE e.status = 'fanned_out'
         AND NOT EXISTS (SELECT 1 FROM chores.webhook_deliveries d WHERE d.event_id = e.id AND d.status = 'pending')`,
    );

    expect(stats).toMatchObject({ endpointsDisabled: 1, processed: posts });
    expect(addsUp(stats)).toBe(true);
    expect(stats.processed + stats.cancelled).toBe(800);
    expect(attempts[0].n).toBe(posts);
    expect(other.received).toHaveLength(400);
    expect(await leasedCount()).toBe(0);
    expect(open[0].n).toBe(0);
  });
});
