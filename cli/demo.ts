import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { qualified, type SchemaName } from '../shared/db/identifiers.js';
import type { Db } from '../shared/db/pool.js';
import { LOCAL_DIR } from './local.js';

const SEEDED_MARKER = join(LOCAL_DIR, 'demo-seeded');
export const DEMO_RESULTS = 2_000;

/**
 * On the embedded database's first run, 2,000 results like a busy Celery app's: four task
 * families, every status, ages spread over two weeks, a few with a producer-set expires_at.
 * With the default rules about a third are due for deletion. Seeded once; later runs find the
 * survivors and show a quiet, idempotent cleanup.
 */
export async function seedDemoOnce(db: Db, schema: SchemaName): Promise<boolean> {
  if (existsSync(SEEDED_MARKER)) return false;
  await db.query(
    `INSERT INTO ${qualified(schema, 'task_results')}
       (task_id, task_name, status, result, date_created, date_done, expires_at, worker, retries)
     SELECT 'demo-' || i,
            (ARRAY['billing.charge', 'mail.send', 'reports.build', 'audit.log_access'])[1 + i % 4],
            s.status,
            CASE WHEN s.status = 'SUCCESS' THEN jsonb_build_object('ok', true, 'n', i) END,
            done - interval '2 seconds',
            CASE WHEN s.status <> 'PENDING' THEN done END,
            CASE WHEN i % 50 = 0 THEN now() - interval '1 hour' END,
            'celery@demo-' || (i % 3), i % 3
     FROM generate_series(1, $1::int) AS i,
          LATERAL (SELECT (ARRAY['SUCCESS','SUCCESS','SUCCESS','SUCCESS','SUCCESS','SUCCESS','SUCCESS','FAILURE','REVOKED','PENDING'])[1 + i % 10] AS status) AS s,
          LATERAL (SELECT now() - (i % 14) * interval '1 day' - (i % 24) * interval '1 hour' AS done) AS d
     ON CONFLICT (task_id) DO NOTHING`,
    [DEMO_RESULTS],
  );
  await mkdir(LOCAL_DIR, { recursive: true });
  await writeFile(SEEDED_MARKER, new Date().toISOString());
  return true;
}
