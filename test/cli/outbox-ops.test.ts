import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { testDatabase } from '../helpers/db.js';
import { sweepOutbox } from '../../shared/outbox/service.js';
import { addTestEndpoint, outboxDeps, publishEvents } from '../helpers/outbox.js';
import { startReceiver } from '../helpers/receiver.js';

const { db, url } = await testDatabase();
const BIN = join(import.meta.dirname, '../../bin/chores.mjs');
const receiver = await startReceiver();
// The receiver is on loopback over http.
const ENV = { DATABASE_URL: url, OUTBOX_ALLOW_HTTP: 'true', OUTBOX_ALLOWED_CIDRS: '127.0.0.1/32' };
// The outage is run here, in-process, with one retry: two sweeps exhaust it.
const deps = outboxDeps(db, url, { OUTBOX_RETRY_SCHEDULE: '5s' });

async function chores(args: string[]) {
  try {
    const { stdout, stderr } = await promisify(execFile)('node', [BIN, ...args], { env: { ...process.env, ...ENV } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

// Each command is a fresh Node process (a few seconds apiece on a loaded machine); the first test runs seven.
const SLOW = 180_000;

describe('webhook operations from the chores CLI', () => {
  it(
    'replays an outage through the outbox-deliver payload, then inspects events, attempts and endpoint stats',
    async () => {
      const endpoint = await addTestEndpoint(db, `${receiver.url}/hooks`);
      const [first, second] = await publishEvents(db, [
        { type: 'order.paid', payload: { n: 1 } },
        { type: 'order.paid', payload: { n: 2 } },
      ]);
      receiver.respond(() => ({ status: 503, body: 'maintenance' }));
      await sweepOutbox(deps);
      await db.query(`UPDATE chores.webhook_deliveries SET next_attempt_at = now() WHERE status = 'pending'`);
      const outage = await sweepOutbox(deps);
      receiver.respond(() => ({ status: 200, body: 'ok' }));

      const replay = JSON.parse(
        (await chores(['run', 'outbox-deliver', '--set', `replay={"endpointId":"${endpoint.id}","since":"1h"}`, '--json'])).stdout,
      );
      const again = JSON.parse((await chores(['outbox', 'replay', '--endpoint', endpoint.id, '--json'])).stdout);
      const events = JSON.parse((await chores(['outbox', 'events', '--status', 'delivered', '--json'])).stdout);
      const shown = JSON.parse((await chores(['outbox', 'show', first!, '--json'])).stdout);
      const stats = JSON.parse((await chores(['endpoints', 'stats', endpoint.id, '--json'])).stdout);
      const badSince = await chores(['outbox', 'replay', '--endpoint', endpoint.id, '--since', 'last tuesday']);

      expect(outage).toMatchObject({ processed: 2, failed: 2 });
      expect(replay).toMatchObject({ job: 'outbox-deliver', replayed: 2, processed: 2, delivered: 2, remaining: 0 });
      expect(again).toMatchObject({ replayed: 0, dryRun: false, eventIds: [] });
      expect(events.map((e: { id: string }) => e.id)).toEqual([second, first]);
      expect(shown.deliveries).toHaveLength(1);
      expect(shown.deliveries[0].history).toEqual([
        expect.objectContaining({ attempt: 1, trigger: 'sweep', outcome: 'retry', status_code: 503, response: 'maintenance' }),
        expect.objectContaining({ attempt: 2, trigger: 'sweep', outcome: 'failed', status_code: 503 }),
        expect.objectContaining({ attempt: 3, trigger: 'replay', outcome: 'delivered', status_code: 200 }),
      ]);
      expect(stats).toMatchObject({ attempts: receiver.received.length, delivered: 2, retried: 2, failed: 2, pending: 0 });
      expect(stats.successRate).toBeCloseTo(2 / 6);
      // Each event reached the receiver three times under its one webhook-id: twice in the outage, once replayed.
      expect(receiver.received.map((r) => String(r.headers['webhook-id'])).sort()).toEqual([
        ...Array(3).fill(`msg_${first}`),
        ...Array(3).fill(`msg_${second}`),
      ]);
      expect(badSince).toMatchObject({ code: 1, stderr: expect.stringMatching(/^chores: --since: bad time "last tuesday"/) });
    },
    SLOW,
  );

  it(
    'enables a disabled endpoint and replays what failed while it was off, in one command',
    async () => {
      const endpoint = await addTestEndpoint(db, `${receiver.url}/back`);
      const [eventId] = await publishEvents(db, [{ type: 'order.refunded', payload: {} }]);
      await db.query(`UPDATE chores.webhook_endpoints SET is_active = false, disabled_reason = 'by hand' WHERE id = $1`, [endpoint.id]);
      await db.query(
        `INSERT INTO chores.webhook_deliveries (event_id, endpoint_id, status, attempts, last_error, completed_at)
       VALUES ($1, $2, 'failed', 0, 'endpoint disabled: by hand', now())`,
        [eventId, endpoint.id],
      );
      await db.query(`UPDATE chores.outbox_events SET status = 'failed', completed_at = now() WHERE id = $1`, [eventId]);

      const enabled = await chores(['endpoints', 'enable', endpoint.id, '--replay-since', '24h']);
      const { rows } = await db.query(`SELECT status, next_attempt_at <= now() AS due FROM chores.webhook_deliveries WHERE event_id = $1`, [
        eventId,
      ]);

      expect(enabled.code).toBe(0);
      expect(enabled.stdout).toContain(`endpoint ${endpoint.id} enabled\nreplayed 1 deliveries (1 events) to endpoint ${endpoint.id}`);
      expect(enabled.stdout).toContain('the next sweep (within a minute) delivers them');
      expect(rows).toEqual([{ status: 'pending', due: true }]);
    },
    SLOW,
  );
});
