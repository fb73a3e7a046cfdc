import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { sweepOutbox } from '../../shared/outbox/service.js';
import type { TimeBudget } from '../../shared/runtime/budget.js';
import { testDatabase } from '../helpers/db.js';
import { addTestEndpoint, deliveryRows, outboxDeps, publishEvents } from '../helpers/outbox.js';
import { startReceiver } from '../helpers/receiver.js';

// The two guards around a delivery's lease, each tested by what the receiver gets and what the
// rows say: an outcome is recorded only by the run whose attempt holds the lease (fencing), and
// deliveries a run claimed but never started go back when it stops (not after the lease).

const { db, url } = await testDatabase();
const deps = outboxDeps(db, url);
const receiver = await startReceiver();
const gate = await startHeldReceiver();

interface HeldRequest {
  headers: IncomingHttpHeaders;
  answer(status: number): void;
}

/** A real HTTP server on 127.0.0.1 that holds every request until the test answers it. */
async function startHeldReceiver() {
  const arrivals: HeldRequest[] = [];
  let arrived = () => {};
  const server = createServer((req, res) => {
    req.resume().on('end', () => {
      arrivals.push({ headers: req.headers, answer: (status) => res.writeHead(status).end() });
      arrived();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrivals,
    /** Resolves with the `n`th request (1-based) once it has arrived. */
    async request(n: number): Promise<HeldRequest> {
      while (arrivals.length < n) await new Promise<void>((resolve) => (arrived = resolve));
      return arrivals[n - 1]!;
    },
  };
}

async function deliveryWithLease() {
  const [row] = await deliveryRows(db);
  const { rows } = await db.query<{ leased: boolean }>('SELECT leased_until > now() AS leased FROM chores.webhook_deliveries');
  return { status: row.status, attempts: row.attempts, last_status_code: row.last_status_code, leased: rows[0]!.leased };
}

beforeEach(async () => {
  await db.query('TRUNCATE chores.outbox_events, chores.webhook_endpoints CASCADE');
  receiver.received.length = 0;
  gate.arrivals.length = 0;
  receiver.respond(() => ({ status: 200 }));
});

describe('the delivery lease', () => {
  it('ignores the outcome of a run whose lease lapsed mid-request while another run holds the delivery', async () => {
    await addTestEndpoint(db, gate.url);
    await publishEvents(db, [{ type: 'order.paid', payload: {} }]);
    const stale = sweepOutbox(deps);
    const staleRequest = await gate.request(1);
    await db.query(`UPDATE chores.webhook_deliveries SET leased_until = now() - interval '1 second'`); // its lease lapses
    const current = sweepOutbox(deps);
    const currentRequest = await gate.request(2);

    staleRequest.answer(500); // the stale run hears back first, while the current run is still sending
    await stale;
    const afterStaleOutcome = await deliveryWithLease();
    currentRequest.answer(200);
    await current;
    const settled = await deliveryWithLease();

    expect(afterStaleOutcome).toEqual({ status: 'pending', attempts: 2, last_status_code: null, leased: true });
    expect(settled).toEqual({ status: 'delivered', attempts: 2, last_status_code: 200, leased: null });
    expect(staleRequest.headers['webhook-id']).toBe(currentRequest.headers['webhook-id']);
  });

  it('gives claimed but unstarted deliveries back when the budget ends, so the next run sends them at once', async () => {
    await addTestEndpoint(db, receiver.url);
    // More than one run can start at once, whatever the concurrency limits, so some stay unstarted.
    const total = 200;
    await publishEvents(
      db,
      Array.from({ length: total }, (_, i) => ({ type: 'bulk', payload: { i } })),
    );
    let out = false;
    const endsAtFirstRequest: TimeBudget = { expired: () => out, remainingMs: () => (out ? 0 : 600_000) };
    receiver.respond(() => {
      out = true;
      return { status: 200 };
    });

    await sweepOutbox({ ...deps, budget: endsAtFirstRequest });
    const sentBeforeBudgetEnded = receiver.received.length;
    await sweepOutbox(deps); // at once: no lease of the first run has lapsed
    const rows = await deliveryRows(db);
    const ids = receiver.received.map((r) => r.headers['webhook-id']);

    expect(sentBeforeBudgetEnded).toBeGreaterThan(0);
    expect(sentBeforeBudgetEnded).toBeLessThan(total);
    expect(ids).toHaveLength(total);
    expect(new Set(ids).size).toBe(total);
    // Given back, not spent: each was sent once, on its first attempt.
    expect(rows.map((r) => `${r.status}/${r.attempts}`)).toEqual(Array.from({ length: total }, () => 'delivered/1'));
  });
});
