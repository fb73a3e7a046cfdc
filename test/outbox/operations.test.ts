import { beforeEach, describe, expect, it } from 'vitest';
import { cleanupOutbox } from '../../shared/outbox/cleanup.js';
import { PER_ENDPOINT_CONCURRENCY } from '../../shared/outbox/deliver.js';
import { disableEndpointByHand, enableEndpoint } from '../../shared/outbox/endpoints.js';
import { endpointStatistics, listEvents, showEvent } from '../../shared/outbox/inspect.js';
import { replay } from '../../shared/outbox/replay.js';
import { replayOutbox, sweepOutbox, type OutboxDeliverStats } from '../../shared/outbox/service.js';
import { UNLIMITED_BUDGET } from '../../shared/runtime/budget.js';
import { parseSettings } from '../../shared/runtime/settings.js';
import { schema, testDatabase } from '../helpers/db.js';
import { addTestEndpoint, outboxDeps, publishEvents } from '../helpers/outbox.js';
import { startReceiver } from '../helpers/receiver.js';

const { db, url } = await testDatabase();
// One retry, so "retries exhausted" takes two attempts.
const deps = outboxDeps(db, url, { OUTBOX_RETRY_SCHEDULE: '5s' });
const receiver = await startReceiver();

beforeEach(async () => {
  await db.query('TRUNCATE chores.outbox_events, chores.webhook_endpoints CASCADE');
  receiver.received.length = 0;
  receiver.respond(() => ({ status: 200, body: 'ok' }));
});

/** Makes every pending delivery due now, instead of sleeping through its backoff. */
async function makeRetriesDue(): Promise<void> {
  await db.query(`UPDATE chores.webhook_deliveries SET next_attempt_at = now() WHERE status = 'pending'`);
}

function idsReceived(): string[] {
  return receiver.received.map((r) => String(r.headers['webhook-id']));
}

function addsUp(stats: OutboxDeliverStats): boolean {
  return stats.processed === stats.delivered + stats.retried + stats.failed + stats.superseded;
}

describe('replay', () => {
  it('sends deliveries that failed in an outage again, once each, with their original webhook-id; a second replay finds nothing', async () => {
    const endpoint = await addTestEndpoint(db, receiver.url);
    const eventIds = await publishEvents(
      db,
      [1, 2, 3].map((n) => ({ type: 'order.paid', payload: { n } })),
    );
    receiver.respond(() => ({ status: 500, body: 'down' }));
    await sweepOutbox(deps);
    await makeRetriesDue();
    const exhausted = await sweepOutbox(deps);
    receiver.received.length = 0;
    receiver.respond(() => ({ status: 200, body: 'back' }));

    const replayed = await replayOutbox(deps, { endpointId: endpoint.id, status: 'failed' });
    const again = await replay(db, schema, { endpointId: endpoint.id, status: 'failed' });
    const { rows: events } = await db.query(`SELECT status FROM chores.outbox_events ORDER BY id`);

    expect(exhausted).toMatchObject({ processed: 3, failed: 3 });
    expect(replayed).toMatchObject({ replayed: 3, processed: 3, delivered: 3, retried: 0, failed: 0, remaining: 0 });
    expect(idsReceived().sort()).toEqual(eventIds.map((id) => `msg_${id}`).sort());
    expect(events.map((e) => e.status)).toEqual(['delivered', 'delivered', 'delivered']);
    expect(again).toMatchObject({ replayed: 0, eventIds: [] });
  });

  it('starts a fresh retry cycle: a replayed delivery that fails again is retried, not failed at once', async () => {
    const endpoint = await addTestEndpoint(db, receiver.url);
    const [eventId] = await publishEvents(db, [{ type: 'order.paid', payload: {} }]);
    receiver.respond(() => ({ status: 500 }));
    await sweepOutbox(deps);
    await makeRetriesDue();
    await sweepOutbox(deps);

    const stillDown = await replayOutbox(deps, { endpointId: endpoint.id, status: 'failed' });
    await makeRetriesDue();
    receiver.respond(() => ({ status: 204 }));
    const recovered = await sweepOutbox(deps);
    const { deliveries } = await showEvent(db, schema, eventId!);

    expect(stillDown).toMatchObject({ replayed: 1, processed: 1, retried: 1, failed: 0 });
    expect(recovered).toMatchObject({ processed: 1, delivered: 1 });
    expect(deliveries[0]!.history.map((a) => `${a.attempt} ${a.trigger} ${a.outcome} ${a.status_code}`)).toEqual([
      '1 sweep retry 500',
      '2 sweep failed 500',
      '3 replay retry 500',
      '4 sweep delivered 204',
    ]);
  });

  it('with --status all also resends delivered ones, and only in the given time window and endpoint', async () => {
    const endpoint = await addTestEndpoint(db, receiver.url);
    const other = await addTestEndpoint(db, `${receiver.url}/other`);
    const [old, recent] = await publishEvents(db, [
      { type: 'a', payload: {} },
      { type: 'b', payload: {} },
    ]);
    await sweepOutbox(deps);
    await db.query(`UPDATE chores.outbox_events SET created_at = now() - interval '3 days' WHERE id = $1`, [old]);
    receiver.received.length = 0;

    const dry = await replay(
      db,
      schema,
      { endpointId: endpoint.id, status: 'all', since: new Date(Date.now() - 86_400_000) },
      { dryRun: true },
    );
    const onlyFailed = await replay(db, schema, { endpointId: endpoint.id, status: 'failed' });
    const stats = await replayOutbox(deps, { endpointId: endpoint.id, status: 'all', since: new Date(Date.now() - 86_400_000) });

    expect(dry).toMatchObject({ replayed: 1, dryRun: true, eventIds: [recent] });
    expect(onlyFailed.replayed).toBe(0);
    expect(stats).toMatchObject({ replayed: 1, delivered: 1 });
    expect(receiver.received.map((r) => `${r.path} ${r.headers['webhook-id']}`)).toEqual([`/ msg_${recent}`]);
    expect(other.id).not.toBe(endpoint.id);
  });

  it('refuses a disabled endpoint, naming how to enable and replay', async () => {
    const endpoint = await addTestEndpoint(db, receiver.url);
    await db.query(`UPDATE chores.webhook_endpoints SET is_active = false, disabled_reason = 'gone' WHERE id = $1`, [endpoint.id]);

    await expect(replay(db, schema, { endpointId: endpoint.id, status: 'failed' })).rejects.toThrow(
      `endpoint ${endpoint.id} is disabled (gone) — enable it and replay in one step: \`chores endpoints enable ${endpoint.id} --replay-since <time>\``,
    );
  });
});

describe('ids that are not row ids', () => {
  it('are refused naming the id, in a replay payload, the endpoint commands and outbox show, never as a Postgres cast error', async () => {
    const tooBig = '9223372036854775808';

    const payload = () => parseSettings('outbox-deliver', { replay: { endpointId: tooBig } });

    expect(payload).toThrow(/replay\.endpointId: must be a numeric id \(digits, within bigint\)/);
    await expect(disableEndpointByHand(db, schema, 'abc', 'typo')).rejects.toThrow('no webhook endpoint with id abc');
    await expect(enableEndpoint(db, schema, tooBig)).rejects.toThrow(`no webhook endpoint with id ${tooBig}`);
    await expect(showEvent(db, schema, tooBig)).rejects.toThrow(`"${tooBig}" is not an event id`);
  });
});

describe('filters that can match nothing by mistake', () => {
  it('are refused naming the problem: an unknown event status, a replay window whose since is not before its until', async () => {
    const endpoint = await addTestEndpoint(db, receiver.url);
    const window = {
      endpointId: endpoint.id,
      status: 'failed' as const,
      since: new Date(Date.now() - 86_400_000),
      until: new Date(Date.now() - 7 * 86_400_000),
    };

    const unknownStatus = listEvents(db, schema, { status: 'faild', limit: 10 });
    const swapped = replay(db, schema, window, { dryRun: true });

    await expect(unknownStatus).rejects.toThrow('--status must be one of pending, fanned_out, delivered, failed, got "faild"');
    await expect(swapped).rejects.toThrow(/^the replay window is empty: since \S+ is not before until \S+$/);
  });
});

describe('attempt history and endpoint stats', () => {
  it('record one attempt per POST the receiver saw, and the stats add up to what it answered', async () => {
    const endpoint = await addTestEndpoint(db, receiver.url);
    await publishEvents(
      db,
      Array.from({ length: 20 }, (_, n) => ({ type: 'order.paid', payload: { n } })),
    );
    let answered = 0;
    const answers = { ok: 0, failed: 0 };
    // Every third request fails, with a body the attempt keeps the start of.
    receiver.respond(() => {
      const fail = answered++ % 3 === 0;
      answers[fail ? 'failed' : 'ok'] += 1;
      return fail ? { status: 500, body: `boom ${'x'.repeat(2000)}` } : { status: 200, body: 'ok' };
    });

    const runs = [await sweepOutbox(deps)];
    await makeRetriesDue();
    runs.push(await sweepOutbox(deps));
    await makeRetriesDue();
    runs.push(await sweepOutbox(deps));
    const stats = await endpointStatistics(db, schema, endpoint.id, new Date(Date.now() - 3_600_000));
    const { rows: attempts } = await db.query(`SELECT event_id::text, response FROM chores.webhook_attempts`);
    const processed = runs.reduce((sum, run) => sum + run.processed, 0);

    expect(attempts).toHaveLength(receiver.received.length);
    expect(stats).toMatchObject({ attempts: receiver.received.length, delivered: answers.ok, superseded: 0, pending: 0 });
    expect(stats.retried + stats.failed).toBe(answers.failed);
    expect(stats.successRate).toBeCloseTo(answers.ok / receiver.received.length);
    expect(stats.p50Ms).toEqual(expect.any(Number));
    expect(stats.lastError).toMatchObject({ statusCode: 500, error: expect.stringMatching(/^HTTP 500/) });
    expect(processed).toBe(receiver.received.length);
    expect(runs.every(addsUp)).toBe(true);
    expect(Math.max(...attempts.map((a) => (a.response ?? '').length))).toBe(512);
  });

  it('lists events by status and shows each delivery with its attempts', async () => {
    await addTestEndpoint(db, receiver.url);
    const [first, second] = await publishEvents(db, [
      { type: 'order.paid', payload: {} },
      { type: 'user.created', payload: {} },
    ]);
    receiver.respond((request) => (request.body.includes('user.created') ? { status: 500 } : { status: 200 }));
    await sweepOutbox(deps);

    const retrying = await listEvents(db, schema, { status: 'fanned_out', limit: 10 });
    const paid = await listEvents(db, schema, { type: 'order.paid', limit: 10 });
    const shown = await showEvent(db, schema, second!);

    expect(retrying.map((e) => e.id)).toEqual([second]);
    expect(paid).toEqual([expect.objectContaining({ id: first, status: 'delivered', deliveries: 1, delivered: 1 })]);
    expect(shown.deliveries).toEqual([
      expect.objectContaining({
        status: 'pending',
        attempts: 1,
        history: [expect.objectContaining({ attempt: 1, outcome: 'retry', status_code: 500 })],
      }),
    ]);
  });

  it('are removed with their event by outbox-cleanup', async () => {
    await addTestEndpoint(db, receiver.url);
    await publishEvents(db, [{ type: 'order.paid', payload: {} }]);
    await sweepOutbox(deps);
    await db.query(`UPDATE chores.outbox_events SET completed_at = now() - interval '200 hours'`);

    const before = await db.query('SELECT 1 FROM chores.webhook_attempts');
    await cleanupOutbox({ db, schema, retentionHours: 168, budget: UNLIMITED_BUDGET });
    const after = await db.query('SELECT 1 FROM chores.webhook_attempts');

    expect(before.rowCount).toBe(1);
    expect(after.rowCount).toBe(0);
  });
});

describe('an endpoint that must stop', () => {
  it('gets no new POST after its first 410: only those already in flight land, and the stats add up', async () => {
    const endpoint = await addTestEndpoint(db, receiver.url);
    await publishEvents(
      db,
      Array.from({ length: 60 }, (_, n) => ({ type: 'order.paid', payload: { n } })),
    );
    receiver.respond(() => ({ status: 410, body: 'gone', delayMs: 20 }));

    const stats = await sweepOutbox(deps);
    const {
      rows: [state],
    } = await db.query(`SELECT is_active, disabled_reason FROM chores.webhook_endpoints WHERE id = $1`, [endpoint.id]);
    const { rows: events } = await db.query(`SELECT DISTINCT status FROM chores.outbox_events WHERE event_type = 'order.paid'`);

    expect(receiver.received.length).toBeGreaterThan(0);
    expect(receiver.received.length).toBeLessThanOrEqual(PER_ENDPOINT_CONCURRENCY);
    expect(stats.processed).toBe(receiver.received.length);
    expect(addsUp(stats)).toBe(true);
    expect(stats.processed + stats.cancelled).toBe(60);
    expect(stats).toMatchObject({ endpointsDisabled: 1, delivered: 0, retried: 0 });
    expect(state).toEqual({ is_active: false, disabled_reason: 'the endpoint answered 410 Gone' });
    expect(events).toEqual([{ status: 'failed' }]);
  });

  it('gets no new POST once it has failed past ENDPOINT_DISABLE_AFTER_HOURS', async () => {
    const endpoint = await addTestEndpoint(db, receiver.url);
    await db.query(`UPDATE chores.webhook_endpoints SET failing_since = now() - interval '200 hours' WHERE id = $1`, [endpoint.id]);
    await publishEvents(
      db,
      Array.from({ length: 60 }, (_, n) => ({ type: 'order.paid', payload: { n } })),
    );
    receiver.respond(() => ({ status: 500, delayMs: 20 }));

    const stats = await sweepOutbox(deps);

    expect(receiver.received.length).toBeLessThanOrEqual(PER_ENDPOINT_CONCURRENCY);
    expect(stats).toMatchObject({ endpointsDisabled: 1, processed: receiver.received.length });
    expect(stats.processed + stats.cancelled).toBe(60);
  });
});
