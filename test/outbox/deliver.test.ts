import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { PER_ENDPOINT_CONCURRENCY } from '../../shared/outbox/limits.js';
import type { FailedAttempt } from '../../shared/outbox/log-messages.js';
import { claimDue, completeEvents, recordResults, type AttemptRecord, type ClaimedDelivery } from '../../shared/outbox/sql.js';
import { deliverEvents, sweepOutbox } from '../../shared/outbox/service.js';
import { schema, testDatabase } from '../helpers/db.js';
import { addTestEndpoint, deliveryRows, outboxDeps, publishEvents } from '../helpers/outbox.js';
import { startReceiver } from '../helpers/receiver.js';

const { db, url } = await testDatabase();
const deps = outboxDeps(db, url);
const receiver = await startReceiver();
const other = await startReceiver();

/** The Standard Webhooks signature, computed here from the spec rather than by our code. */
function expectedSignature(secret: string, id: string, timestamp: string, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/**
 * The delay the last recorded retry was given, exactly: next_attempt_at less the now() of the
 * statement that recorded it, which is also the statement that started the endpoint's failure
 * streak (failing_since). Measured from the test's own now() instead, any pause between the sweep
 * and the query (a starved CPU) would shrink it and fail a lower bound.
 */
async function scheduledDelaySeconds(): Promise<number> {
  const { rows } = await db.query(
    `SELECT extract(epoch FROM d.next_attempt_at - e.failing_since) AS s
     FROM chores.webhook_deliveries d JOIN chores.webhook_endpoints e ON e.id = d.endpoint_id`,
  );
  expect(rows).toHaveLength(1);
  return Number(rows[0].s);
}

beforeEach(async () => {
  await db.query('TRUNCATE chores.outbox_events, chores.webhook_endpoints CASCADE');
  receiver.received.length = 0;
  other.received.length = 0;
  receiver.respond(() => ({ status: 200, body: 'ok' }));
  other.respond(() => ({ status: 200, body: 'ok' }));
});

describe('webhook requests', () => {
  it('are signed per Standard Webhooks: the reference library verifies them, and so does an independent HMAC', async () => {
    const endpoint = await addTestEndpoint(db, `${receiver.url}/hooks`);
    const [eventId] = await publishEvents(db, [{ type: 'order.paid', payload: { orderId: 42, total: '12.50' } }]);

    const stats = await sweepOutbox(deps);
    const [request] = receiver.received;
    const { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature } = request!.headers as Record<string, string>;

    expect(stats).toMatchObject({ fannedOut: 1, processed: 1, delivered: 1, retried: 0, failed: 0, remaining: 0 });
    expect(id).toBe(`msg_${eventId}`);
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
    expect(signature).toBe(expectedSignature(endpoint.secret, id!, timestamp!, request!.body));
    expect(new Webhook(endpoint.secret).verify(request!.body, request!.headers as Record<string, string>)).toEqual({
      type: 'order.paid',
      timestamp: expect.any(String),
      data: { orderId: 42, total: '12.50' },
    });
    expect(() =>
      new Webhook(`whsec_${Buffer.from('another-secret').toString('base64')}`).verify(
        request!.body,
        request!.headers as Record<string, string>,
      ),
    ).toThrow('No matching signature found');
  });

  it('carry both signatures while a rotated secret overlaps', async () => {
    const endpoint = await addTestEndpoint(db, receiver.url);
    await db.query(
      `UPDATE chores.webhook_endpoints SET previous_secret = secret, secret = $2, previous_secret_expires_at = now() + interval '1 day' WHERE id = $1`,
      [endpoint.id, `whsec_${Buffer.from('the-new-secret').toString('base64')}`],
    );
    await publishEvents(db, [{ type: 'x', payload: {} }]);

    await sweepOutbox(deps);
    const request = receiver.received[0]!;
    const headers = request.headers as Record<string, string>;
    const signatures = headers['webhook-signature']!.split(' ');

    expect(signatures).toEqual([
      expectedSignature(
        `whsec_${Buffer.from('the-new-secret').toString('base64')}`,
        headers['webhook-id']!,
        headers['webhook-timestamp']!,
        request.body,
      ),
      expectedSignature(endpoint.secret, headers['webhook-id']!, headers['webhook-timestamp']!, request.body),
    ]);
  });

  it('fan out by event type; an empty subscription takes everything', async () => {
    await addTestEndpoint(db, `${receiver.url}/orders`, ['order.paid']);
    await addTestEndpoint(db, `${receiver.url}/all`, []);
    await addTestEndpoint(db, `${other.url}/users`, ['user.created']);
    await publishEvents(db, [
      { type: 'order.paid', payload: {} },
      { type: 'order.refunded', payload: {} },
    ]);

    await sweepOutbox(deps);

    expect(receiver.received.map((r) => `${r.path} ${JSON.parse(r.body).type}`).sort()).toEqual([
      '/all order.paid',
      '/all order.refunded',
      '/orders order.paid',
    ]);
    expect(other.received).toEqual([]);
  });

  it('complete an event nobody subscribes to at once', async () => {
    await addTestEndpoint(db, receiver.url, ['something.else']);
    const [eventId] = await publishEvents(db, [{ type: 'lonely', payload: {} }]);

    await sweepOutbox(deps);
    const { rows } = await db.query('SELECT status FROM chores.outbox_events WHERE id = $1', [eventId]);

    expect(rows[0].status).toBe('delivered');
  });
});

describe('delivery outcomes', () => {
  it('retry a 500 on the backoff schedule, keep the webhook-id, and fail when exhausted', async () => {
    await addTestEndpoint(db, receiver.url);
    const [eventId] = await publishEvents(db, [{ type: 'x', payload: {} }]);
    receiver.respond(() => ({ status: 500, body: 'boom' }));

    const first = await sweepOutbox(deps);
    const [afterFirst] = await deliveryRows(db);
    const firstDelay = await scheduledDelaySeconds();
    const early = await sweepOutbox(deps); // not due yet: nothing is sent
    await db.query(`UPDATE chores.webhook_deliveries SET next_attempt_at = now() - interval '1 second'`);
    await db.query('UPDATE chores.webhook_endpoints SET failing_since = NULL'); // the second failure starts the streak again
    await sweepOutbox(deps);
    const [afterSecond] = await deliveryRows(db);
    const secondDelay = await scheduledDelaySeconds();

    expect(first).toMatchObject({ processed: 1, retried: 1, delivered: 0 });
    expect(afterFirst).toMatchObject({
      status: 'pending',
      attempts: 1,
      last_status_code: 500,
      last_error: 'HTTP 500',
      last_response: 'boom',
    });
    expect(firstDelay).toBeGreaterThanOrEqual(4); // 5 s ± 20% jitter
    expect(firstDelay).toBeLessThanOrEqual(6);
    expect(early.processed).toBe(0);
    expect(afterSecond.attempts).toBe(2);
    expect(secondDelay).toBeGreaterThanOrEqual(240); // 5 min ± 20%
    expect(secondDelay).toBeLessThanOrEqual(360);
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id']))).toEqual(new Set([`msg_${eventId}`]));

    // The schedule has 9 retries: the 10th attempt failing is final.
    await db.query(`UPDATE chores.webhook_deliveries SET attempts = 9, next_attempt_at = now() - interval '1 second'`);
    const last = await sweepOutbox(deps);
    const [exhausted] = await deliveryRows(db);
    const {
      rows: [event],
    } = await db.query('SELECT status FROM chores.outbox_events WHERE id = $1', [eventId]);

    expect(last).toMatchObject({ failed: 1 });
    expect(exhausted).toMatchObject({ status: 'failed', attempts: 10 });
    expect(exhausted.last_error).toContain('retries exhausted after 10 attempts');
    expect(event.status).toBe('failed');
  });

  it('wait at least Retry-After on a 429', async () => {
    await addTestEndpoint(db, receiver.url);
    await publishEvents(db, [{ type: 'x', payload: {} }]);
    receiver.respond(() => ({ status: 429, headers: { 'retry-after': '120' } }));

    await sweepOutbox(deps);
    const [delivery] = await deliveryRows(db);

    expect(delivery).toMatchObject({ status: 'pending', last_status_code: 429 });
    expect(await scheduledDelaySeconds()).toBeGreaterThanOrEqual(120);
  });

  it('treat a redirect as a failure and never follow it', async () => {
    await addTestEndpoint(db, receiver.url);
    await publishEvents(db, [{ type: 'x', payload: {} }]);
    receiver.respond(() => ({ status: 302, headers: { location: `${other.url}/elsewhere` } }));

    await sweepOutbox(deps);
    const [delivery] = await deliveryRows(db);

    expect(delivery).toMatchObject({ status: 'pending', last_status_code: 302 });
    expect(delivery.last_error).toContain('not followed');
    expect(other.received).toEqual([]);
  });

  it('report each failed POST to the run, for the one log line per failure the saved query groups by endpoint', async () => {
    const endpoint = await addTestEndpoint(db, receiver.url);
    const [ok, bad] = await publishEvents(db, [
      { type: 'ok', payload: {} },
      { type: 'bad', payload: {} },
    ]);
    receiver.respond((request) => (request.body.includes('"bad"') ? { status: 500, body: 'boom' } : { status: 200, body: 'ok' }));
    const failures: FailedAttempt[] = [];

    await sweepOutbox({ ...deps, onFailedAttempt: (failure) => failures.push(failure) });

    expect(receiver.received).toHaveLength(2);
    expect(failures).toEqual([
      { endpointId: endpoint.id, deliveryId: expect.any(String), eventId: bad, attempt: 1, statusCode: 500, error: expect.any(String) },
    ]);
    expect(failures.map((f) => f.eventId)).not.toContain(ok);
  });

  it('time out a slow receiver and retry', async () => {
    const quick = outboxDeps(db, url, { OUTBOX_REQUEST_TIMEOUT_MS: '300' });
    await addTestEndpoint(db, receiver.url);
    await publishEvents(db, [{ type: 'x', payload: {} }]);
    receiver.respond(() => ({ status: 200, delayMs: 2_000 }));

    await sweepOutbox(quick);
    const [delivery] = await deliveryRows(db);

    expect(delivery).toMatchObject({ status: 'pending', attempts: 1, last_error: 'timed out after 300 ms' });
  });

  it('time out a receiver that stops halfway through its response body', async () => {
    const stalling = createServer((_request, response) => {
      response.writeHead(200, { 'content-length': '100' });
      response.write('half'); // and never the rest
    });
    await new Promise<void>((resolve) => stalling.listen(0, '127.0.0.1', resolve));
    const quick = outboxDeps(db, url, { OUTBOX_REQUEST_TIMEOUT_MS: '300' });
    await addTestEndpoint(db, `http://127.0.0.1:${(stalling.address() as AddressInfo).port}/`);
    await publishEvents(db, [{ type: 'x', payload: {} }]);

    try {
      await sweepOutbox(quick);
    } finally {
      stalling.closeAllConnections();
      stalling.close();
    }
    const [delivery] = await deliveryRows(db);

    expect(delivery).toMatchObject({ status: 'pending', attempts: 1, last_error: 'timed out after 300 ms' });
  });

  it('store an oversized response body truncated to the cap', async () => {
    await addTestEndpoint(db, receiver.url);
    await publishEvents(db, [{ type: 'x', payload: {} }]);
    receiver.respond(() => ({ status: 200, body: 'y'.repeat(1_000_000) }));

    await sweepOutbox(deps);
    const [delivery] = await deliveryRows(db);

    expect(delivery.status).toBe('delivered');
    expect(delivery.last_response).toHaveLength(4_096);
  });

  it('store a response body holding NUL bytes (a gzipped answer), which Postgres text refuses, without failing the flush', async () => {
    await addTestEndpoint(db, receiver.url);
    await addTestEndpoint(db, other.url);
    await publishEvents(db, [{ type: 'x', payload: {} }]);
    receiver.respond(() => ({ status: 200, headers: { 'content-encoding': 'gzip' }, body: '\u001f\u008b\u0008\u0000ok' }));

    const stats = await sweepOutbox(deps);
    const deliveries = await deliveryRows(db);
    const { rows: attempts } = await db.query('SELECT response FROM chores.webhook_attempts ORDER BY endpoint_id');

    expect(stats).toMatchObject({ processed: 2, delivered: 2 });
    expect(deliveries.map((d) => d.last_response)).toEqual(['\u001f\u008b\u0008\ufffdok', 'ok']);
    expect(attempts.map((a) => a.response)).toEqual(['\u001f\u008b\u0008\ufffdok', 'ok']);
  });

  it('disable an endpoint that answers 410, fail its other deliveries and tell the other subscribers', async () => {
    const gone = await addTestEndpoint(db, `${receiver.url}/gone`);
    await addTestEndpoint(db, other.url);
    receiver.respond(() => ({ status: 410 }));
    await publishEvents(db, [{ type: 'x', payload: {} }]);

    const stats = await sweepOutbox(deps);
    const {
      rows: [endpoint],
    } = await db.query('SELECT is_active, disabled_reason FROM chores.webhook_endpoints WHERE id = $1', [gone.id]);
    await sweepOutbox(deps); // delivers the announcement

    expect(stats).toMatchObject({ endpointsDisabled: 1, failed: 1, delivered: 1 });
    expect(endpoint).toEqual({ is_active: false, disabled_reason: 'the endpoint answered 410 Gone' });
    expect(other.received.map((r) => JSON.parse(r.body))).toContainEqual(
      expect.objectContaining({ type: 'endpoint.disabled', data: expect.objectContaining({ endpointId: gone.id, origin: receiver.url }) }),
    );
  });

  it('disable an endpoint that has only failed for longer than the limit', async () => {
    const failing = await addTestEndpoint(db, receiver.url);
    await addTestEndpoint(db, other.url, ['endpoint.disabled']);
    await db.query(`UPDATE chores.webhook_endpoints SET failing_since = now() - interval '121 hours' WHERE id = $1`, [failing.id]);
    receiver.respond(() => ({ status: 500 }));
    await publishEvents(db, [{ type: 'x', payload: {} }]);

    const stats = await sweepOutbox(deps);
    await sweepOutbox(deps);

    expect(stats.endpointsDisabled).toBe(1);
    expect((await db.query('SELECT is_active FROM chores.webhook_endpoints WHERE id = $1', [failing.id])).rows[0].is_active).toBe(false);
    expect(other.received.map((r) => JSON.parse(r.body).type)).toEqual(['endpoint.disabled']);
  });

  it('clear an endpoint failure streak on success, so an intermittent endpoint stays enabled', async () => {
    const flaky = await addTestEndpoint(db, receiver.url);
    await db.query(`UPDATE chores.webhook_endpoints SET failing_since = now() - interval '200 hours' WHERE id = $1`, [flaky.id]);
    await publishEvents(db, [{ type: 'x', payload: {} }]);

    await sweepOutbox(deps);

    expect((await db.query('SELECT is_active, failing_since FROM chores.webhook_endpoints')).rows[0]).toEqual({
      is_active: true,
      failing_since: null,
    });
  });
});

describe('concurrency and crashes', () => {
  it('never sends the same delivery twice from four concurrent sweepers', async () => {
    await addTestEndpoint(db, receiver.url);
    await addTestEndpoint(db, other.url);
    await publishEvents(
      db,
      Array.from({ length: 150 }, (_, i) => ({ type: 'bulk', payload: { i } })),
    );
    receiver.respond(() => ({ status: 200, delayMs: 2 }));

    const runs = await Promise.all([1, 2, 3, 4].map(() => sweepOutbox(deps)));
    const ids = [...receiver.received, ...other.received].map((r) => `${r.path}${r.headers.host} ${r.headers['webhook-id']}`);

    expect(ids).toHaveLength(300);
    expect(new Set(ids).size).toBe(300);
    expect(runs.reduce((sum, r) => sum + r.delivered, 0)).toBe(300);
  });

  it('redelivers after a crashed run once its lease lapses', async () => {
    await addTestEndpoint(db, receiver.url);
    await publishEvents(db, [{ type: 'x', payload: {} }]);
    await sweepOutbox({ ...deps, budget: { expired: () => true, remainingMs: () => 0 } }); // fans out only
    // A run that claims and then dies: the lease is taken, nothing is sent or recorded.
    await db.query(claimDue(schema, { limit: 10, leaseMs: 60_000, excludeEndpoints: [], byteBudget: 1_000_000, maxPayloadBytes: 262_144 }));

    const whileLeased = await sweepOutbox(deps);
    await db.query(`UPDATE chores.webhook_deliveries SET leased_until = now() - interval '1 second'`); // the lease lapses
    const afterExpiry = await sweepOutbox(deps);
    const [delivery] = await deliveryRows(db);

    expect(whileLeased.processed).toBe(0);
    expect(afterExpiry.delivered).toBe(1);
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 2 });
    expect(receiver.received).toHaveLength(1);
  });

  it('fails the run loudly and loses nothing when outcomes cannot be recorded', async () => {
    await addTestEndpoint(db, receiver.url);
    await publishEvents(db, [{ type: 'x', payload: {} }]);
    await db.query(`CREATE FUNCTION chores.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$`);
    await db.query(`CREATE TRIGGER refuse BEFORE UPDATE ON chores.webhook_deliveries FOR EACH ROW
                    WHEN (NEW.status IS DISTINCT FROM OLD.status) EXECUTE FUNCTION chores.refuse()`);

    try {
      await expect(sweepOutbox(deps)).rejects.toThrow('disk full');
    } finally {
      await db.query('DROP TRIGGER refuse ON chores.webhook_deliveries; DROP FUNCTION chores.refuse()');
    }
    await db.query(`UPDATE chores.webhook_deliveries SET leased_until = now() - interval '1 second'`); // the lease lapses
    const retry = await sweepOutbox(deps);

    expect(retry.delivered).toBe(1);
    expect(receiver.received).toHaveLength(2); // at least once: the unrecorded attempt is sent again
  });

  it('delivers what the fan-out made before it failed, then fails the run; the next run delivers the rest', async () => {
    await addTestEndpoint(db, receiver.url);
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO chores.outbox_events (event_type, payload) SELECT 'bulk', jsonb_build_object('i', i) FROM generate_series(1, 1200) AS i RETURNING id`,
    );
    // The fan-out's second batch (events 501–1,000) cannot insert its deliveries.
    await db.query(`CREATE FUNCTION chores.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$`);
    await db.query(`CREATE TRIGGER refuse BEFORE INSERT ON chores.webhook_deliveries FOR EACH ROW
                    WHEN (NEW.event_id = ${Number(rows[700]!.id)}) EXECUTE FUNCTION chores.refuse()`);

    try {
      await expect(sweepOutbox(deps)).rejects.toThrow('disk full');
    } finally {
      await db.query('DROP TRIGGER refuse ON chores.webhook_deliveries; DROP FUNCTION chores.refuse()');
    }
    const firstRun = receiver.received.length;
    const retry = await sweepOutbox(deps);
    const webhookIds = receiver.received.map((r) => r.headers['webhook-id']);

    expect(firstRun).toBe(500);
    expect(retry).toMatchObject({ fannedOut: 700, delivered: 700, remaining: 0 });
    expect(new Set(webhookIds).size).toBe(1_200);
    expect(webhookIds).toHaveLength(1_200);
  });

  // The slow endpoint's requests are held until every fast delivery has arrived, rather than for a
  // fixed time that a starved machine could outlast (its held slots would then free up, and a second
  // round of slow requests would be counted). The generous request timeout keeps held requests from
  // timing out meanwhile; the test takes a second or two when the machine is idle.
  it('keeps a slow endpoint from starving a fast one', { timeout: 90_000 }, async () => {
    const patient = outboxDeps(db, url, { OUTBOX_REQUEST_TIMEOUT_MS: '60000' });
    await addTestEndpoint(db, `${receiver.url}/slow`, ['slow']);
    await addTestEndpoint(db, `${other.url}/fast`, ['fast']);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    receiver.respond(() => ({ status: 200, after: released }));
    await publishEvents(db, [
      ...Array.from({ length: 40 }, () => ({ type: 'slow', payload: {} })),
      ...Array.from({ length: 40 }, () => ({ type: 'fast', payload: {} })),
    ]);

    const sweep = sweepOutbox(patient);
    // Every fast delivery arrives while the slow endpoint's first requests are still held.
    await vi.waitFor(() => expect(other.received).toHaveLength(40), { timeout: 50_000, interval: 20 });
    const slowWhileFastFlowed = receiver.received.length;
    release();
    const stats = await sweep;

    expect(slowWhileFastFlowed).toBeLessThanOrEqual(PER_ENDPOINT_CONCURRENCY); // the slow one only ever held its own slots
    expect(stats).toMatchObject({ delivered: 80, failed: 0 });
    expect(receiver.received).toHaveLength(40);
  });

  it('delivers exactly the listed events on the fast path', async () => {
    await addTestEndpoint(db, receiver.url);
    const [first, second] = await publishEvents(db, [
      { type: 'a', payload: {} },
      { type: 'b', payload: {} },
    ]);

    const stats = await deliverEvents(deps, [first!]);

    expect(stats).toMatchObject({ fannedOut: 1, delivered: 1, remaining: 1 });
    expect(receiver.received.map((r) => r.headers['webhook-id'])).toEqual([`msg_${first}`]);
    expect((await db.query('SELECT status FROM chores.outbox_events WHERE id = $1', [second])).rows[0].status).toBe('pending');
  });

  it('completes an event whose two deliveries two runs record at the same moment, once both outcomes are visible', async () => {
    await addTestEndpoint(db, receiver.url);
    await addTestEndpoint(db, other.url);
    const [eventId] = await publishEvents(db, [{ type: 'x', payload: {} }]);
    await sweepOutbox({ ...deps, budget: { expired: () => true, remainingMs: () => 0 } }); // fans out only
    const { rows: claimed } = await db.query<ClaimedDelivery>(
      claimDue(schema, { limit: 10, leaseMs: 60_000, excludeEndpoints: [], byteBudget: 1_000_000, maxPayloadBytes: 262_144 }),
    );
    const delivered = (d: ClaimedDelivery): AttemptRecord[] => [
      {
        result: { id: d.id, attempt: d.attempts, status: 'delivered', delayMs: 0, statusCode: 200, error: null, response: 'ok' },
        eventId: d.event_id,
        endpointId: d.endpoint_id,
        startedAt: new Date(),
        durationMs: 1,
      },
    ];
    const eventStatus = async () => (await db.query('SELECT status FROM chores.outbox_events WHERE id = $1', [eventId])).rows[0].status;

    // Run A records its outcome in a transaction that has not committed when run B records its own:
    // each statement sees the other delivery still pending, so neither can complete the event.
    const runA = await db.connect();
    let recordedA: { recheck: boolean }[];
    let recordedB: { recheck: boolean }[];
    try {
      await runA.query('BEGIN');
      recordedA = (await runA.query(recordResults(schema, delivered(claimed[0]!), 'sweep'))).rows;
      recordedB = (await db.query(recordResults(schema, delivered(claimed[1]!), 'sweep'))).rows;
      await runA.query('COMMIT');
    } finally {
      runA.release();
    }
    const beforeRecheck = await eventStatus();
    await db.query(completeEvents(schema, [eventId!])); // what each run does for rows marked recheck

    expect(claimed).toHaveLength(2);
    expect([recordedA[0]!.recheck, recordedB[0]!.recheck]).toEqual([true, true]);
    expect(beforeRecheck).toBe('fanned_out');
    expect(await eventStatus()).toBe('delivered');
  });

  it('completes an event in the same statement that records its last outcome', async () => {
    await addTestEndpoint(db, receiver.url);
    await addTestEndpoint(db, other.url);
    const [eventId] = await publishEvents(db, [{ type: 'x', payload: {} }]);

    const stats = await sweepOutbox(deps);
    const { rows } = await db.query('SELECT status, completed_at FROM chores.outbox_events WHERE id = $1', [eventId]);

    expect(stats).toMatchObject({ delivered: 2, processed: 2 });
    expect(rows[0]).toMatchObject({ status: 'delivered', completed_at: expect.any(Date) });
  });

  it("claims deliveries with HOT updates: the lease is written on the row's own page, with no index entry", async () => {
    await addTestEndpoint(db, receiver.url);
    await db.query(`INSERT INTO chores.outbox_events (event_type, payload) SELECT 'burst', '{}' FROM generate_series(1, 1000)`);
    await sweepOutbox({ ...deps, budget: { expired: () => true, remainingMs: () => 0 } }); // fans out only

    const client = await db.connect();
    try {
      // This backend's counters, which may still hold earlier transactions' updates: the claim's are the difference.
      const counters = async () => {
        const { rows } = await client.query<{ updated: string; hot: string }>(
          `SELECT n_tup_upd AS updated, n_tup_hot_upd AS hot FROM pg_stat_xact_user_tables WHERE relid = 'chores.webhook_deliveries'::regclass`,
        );
        return { updated: Number(rows[0]!.updated), hot: Number(rows[0]!.hot) };
      };
      await client.query('BEGIN');
      const before = await counters();
      const claim = claimDue(schema, {
        limit: 500,
        leaseMs: 60_000,
        excludeEndpoints: [],
        byteBudget: 16_000_000,
        maxPayloadBytes: 262_144,
      });
      const { rowCount } = await client.query(claim);
      const after = await counters();

      expect(rowCount).toBe(500);
      expect({ updated: after.updated - before.updated, hot: after.hot - before.hot }).toEqual({ updated: 500, hot: 500 });
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });

  it("refreshes the planner's statistics after fanning out a burst, so fan-outs and claims walk their indexes", async () => {
    // Only the sweep may refresh them: an autovacuum analyze landing between the insert and the first
    // look (2,000 rows pass its threshold) would fail the test, and one during the sweep would pass it
    // whatever the sweep did.
    await db.query('ALTER TABLE chores.outbox_events SET (autovacuum_enabled = false)');
    await db.query('ALTER TABLE chores.webhook_deliveries SET (autovacuum_enabled = false)');
    const endpoint = await addTestEndpoint(db, receiver.url);
    // Paused: the burst is fanned out and nothing is sent, which is all this test needs.
    await db.query(`UPDATE chores.webhook_endpoints SET paused_until = now() + interval '1 hour' WHERE id = $1`, [endpoint.id]);
    await db.query(
      `INSERT INTO chores.outbox_events (event_type, payload) SELECT 'burst', '{"burst": true}' FROM generate_series(1, 2000)`,
    );
    const reltuples = async (table: string) =>
      Number((await db.query(`SELECT reltuples FROM pg_class WHERE oid = $1::regclass`, [table])).rows[0].reltuples);
    const before = [await reltuples('chores.webhook_deliveries'), await reltuples('chores.outbox_events')];

    const stats = await sweepOutbox(deps);

    expect(stats).toMatchObject({ fannedOut: 2000, processed: 0 });
    expect(Math.max(...before)).toBeLessThan(2000);
    expect(await reltuples('chores.webhook_deliveries')).toBe(2000);
    expect(await reltuples('chores.outbox_events')).toBe(2000);
    // The columns plans use are analyzed as the fan-out left them; the payloads, which no plan
    // looks at and which cost most of a full analyze, are not sampled.
    const commonValues = async (table: string, column: string) =>
      (
        await db.query(`SELECT most_common_vals::text AS v FROM pg_stats WHERE schemaname = 'chores' AND tablename = $1 AND attname = $2`, [
          table,
          column,
        ])
      ).rows[0]?.v as string | undefined;
    expect(await commonValues('outbox_events', 'status')).toBe('{fanned_out}');
    expect(await commonValues('webhook_deliveries', 'status')).toBe('{pending}');
    expect((await commonValues('outbox_events', 'payload')) ?? 'none').not.toContain('burst');
  });
});
