import { beforeEach, describe, expect, it } from 'vitest';
import { InProcessDispatcher } from '../../shared/outbox/dispatch.js';
import { UNLIMITED_BUDGET } from '../../shared/runtime/budget.js';
import { FileStorage } from '../../shared/storage/file.js';
import { notifyExpiringUploads } from '../../shared/uploads/notify.js';
import { schema, testDatabase } from '../helpers/db.js';
import { seedUploads } from '../helpers/uploads.js';
import { tempDir } from '../helpers/temp.js';

const { db } = await testDatabase();
const storage = new FileStorage(await tempDir('chores-notify-'));
const dispatched: string[][] = [];
const notify = () =>
  notifyExpiringUploads({
    db,
    schema,
    ttlHours: 24,
    noticeHours: 6,
    budget: UNLIMITED_BUDGET,
    dispatcher: new InProcessDispatcher(async (ids) => dispatched.push(ids)),
  });

async function notices() {
  const { rows } = await db.query(
    `SELECT id::text, payload, idempotency_key FROM chores.outbox_events WHERE event_type = 'file.expiring' ORDER BY id`,
  );
  return rows;
}

beforeEach(async () => {
  await db.query('TRUNCATE chores.uploads, chores.outbox_events CASCADE');
  dispatched.length = 0;
});

describe('uploads-notify', () => {
  it('publishes one file.expiring event per upload inside the notice window, and dispatches it', async () => {
    const ids = await seedUploads(db, storage, [
      { key: 'ttl-soon', createdAgo: '20 hours' }, // expires in 4 h
      { key: 'explicit-soon', expiresIn: '2 hours' },
      { key: 'ttl-later', createdAgo: '10 hours' }, // expires in 14 h
      { key: 'already-expired', createdAgo: '30 hours' },
      { key: 'explicit-far', createdAgo: '23 hours', expiresIn: '3 days' },
    ]);

    const stats = await notify();
    const events = await notices();

    expect(stats).toEqual({ notified: 2, skipped: 0, dispatchFailed: 0, truncated: false });
    expect(events.map((e) => e.payload.storageKey).sort()).toEqual(['explicit-soon', 'ttl-soon']);
    expect(events.find((e) => e.payload.storageKey === 'ttl-soon')!.payload).toEqual({
      uploadId: ids.get('ttl-soon'),
      storageKey: 'ttl-soon',
      expiresAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    });
    expect(dispatched.flat().sort()).toEqual(events.map((e) => e.id).sort());
  });

  it('counts the notices the fast path could not take, which stay pending for the sweep', async () => {
    await seedUploads(db, storage, [{ key: 'soon', createdAgo: '20 hours' }]);

    const stats = await notifyExpiringUploads({
      db,
      schema,
      ttlHours: 24,
      noticeHours: 6,
      budget: UNLIMITED_BUDGET,
      dispatcher: new InProcessDispatcher(async () => {
        throw new Error('the queue is unreachable');
      }),
    });
    const { rows } = await db.query(`SELECT status FROM chores.outbox_events WHERE event_type = 'file.expiring'`);

    expect(stats).toMatchObject({ notified: 1, dispatchFailed: 1 });
    expect(rows).toEqual([{ status: 'pending' }]);
  });

  it('never notifies twice across reruns', async () => {
    await seedUploads(db, storage, [
      { key: 'a', createdAgo: '20 hours' },
      { key: 'b', expiresIn: '1 hour' },
    ]);

    const first = await notify();
    const second = await notify();

    expect(first).toMatchObject({ notified: 2, skipped: 0 });
    expect(second).toMatchObject({ notified: 0, skipped: 2 });
    expect(await notices()).toHaveLength(2);
  });

  it('never notifies twice across concurrent runs', async () => {
    await db.query(
      `INSERT INTO chores.uploads (storage_key, created_at) SELECT 'many/' || i, now() - interval '20 hours' FROM generate_series(1, 1200) AS i`,
    );

    const runs = await Promise.all([notify(), notify(), notify()]);

    expect(runs.reduce((sum, r) => sum + r.notified, 0)).toBe(1_200);
    expect(await notices()).toHaveLength(1_200);
  });

  it('re-arms the notice when the expiry is extended', async () => {
    const ids = await seedUploads(db, storage, [{ key: 'extended', expiresIn: '1 hour' }]);
    await notify();

    await db.query(`UPDATE chores.uploads SET expires_at = now() + interval '5 hours' WHERE id = $1`, [ids.get('extended')]);
    const afterExtension = await notify();
    const events = await notices();

    expect(afterExtension.notified).toBe(1);
    expect(events).toHaveLength(2);
    expect(new Set(events.map((e) => e.idempotency_key)).size).toBe(2);
    expect(events.every((e) => e.idempotency_key.startsWith(`file.expiring:${ids.get('extended')}:`))).toBe(true);
  });
});
