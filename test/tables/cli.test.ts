import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { testDatabase } from '../helpers/db.js';
import { tempDir } from '../helpers/temp.js';

const { db, url } = await testDatabase();
const BIN = join(import.meta.dirname, '../../bin/chores.mjs');

async function chores(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await promisify(execFile)('node', [BIN, ...args], { env: { ...process.env, DATABASE_URL: url, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('chores run tables-cleanup and chores tables restore', () => {
  it('dry-runs, cleans with an archive, and restores the archived rows from the command line', async () => {
    await db.query(`CREATE TABLE audit_log (id bigint PRIMARY KEY, created_at timestamptz NOT NULL);
      INSERT INTO audit_log SELECT n, now() - (n - 0.5) * interval '1 day' FROM generate_series(1, 40) AS n`);
    const env = {
      TABLE_RETENTION: '[{"table":"public.audit_log","timestampColumn":"created_at","keep":"30d","archive":true,"label":"audit"}]',
      RESULTS_ARCHIVE_URL: `file://${await tempDir('chores-tables-cli-')}`,
    };

    const dry = await chores(['run', 'tables-cleanup', '--dry-run', '--json'], env);
    const real = await chores(['run', 'tables-cleanup', '--json'], env);
    const restored = await chores(['tables', 'restore', '--table', 'public.audit_log', '--json'], env);
    const badTable = await chores(['tables', 'restore', '--table', 'audit log'], env);

    expect(JSON.parse(dry.stdout)).toMatchObject({
      job: 'tables-cleanup',
      dryRun: true,
      deleted: 0,
      wouldDelete: 10,
      accessPaths: { audit: 'heap' },
    });
    expect(JSON.parse(real.stdout)).toMatchObject({ deleted: 10, archived: 10, remaining: 0, byPolicy: { audit: 10 } });
    expect(JSON.parse(restored.stdout)).toEqual({ objectsRead: 1, matched: 10, restored: 10, alreadyPresent: 0 });
    expect((await db.query('SELECT count(*)::int AS n FROM audit_log')).rows[0].n).toBe(40);
    expect(badTable).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^chores: .*--table\[0\]: "table": "audit log" is not a plain identifier/),
    });
  }, 180_000); // four CLI processes, each loading the handlers

  it('accepts --dry-run for uploads-cleanup and outbox-cleanup, which refused it before', async () => {
    const uploads = await chores(['run', 'uploads-cleanup', '--dry-run', '--json'], {
      UPLOADS_STORAGE_URL: `file://${await tempDir('chores-uploads-cli-')}`,
    });
    const outbox = await chores(['run', 'outbox-cleanup', '--dry-run', '--json']);

    expect(JSON.parse(uploads.stdout)).toMatchObject({
      job: 'uploads-cleanup',
      dryRun: true,
      deleted: 0,
      wouldDelete: 0,
      wouldFreeBytes: 0,
    });
    expect(JSON.parse(outbox.stdout)).toMatchObject({ job: 'outbox-cleanup', dryRun: true, deleted: 0, wouldDelete: 0 });
  }, 120_000);
});
