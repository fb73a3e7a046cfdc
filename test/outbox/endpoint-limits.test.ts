import { beforeEach, describe, expect, it, vi } from 'vitest';
import { PER_ENDPOINT_CONCURRENCY } from '../../shared/outbox/limits.js';
import { deliverEvents, sweepOutbox } from '../../shared/outbox/service.js';
import { testDatabase } from '../helpers/db.js';
import { addTestEndpoint, deliveryRows, outboxDeps, publishEvents } from '../helpers/outbox.js';
import { startReceiver } from '../helpers/receiver.js';

const { db, url } = await testDatabase();
const deps = outboxDeps(db, url);
const receiver = await startReceiver();

beforeEach(async () => {
  await db.query('TRUNCATE chores.outbox_events, chores.webhook_endpoints CASCADE');
  receiver.received.length = 0;
  receiver.respond(() => ({ status: 200, body: 'ok' }));
});

describe('per-endpoint limits', () => {
  // The hanging requests time out after 8 s by design, which the suite's 10 s default left only 2 s
  // of a starved machine's setup to spare.
  it('keep a hanging endpoint from delaying another endpoint on the same origin: each healthy delivery arrives once', {
    timeout: 60_000,
  }, async () => {
    // Two runs sharing one HTTP pool, as runs in one Lambda container do: the first is stuck on the
    // hanging endpoint when the second starts delivering to the healthy one on the same host:port.
    // A healthy POST queued behind the hanging ones would wait out their 8 s and time out at 4 s;
    // one that is not queued has 4 s to spare on a starved machine.
    const patient = outboxDeps(db, url, { OUTBOX_REQUEST_TIMEOUT_MS: '8000' });
    const quick = { ...outboxDeps(db, url, { OUTBOX_REQUEST_TIMEOUT_MS: '4000' }), sender: patient.sender };
    const hanging = await addTestEndpoint(db, `${receiver.url}/hang`, ['hang']);
    await addTestEndpoint(db, `${receiver.url}/ok`, ['ok']);
    receiver.respond((request) => (request.path === '/hang' ? { status: 200, delayMs: 60_000 } : { status: 200 }));
    const hangIds = await publishEvents(
      db,
      Array.from({ length: PER_ENDPOINT_CONCURRENCY }, () => ({ type: 'hang', payload: {} })),
    );
    const okIds = await publishEvents(
      db,
      Array.from({ length: 16 }, () => ({ type: 'ok', payload: {} })),
    );

    const stuck = deliverEvents(patient, hangIds);
    await vi.waitFor(() => expect(receiver.received.filter((r) => r.path === '/hang')).toHaveLength(PER_ENDPOINT_CONCURRENCY), {
      timeout: 30_000,
    });
    const stats = await deliverEvents(quick, okIds);
    await stuck;
    const healthy = receiver.received.filter((r) => r.path === '/ok').map((r) => r.headers['webhook-id']);
    const rows = await deliveryRows(db);

    expect(stats).toMatchObject({ delivered: 16, retried: 0 });
    expect(healthy).toHaveLength(16);
    expect(new Set(healthy).size).toBe(16);
    expect(rows.filter((r) => r.endpoint_id !== hanging.id).map((r) => r.status)).toEqual(Array(16).fill('delivered'));
    expect(rows.filter((r) => r.endpoint_id === hanging.id).map((r) => r.last_error)).toEqual(Array(8).fill('timed out after 8000 ms'));
  });
});

describe('throttling', () => {
  it('pauses the whole endpoint on a 429 with Retry-After: nothing more is sent until then', async () => {
    const endpoint = await addTestEndpoint(db, receiver.url);
    let answered = 0;
    receiver.respond(() => (answered++ === 0 ? { status: 429, headers: { 'retry-after': '3600' } } : { status: 200 }));
    await publishEvents(
      db,
      Array.from({ length: 50 }, (_, i) => ({ type: 'x', payload: { i } })),
    );

    const first = await sweepOutbox(deps);
    const second = await sweepOutbox(deps);
    const {
      rows: [paused],
    } = await db.query(`SELECT extract(epoch FROM paused_until - now()) AS s FROM chores.webhook_endpoints WHERE id = $1`, [endpoint.id]);
    const pending = (await deliveryRows(db)).filter((r) => r.status === 'pending');

    // Only what was already in flight when the 429 came back reached the receiver.
    expect(receiver.received.length).toBeGreaterThanOrEqual(1);
    expect(receiver.received.length).toBeLessThanOrEqual(PER_ENDPOINT_CONCURRENCY);
    expect(first.delivered).toBe(receiver.received.length - 1);
    expect(second.processed).toBe(0);
    expect(Number(paused.s)).toBeGreaterThan(3_590);
    expect(pending).toHaveLength(50 - first.delivered);
    expect(pending.every((r) => Number(r.due_in_s) > 3_590)).toBe(true);
    expect(first.remaining).toBe(0); // a paused endpoint's deliveries are not due
  });

  it('caps a pause at a day and never shortens one already running', async () => {
    const endpoint = await addTestEndpoint(db, receiver.url);
    receiver.respond(() => ({ status: 503, headers: { 'retry-after': String(30 * 86_400) } }));
    await publishEvents(db, [{ type: 'x', payload: {} }]);

    await sweepOutbox(deps);
    const {
      rows: [capped],
    } = await db.query(`SELECT extract(epoch FROM paused_until - now()) AS s FROM chores.webhook_endpoints WHERE id = $1`, [endpoint.id]);

    expect(Number(capped.s)).toBeGreaterThan(86_390);
    expect(Number(capped.s)).toBeLessThanOrEqual(86_400);
  });

  it('defers only the delivery on a 502 with Retry-After (a proxy speaking, not the endpoint)', async () => {
    const endpoint = await addTestEndpoint(db, receiver.url);
    receiver.respond(() => ({ status: 502, headers: { 'retry-after': '600' } }));
    await publishEvents(db, [
      { type: 'x', payload: {} },
      { type: 'x', payload: {} },
    ]);

    await sweepOutbox(deps);
    const {
      rows: [state],
    } = await db.query('SELECT paused_until FROM chores.webhook_endpoints WHERE id = $1', [endpoint.id]);

    expect(receiver.received).toHaveLength(2);
    expect(state.paused_until).toBeNull();
  });
});

describe('refused URLs', () => {
  it('fail at once with the reason instead of being retried for days', async () => {
    const strict = outboxDeps(db, url, { OUTBOX_ALLOWED_CIDRS: '10.255.255.254/32' });
    const port = new URL(receiver.url).port;
    await addTestEndpoint(db, `http://localhost:${port}/hook`);
    const [eventId] = await publishEvents(db, [{ type: 'x', payload: {} }]);

    const stats = await sweepOutbox(strict);
    const [delivery] = await deliveryRows(db);
    const {
      rows: [event],
    } = await db.query('SELECT status FROM chores.outbox_events WHERE id = $1', [eventId]);

    expect(stats).toMatchObject({ processed: 1, failed: 1, retried: 0 });
    expect(delivery).toMatchObject({ status: 'failed', attempts: 1 });
    expect(delivery.last_error).toMatch(
      /localhost resolves to (127\.0\.0\.1|::1), which is not a globally routable unicast address: loopback/,
    );
    expect(event.status).toBe('failed');
    expect(receiver.received).toEqual([]);
  });
});
