import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { beforeEach, describe, expect, it } from 'vitest';
import { UNLIMITED_BUDGET } from '../../shared/runtime/budget.js';
import { FileStorage } from '../../shared/storage/file.js';
import { openStorage } from '../../shared/storage/open.js';
import type { ObjectStorage } from '../../shared/storage/port.js';
import { S3Storage } from '../../shared/storage/s3.js';
import { parseStorageUrl } from '../../shared/storage/url.js';
import { cleanupUploads } from '../../shared/uploads/cleanup.js';
import { claimExpired } from '../../shared/uploads/sql.js';
import { schema, testDatabase } from '../helpers/db.js';
import { closedPort } from '../helpers/ports.js';
import { localS3 } from '../helpers/s3.js';
import { TEST_S3_TIMEOUTS, s3ConfigFor, silentEndpoint, stallingHttpEndpoint } from '../helpers/stalling.js';
import { seedUploads, uploadKeys } from '../helpers/uploads.js';
import { tempDir } from '../helpers/temp.js';

const { db } = await testDatabase();
const s3 = await localS3(['uploads']);

let root: string;
let storage: FileStorage;
const clean = (store: ObjectStorage = storage) => cleanupUploads({ db, schema, storage: store, ttlHours: 24, budget: UNLIMITED_BUDGET });
const exists = (store: ObjectStorage, key: string) =>
  store.get(key).then(
    () => true,
    () => false,
  );

beforeEach(async () => {
  await db.query('TRUNCATE chores.uploads');
  root = await tempDir('chores-uploads-');
  storage = new FileStorage(root);
});

describe('uploads-cleanup', () => {
  it('deletes uploads past their TTL or their explicit expires_at, object first, with exact stats', async () => {
    await seedUploads(db, storage, [
      { key: 'ttl-expired', createdAgo: '25 hours', size: 100 },
      { key: 'ttl-young', createdAgo: '23 hours', size: 1 },
      { key: 'explicit-expired', createdAgo: '1 hour', expiresIn: '-1 minute', size: 20 },
      { key: 'explicit-extended', createdAgo: '30 hours', expiresIn: '1 hour', size: 1 },
    ]);

    const stats = await clean();

    expect(stats).toEqual({ deleted: 2, missing: 0, shared: 0, failed: 0, bytesFreed: 120, remaining: 0, truncated: false });
    expect(await uploadKeys(db)).toEqual(['explicit-extended', 'ttl-young']);
    expect(await exists(storage, 'ttl-expired')).toBe(false);
    expect(await exists(storage, 'explicit-expired')).toBe(false);
    expect(await exists(storage, 'ttl-young')).toBe(true);
  });

  it('counts an already-missing object as missing, frees nothing for it, and removes its row', async () => {
    await seedUploads(db, storage, [
      { key: 'gone-already', createdAgo: '2 days', size: 500, withObject: false },
      { key: 'present', createdAgo: '2 days', size: 7 },
    ]);

    const stats = await clean();

    expect(stats).toMatchObject({ deleted: 1, missing: 1, failed: 0, bytesFreed: 7 });
    expect(await uploadKeys(db)).toEqual([]);
  });

  it('keeps the row of a key that fails to delete, and retries it on a later run', async () => {
    await seedUploads(db, storage, [
      { key: 'stuck', createdAgo: '2 days' },
      { key: 'fine', createdAgo: '2 days' },
    ]);
    // A non-empty directory where the object should be: unlink fails for real.
    await mkdir(join(root, 'stuck-dir'));
    await writeFile(join(root, 'stuck-dir', 'inside'), 'x');
    await db.query(`UPDATE chores.uploads SET storage_key = 'stuck-dir' WHERE storage_key = 'stuck'`);

    const first = await clean();
    const rerunSameLease = await clean();
    await db.query(`UPDATE chores.uploads SET cleanup_leased_until = now() - interval '1 second'`);
    const nextRun = await clean();

    expect(first).toMatchObject({ deleted: 1, failed: 1, remaining: 1 });
    expect(await uploadKeys(db)).toEqual(['stuck-dir']);
    expect(rerunSameLease.failed).toBe(0); // not hammered again while its lease holds
    expect(nextRun.failed).toBe(1);
  });

  it('repairs a crash between the object delete and the row delete on the next run, without waiting out the lease', async () => {
    await seedUploads(db, storage, [
      { key: 'a', createdAgo: '2 days', size: 3 },
      { key: 'b', createdAgo: '2 days', size: 4 },
      { key: 'not-reached', createdAgo: '2 days', size: 5 },
    ]);
    // The crashed run: claimed the rows, deleted two objects, died before deleting any row.
    await db.query(claimExpired(schema, 24, 100, 60_000));
    await storage.deleteMany(['a', 'b']);

    const nextRun = await clean();

    // a and b: confirmed missing, so gone at once. not-reached: its object exists, so its lease stands.
    expect(nextRun).toEqual({ deleted: 0, missing: 2, shared: 0, failed: 0, bytesFreed: 0, remaining: 1, truncated: false });
    expect(await uploadKeys(db)).toEqual(['not-reached']);
    expect(await exists(storage, 'not-reached')).toBe(true);
  });

  it('keeps an object another unexpired upload references, removing only the expired row', async () => {
    const ids = await seedUploads(db, storage, [{ key: 'report.pdf', createdAgo: '2 days', size: 40 }]);
    // A second upload of the same object, still live (within its TTL).
    await db.query(`INSERT INTO chores.uploads (storage_key, size_bytes, created_at) VALUES ('report.pdf', 40, now() - interval '1 hour')`);

    const stats = await clean();
    const { rows } = await db.query(`SELECT id::text FROM chores.uploads`);

    expect(stats).toEqual({ deleted: 0, missing: 0, shared: 1, failed: 0, bytesFreed: 0, remaining: 0, truncated: false });
    expect(await exists(storage, 'report.pdf')).toBe(true);
    expect(rows.map((row) => row.id)).not.toContain(ids.get('report.pdf'));
    expect(rows).toHaveLength(1);
  });

  it('deletes an object once every upload referencing it has expired, freeing its bytes once', async () => {
    await seedUploads(db, storage, [{ key: 'twice.bin', createdAgo: '3 days', size: 64 }]);
    await db.query(`INSERT INTO chores.uploads (storage_key, size_bytes, created_at, expires_at)
      VALUES ('twice.bin', 64, now() - interval '1 hour', now() - interval '1 minute')`);

    const stats = await clean();

    expect(stats).toMatchObject({ deleted: 2, shared: 0, bytesFreed: 64, remaining: 0 });
    expect(await exists(storage, 'twice.bin')).toBe(false);
    expect(await uploadKeys(db)).toEqual([]);
  });

  it('works in bounded batches and stops when the budget is spent', async () => {
    await db.query(`INSERT INTO chores.uploads (storage_key, size_bytes, created_at)
      SELECT 'bulk/' || i, 1, now() - interval '3 days' FROM generate_series(1, 1500) AS i`);

    const stats = await cleanupUploads({ db, schema, storage, ttlHours: 24, budget: { expired: () => true, remainingMs: () => 0 } });

    expect(stats).toMatchObject({ missing: 1_000, remaining: 500, truncated: true });
  });

  it.each([
    ['a bucket that does not exist', () => new S3Storage(s3.client, 'no-such-bucket', 'u')],
    ['a directory that does not exist', () => new FileStorage('/nonexistent/chores-uploads')],
  ])('loses nothing when pointed at %s', async (_name, open) => {
    await db.query(`INSERT INTO chores.uploads (storage_key, created_at) VALUES ('real-object', now() - interval '2 days')`);

    await expect(clean(open())).rejects.toThrow(/nothing was deleted/);

    expect(await uploadKeys(db)).toEqual(['real-object']);
  });

  it('names the connection error when the S3 endpoint is down, and loses nothing', async () => {
    await db.query(`INSERT INTO chores.uploads (storage_key, created_at) VALUES ('real-object', now() - interval '2 days')`);
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const down = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });

    const failure = clean(new S3Storage(down, 'uploads', 'u'));

    await expect(failure).rejects.toThrow(/bucket uploads is not reachable \(Error: .*ECONNREFUSED.*\); nothing was deleted/);
    expect(await uploadKeys(db)).toEqual(['real-object']);
  });

  it('names the timeout when the S3 endpoint accepts and never answers, and loses nothing', async () => {
    await db.query(`INSERT INTO chores.uploads (storage_key, created_at) VALUES ('real-object', now() - interval '2 days')`);
    const silent = await silentEndpoint();
    const hung = openStorage(parseStorageUrl('s3://uploads/u', 'TEST'), s3ConfigFor(silent.endpoint), undefined, TEST_S3_TIMEOUTS);

    const failure = clean(hung);

    await expect(failure).rejects.toThrow(/^bucket uploads is not reachable \(timed out after 3 attempts: .*\); nothing was deleted/);
    expect(await uploadKeys(db)).toEqual(['real-object']);
  });

  it('fails the run when object HEADs hang, deleting no object and no row', async () => {
    await db.query(`INSERT INTO chores.uploads (storage_key, created_at)
      SELECT 'hung/' || i, now() - interval '2 days' FROM generate_series(1, 50) AS i`);
    // The bucket answers; every object HEAD hangs, so nothing is known about any object.
    const stalling = await stallingHttpEndpoint((request) => (/^\/uploads\/?(\?|$)/.test(request.url!) ? 200 : 'stall'));
    const hung = openStorage(parseStorageUrl('s3://uploads/u', 'TEST'), s3ConfigFor(stalling.endpoint), undefined, TEST_S3_TIMEOUTS);

    const failure = clean(hung);

    await expect(failure).rejects.toThrow(/^HEAD s3:\/\/uploads\/u\/hung\/\d+ timed out after [1-3] attempts: .*; nothing was deleted/);
    expect(stalling.requests.some((r) => r.startsWith('POST'))).toBe(false);
    expect(await uploadKeys(db)).toHaveLength(50);
  });

  it('deletes through S3 DeleteObjects, telling deleted from missing', async () => {
    const bucket = new S3Storage(s3.client, 'uploads', 'u');
    await seedUploads(db, bucket, [
      { key: 'in-s3', createdAgo: '2 days', size: 11 },
      { key: 'never-uploaded', createdAgo: '2 days', size: 99, withObject: false },
    ]);

    const stats = await clean(bucket);

    expect(stats).toMatchObject({ deleted: 1, missing: 1, failed: 0, bytesFreed: 11 });
    expect(await exists(bucket, 'in-s3')).toBe(false);
  });
});
