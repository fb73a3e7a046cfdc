import { readdir } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { JobName } from '../../shared/jobs.js';
import { FileStorage } from '../../shared/storage/file.js';
import { testDatabase } from '../helpers/db.js';
import { freshEntry, lambdaContext } from '../helpers/lambda.js';
import { seedResults } from '../helpers/results.js';
import { seedUploads, uploadKeys } from '../helpers/uploads.js';
import { tempDir } from '../helpers/temp.js';

const { db, url } = await testDatabase();
let uploadsDir: string;

/** The job's real Lambda entry (functions/<job>.ts), built from this environment. */
function entry(job: JobName) {
  type Entry = { handler: (event: unknown, context: unknown) => Promise<Record<string, unknown>> };
  return freshEntry(() => import(`../../functions/${job}.ts`) as Promise<Entry>, {
    DATABASE_URL: url,
    UPLOADS_STORAGE_URL: `file://${uploadsDir}`,
  });
}

beforeEach(async () => {
  uploadsDir = await tempDir('chores-dry-uploads-');
  await db.query('TRUNCATE chores.uploads, chores.outbox_events CASCADE');
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describe('--dry-run on every cleanup job', () => {
  it('uploads-cleanup counts what it would delete and the bytes it would free, and touches neither rows nor objects', async () => {
    await seedUploads(db, new FileStorage(uploadsDir), [
      { key: 'old-a', createdAgo: '30 hours', size: 100 },
      { key: 'old-b', createdAgo: '2 hours', expiresIn: '-1 minute', size: 23 },
      { key: 'young', createdAgo: '1 hour', size: 5 },
    ]);

    const stats = await (await entry('uploads-cleanup'))({ dryRun: true }, lambdaContext());

    expect(stats).toMatchObject({ job: 'uploads-cleanup', dryRun: true, deleted: 0, wouldDelete: 2, wouldFreeBytes: 123, bytesFreed: 0 });
    expect(await uploadKeys(db)).toEqual(['old-a', 'old-b', 'young']);
    expect((await readdir(uploadsDir)).sort()).toEqual(['old-a', 'old-b', 'young']);
  });

  it('outbox-cleanup counts the terminal events past retention and deletes none', async () => {
    await db.query(`INSERT INTO chores.outbox_events (event_type, status, completed_at)
      SELECT 'bulk', 'delivered', now() - interval '300 hours' FROM generate_series(1, 7)`);
    await db.query(
      `INSERT INTO chores.outbox_events (event_type, status, completed_at) VALUES ('young', 'delivered', now() - interval '1 hour')`,
    );

    const stats = await (await entry('outbox-cleanup'))({ dryRun: true }, lambdaContext());

    expect(stats).toMatchObject({ job: 'outbox-cleanup', dryRun: true, deleted: 0, wouldDelete: 7, remaining: 7 });
    expect((await db.query('SELECT count(*)::int AS n FROM chores.outbox_events')).rows[0].n).toBe(8);
  });

  it('results-cleanup reports wouldDelete beside its per-rule counts', async () => {
    await seedResults(db, [
      { taskId: 'old', doneAgo: '8 days' },
      { taskId: 'revoked', status: 'REVOKED', doneAgo: '1 minute' },
      { taskId: 'young', doneAgo: '1 hour' },
    ]);

    const stats = await (await entry('results-cleanup'))({ dryRun: true }, lambdaContext());

    expect(stats).toMatchObject({ job: 'results-cleanup', dryRun: true, deleted: 0, wouldDelete: 2, remaining: 2 });
    expect((await db.query(`SELECT count(*)::int AS n FROM chores.task_results WHERE task_name NOT LIKE 'chores.%'`)).rows[0].n).toBe(3);
  });
});
