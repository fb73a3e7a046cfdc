import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { qualified, type SchemaName } from '../shared/db/identifiers.js';
import type { Db } from '../shared/db/pool.js';
import { generateSecret } from '../shared/outbox/endpoints.js';
import { publish } from '../shared/outbox/publish.js';
import { LOCAL_DIR } from './local.js';
import type { SecretBox } from '../shared/outbox/secrets.js';

const SEEDED_MARKER = join(LOCAL_DIR, 'demo-seeded');
export const DEMO_RESULTS = 2_000;
export const DEMO_UPLOADS_DIR = join(LOCAL_DIR, 'uploads');

/**
 * The embedded database's first run gets a small world to maintain: 2,000 results like a busy
 * Celery app's (four task families, every status, ages over two weeks, a few with expires_at),
 * a webhook endpoint served by the local demo receiver, a few events, and uploads with files
 * under .chores/uploads — some expired, some about to be, one whose file is already gone.
 * Seeded once; later runs find the survivors and show quiet, idempotent maintenance.
 */
export async function seedDemoOnce(db: Db, schema: SchemaName, receiverUrl: string, secrets: SecretBox): Promise<boolean> {
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
  await db.query(`INSERT INTO ${qualified(schema, 'webhook_endpoints')} (url, secret, event_types) VALUES ($1, $2, '{}')`, [
    receiverUrl,
    secrets.seal(generateSecret()),
  ]);
  const client = await db.connect();
  try {
    for (const [type, payload] of [
      ['order.paid', { orderId: 1042, total: '99.00' }],
      ['user.created', { userId: 7 }],
      ['invoice.sent', { invoiceId: 'INV-3' }],
    ] as const) {
      await publish(client, schema, { type, payload, idempotencyKey: `demo:${type}` });
    }
  } finally {
    client.release();
  }
  // [file, hours since upload, size]: TTL is 24 h and notices go 6 h ahead.
  const uploads: [string, number, number][] = [
    ['demo/expired-report.pdf', 30, 48_213],
    ['demo/expired-photo.jpg', 26, 120_550],
    ['demo/expiring-invoice.pdf', 20, 9_812],
    ['demo/expiring-export.csv', 21, 3_300],
    ['demo/fresh-avatar.png', 1, 20_480],
    ['demo/fresh-notes.txt', 2, 512],
  ];
  await mkdir(join(DEMO_UPLOADS_DIR, 'demo'), { recursive: true });
  for (const [key, hours, size] of uploads) {
    await writeFile(join(DEMO_UPLOADS_DIR, key), Buffer.alloc(size, 1));
    await db.query(
      `INSERT INTO ${qualified(schema, 'uploads')} (storage_key, size_bytes, created_at) VALUES ($1, $2, now() - $3::int * interval '1 hour')`,
      [key, size, hours],
    );
  }
  // An expired upload whose file someone already removed: cleanup counts it missing.
  await db.query(
    `INSERT INTO ${qualified(schema, 'uploads')} (storage_key, size_bytes, created_at) VALUES ('demo/already-gone.bin', 777, now() - interval '40 hours')`,
  );
  await mkdir(LOCAL_DIR, { recursive: true });
  await writeFile(SEEDED_MARKER, new Date().toISOString());
  return true;
}

/** The demo endpoint's current secret, for the demo receiver to verify with. */
export async function demoSecret(db: Db, schema: SchemaName, receiverUrl: string, secrets: SecretBox): Promise<string | undefined> {
  const { rows } = await db.query<{ secret: string }>(
    `SELECT secret FROM ${qualified(schema, 'webhook_endpoints')} WHERE url = $1 ORDER BY id DESC LIMIT 1`,
    [receiverUrl],
  );
  return rows[0] && secrets.open(rows[0].secret);
}
