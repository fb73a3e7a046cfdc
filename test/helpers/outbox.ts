import { afterAll } from 'vitest';
import { loadConfig } from '../../shared/config.js';
import type { Db } from '../../shared/db/pool.js';
import type { DeliveryDeps } from '../../shared/outbox/deliver.js';
import { WebhookSender } from '../../shared/outbox/http.js';
import { publish, type NewEvent } from '../../shared/outbox/publish.js';
import { UNLIMITED_BUDGET } from '../../shared/runtime/budget.js';
import { schema } from './db.js';

/** Delivery deps allowed to reach loopback over http, as the local stack is. */
export function outboxDeps(db: Db, url: string, env: Record<string, string> = {}): DeliveryDeps {
  const config = loadConfig({ DATABASE_URL: url, OUTBOX_ALLOW_HTTP: 'true', OUTBOX_ALLOWED_CIDRS: '127.0.0.1/32', ...env });
  const sender = new WebhookSender(config.outbox);
  afterAll(() => sender.close());
  return { db, schema, outbox: config.outbox, sender, budget: UNLIMITED_BUDGET };
}

export async function addTestEndpoint(db: Db, url: string, eventTypes: string[] = []): Promise<{ id: string; secret: string }> {
  const secret = `whsec_${Buffer.from(`secret-for-${url}-${Math.random()}`).toString('base64')}`;
  const { rows } = await db.query<{ id: string }>(
    'INSERT INTO chores.webhook_endpoints (url, secret, event_types) VALUES ($1, $2, $3) RETURNING id::text',
    [url, secret, eventTypes],
  );
  return { id: rows[0]!.id, secret };
}

export async function publishEvents(db: Db, events: NewEvent[]): Promise<string[]> {
  const client = await db.connect();
  try {
    const ids: string[] = [];
    for (const event of events) ids.push((await publish(client, schema, event)).id);
    return ids;
  } finally {
    client.release();
  }
}

export async function deliveryRows(db: Db) {
  const { rows } = await db.query(
    `SELECT d.id::text, d.event_id::text, d.endpoint_id::text, d.status, d.attempts, d.last_status_code, d.last_error,
            d.last_response, extract(epoch FROM d.next_attempt_at - now()) AS due_in_s
     FROM chores.webhook_deliveries d ORDER BY d.id`,
  );
  return rows;
}
