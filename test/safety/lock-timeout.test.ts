import { afterEach, describe, expect, it } from 'vitest';
import { PgErrorCode } from '../../shared/db/pg-errors.js';
import type { DbClient } from '../../shared/db/pool.js';
import { cleanupOutbox } from '../../shared/outbox/cleanup.js';
import { cleanupResults } from '../../shared/results/cleanup.js';
import { parseRules } from '../../shared/results/rules.js';
import { nativeTable } from '../../shared/results/stores.js';
import { UNLIMITED_BUDGET } from '../../shared/runtime/budget.js';
import type { ObjectStorage } from '../../shared/storage/port.js';
import { FileStorage } from '../../shared/storage/file.js';
import { cleanupUploads } from '../../shared/uploads/cleanup.js';
import { schema, testDatabase } from '../helpers/db.js';
import { addTestEndpoint, publishEvents } from '../helpers/outbox.js';
import { remainingTaskIds, seedResults } from '../helpers/results.js';
import { tempDir } from '../helpers/temp.js';
import { seedUploads, uploadKeys } from '../helpers/uploads.js';

// Every cleanup batch runs under lock_timeout: a lock held elsewhere (an index build, an operator's
// open transaction) makes the batch give up and the run end, instead of queueing behind the lock
// with every writer queued behind it. Without lock_timeout these runs wait for as long as the lock
// is held: here, until the test's timeout, the only bound on them.
const WOULD_WAIT_FOREVER = { timeout: 20_000 };

const { db } = await testDatabase();
const storage = new FileStorage(await tempDir('chores-lock-timeout-'));
let holder: DbClient | undefined;

/** Another session takes `lockSql` in an open transaction, and keeps it until the test ends. */
async function holdLock(lockSql: string, values: unknown[] = []): Promise<void> {
  holder = await db.connect();
  await holder.query('BEGIN');
  await holder.query(lockSql, values);
}

/** The relations the holding session still has locked, granted. */
async function stillHeld(): Promise<string[]> {
  const { rows } = await db.query<{ relation: string }>(
    `SELECT DISTINCT relation::regclass::text AS relation FROM pg_locks
     WHERE pid = $1 AND granted AND relation IS NOT NULL AND relation::regclass::text LIKE 'chores.%' ORDER BY 1`,
    [(holder as unknown as { processID: number }).processID],
  );
  return rows.map((row) => row.relation);
}

afterEach(async () => {
  await holder?.query('ROLLBACK');
  holder?.release();
  holder = undefined;
});

describe('cleanup runs under a lock held elsewhere', () => {
  it.each(['heap', 'index'] as const)(
    'results-cleanup gives up on a table locked by an index build instead of queueing behind it (%s path)',
    WOULD_WAIT_FOREVER,
    async (accessPath) => {
      await db.query('TRUNCATE chores.task_results');
      await seedResults(db, [{ taskId: 'expired', doneAgo: '30 days' }]);
      // SHARE is what CREATE INDEX (without CONCURRENTLY) holds: reads go on, deletes must wait.
      await holdLock('LOCK TABLE chores.task_results IN SHARE MODE');

      const run = cleanupResults({
        db,
        table: nativeTable(schema),
        rules: parseRules('[{"keep":"7d"}]'),
        settings: { dryRun: false, batchSize: 1_000, accessPath },
        budget: UNLIMITED_BUDGET,
        runId: 'locked',
      });

      const error = await run.then(
        () => undefined,
        (thrown: unknown) => thrown as Error & { cause?: { code?: string } },
      );
      // Named: Postgres' own "canceling statement due to lock timeout" said neither where nor what to do.
      expect(error?.message).toMatch(/^a batch on "chores"\."task_results" gave up after waiting 2s for a lock .*pg_stat_activity/);
      expect(error?.cause?.code).toBe(PgErrorCode.lockNotAvailable);
      expect(await stillHeld()).toContain('chores.task_results');
      expect(await remainingTaskIds(db)).toEqual(['expired']);
    },
  );

  it('outbox-cleanup gives up on a delivery row another transaction holds instead of waiting for it', WOULD_WAIT_FOREVER, async () => {
    await db.query('TRUNCATE chores.outbox_events, chores.webhook_endpoints CASCADE');
    const endpoint = await addTestEndpoint(db, 'http://127.0.0.1:9/never-called');
    const [eventId] = await publishEvents(db, [{ type: 'old', payload: {} }]);
    await db.query(`UPDATE chores.outbox_events SET status = 'delivered', completed_at = now() - interval '200 hours' WHERE id = $1`, [
      eventId,
    ]);
    await db.query(`INSERT INTO chores.webhook_deliveries (event_id, endpoint_id, status) VALUES ($1, $2, 'delivered')`, [
      eventId,
      endpoint.id,
    ]);
    // The event itself is free (its claim skips locked events); the delete cascades to this row.
    await holdLock('SELECT id FROM chores.webhook_deliveries WHERE event_id = $1 FOR UPDATE', [eventId]);

    const run = cleanupOutbox({ db, schema, retentionHours: 168, budget: UNLIMITED_BUDGET });

    await expect(run).rejects.toMatchObject({ code: PgErrorCode.lockNotAvailable });
    expect(await stillHeld()).toContain('chores.webhook_deliveries');
    expect((await db.query('SELECT id FROM chores.outbox_events WHERE id = $1', [eventId])).rowCount).toBe(1);
  });

  it('uploads-cleanup gives up claiming from a table locked by an index build, deleting nothing', WOULD_WAIT_FOREVER, async () => {
    await db.query('TRUNCATE chores.uploads');
    await seedUploads(db, storage, [{ key: 'claim-blocked', createdAgo: '25 hours' }]);
    await holdLock('LOCK TABLE chores.uploads IN SHARE MODE');

    const run = cleanupUploads({ db, schema, storage, ttlHours: 24, budget: UNLIMITED_BUDGET });

    await expect(run).rejects.toMatchObject({ code: PgErrorCode.lockNotAvailable });
    expect(await stillHeld()).toContain('chores.uploads');
    expect(await storage.get('claim-blocked').then(() => 'object kept')).toBe('object kept');
    expect(await uploadKeys(db)).toEqual(['claim-blocked']);
  });

  it('uploads-cleanup gives up deleting a row a producer locked meanwhile, and the next run removes it', WOULD_WAIT_FOREVER, async () => {
    await db.query('TRUNCATE chores.uploads');
    await seedUploads(db, storage, [{ key: 'delete-blocked', createdAgo: '25 hours' }]);
    // The real file storage; the row is locked by another session while its object is deleted,
    // as a producer touching the upload at that moment would.
    const lockingWhileDeleting: ObjectStorage = {
      url: storage.url,
      put: (key, body, type) => storage.put(key, body, type),
      get: (key) => storage.get(key),
      list: (prefix) => storage.list(prefix),
      probe: (keys) => storage.probe(keys),
      deleteMany: async (keys) => {
        await holdLock('SELECT id FROM chores.uploads WHERE storage_key = ANY($1::text[]) FOR UPDATE', [keys]);
        return storage.deleteMany(keys);
      },
    };

    const blocked = cleanupUploads({ db, schema, storage: lockingWhileDeleting, ttlHours: 24, budget: UNLIMITED_BUDGET });

    await expect(blocked).rejects.toMatchObject({ code: PgErrorCode.lockNotAvailable });
    expect(await stillHeld()).toContain('chores.uploads');
    expect(await uploadKeys(db)).toEqual(['delete-blocked']); // the row stays, leased, for the next run

    await holder!.query('ROLLBACK');
    await db.query(`UPDATE chores.uploads SET cleanup_leased_until = now() - interval '1 second'`); // the lease lapses
    const next = await cleanupUploads({ db, schema, storage, ttlHours: 24, budget: UNLIMITED_BUDGET });

    expect(next).toMatchObject({ deleted: 0, missing: 1, failed: 0, remaining: 0 });
    expect(await uploadKeys(db)).toEqual([]);
  });
});
