import { randomBytes } from 'node:crypto';
import type { Db } from '../db/pool.js';
import { inTransaction } from '../db/pool.js';
import type { SchemaName } from '../db/identifiers.js';
import { isRowId } from '../db/params.js';
import { EndpointNotFoundError } from './errors.js';
import { publish } from './publish.js';
import { SecretBox, type SecretKey } from './secrets.js';
import {
  completeEvents,
  disableEndpoint,
  enableEndpointSql,
  insertEndpoint,
  lockEndpoint,
  rotateEndpointSecret,
  selectEndpoints,
} from './sql.js';
import { checkUrl, type UrlPolicy } from './ssrf.js';

/** What registering an endpoint needs from `config.outbox`: the URL policy and the sealing keys. */
export interface EndpointPolicy extends UrlPolicy {
  secretKeys: SecretKey[];
}

// After a rotation the old secret keeps signing alongside the new one for this long, so a
// receiver can deploy the new secret without dropping a single webhook.
export const ROTATION_OVERLAP_HOURS = 24;

export interface Endpoint {
  id: string;
  url: string;
  event_types: string[];
  is_active: boolean;
  disabled_reason: string | null;
  failing_since: Date | null;
  created_at: Date;
}

/** A Standard Webhooks secret: `whsec_` and 24 random bytes, base64. */
export function generateSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/**
 * Registers an endpoint after checking its URL against the SSRF policy. The secret is stored
 * encrypted under the newest of `policy.secretKeys`; the plain secret is returned to be shown
 * once, and never logged.
 *
 * @example const { id, secret } = await addEndpoint(db, schema, config.outbox, { url: 'https://example.com/hooks', eventTypes: ['order.paid'] })
 */
export async function addEndpoint(
  db: Db,
  schema: SchemaName,
  policy: EndpointPolicy,
  input: { url: string; eventTypes: string[] },
): Promise<{ id: string; secret: string }> {
  checkUrl(input.url, policy);
  const secret = generateSecret();
  const sealed = new SecretBox(policy.secretKeys).seal(secret);
  const { rows } = await db.query<{ id: string }>(insertEndpoint(schema, { url: input.url, secret: sealed, eventTypes: input.eventTypes }));
  return { id: rows[0]!.id, secret };
}

export async function listEndpoints(db: Db, schema: SchemaName): Promise<Endpoint[]> {
  return (await db.query<Endpoint>(selectEndpoints(schema))).rows;
}

export async function enableEndpoint(db: Db, schema: SchemaName, id: string): Promise<void> {
  if (!isRowId(id)) throw new EndpointNotFoundError(id);
  const { rowCount } = await db.query(enableEndpointSql(schema, id));
  if (!rowCount) throw new EndpointNotFoundError(id);
}

/** New secret now (stored encrypted); the old one keeps co-signing for `ROTATION_OVERLAP_HOURS`. */
export async function rotateSecret(db: Db, schema: SchemaName, secretKeys: SecretKey[], id: string): Promise<{ secret: string }> {
  if (!isRowId(id)) throw new EndpointNotFoundError(id);
  const secret = generateSecret();
  const sealed = new SecretBox(secretKeys).seal(secret);
  const { rowCount } = await db.query(rotateEndpointSecret(schema, id, sealed, ROTATION_OVERLAP_HOURS));
  if (!rowCount) throw new EndpointNotFoundError(id);
  return { secret };
}

/**
 * Disables endpoints and fails their pending deliveries. When `announce` is set (automatic
 * disables), an `endpoint.disabled` event is published in the same transaction so the other
 * subscribers hear of it. Returns the endpoints actually disabled, the deliveries failed and
 * their events, for completion. `settings` go with each transaction's BEGIN (a delivery run's lock bound).
 */
export async function disableEndpoints(
  db: Db,
  schema: SchemaName,
  endpoints: { id: string; reason: string }[],
  announce = true,
  settings?: string,
): Promise<{ disabled: string[]; eventIds: string[]; deliveryIds: string[] }> {
  const disabled: string[] = [];
  const eventIds: string[] = [];
  const deliveryIds: string[] = [];
  for (const { id, reason } of endpoints) {
    await inTransaction(
      db,
      async (tx) => {
        const {
          rows: [endpoint],
        } = await tx.query<{ url: string; is_active: boolean }>(lockEndpoint(schema, id));
        if (!endpoint?.is_active) return; // already disabled, perhaps by a concurrent run
        const { rows } = await tx.query<{ id: string; event_id: string }>(disableEndpoint(schema, id, reason));
        eventIds.push(...rows.map((r) => r.event_id));
        deliveryIds.push(...rows.map((r) => r.id));
        disabled.push(id);
        if (announce) {
          // The origin only: a path may carry a token the other subscribers should not see.
          const origin = new URL(endpoint.url).origin;
          await publish(tx, schema, {
            type: 'endpoint.disabled',
            payload: { endpointId: id, origin, reason },
            idempotencyKey: `endpoint.disabled:${id}:${Date.now()}`,
          });
        }
      },
      settings,
    );
  }
  return { disabled, eventIds, deliveryIds };
}

/** `chores endpoints disable`: an operator's decision, so no announcement. */
export async function disableEndpointByHand(db: Db, schema: SchemaName, id: string, reason: string): Promise<void> {
  if (!isRowId(id)) throw new EndpointNotFoundError(id);
  const { rowCount } = await db.query(lockEndpoint(schema, id)); // outside a transaction: just a lookup
  if (!rowCount) throw new EndpointNotFoundError(id);
  const { eventIds } = await disableEndpoints(db, schema, [{ id, reason }], false);
  if (eventIds.length > 0) await db.query(completeEvents(schema, eventIds));
}
