import type pg from 'pg';
import { inTransaction, type Db, type DbClient } from '../db/pool.js';
import type { SchemaName } from '../db/identifiers.js';
import type { DispatchReport, EventDispatcher } from './dispatch.js';
import { checkPayloadSize, DEFAULT_MAX_PAYLOAD_BYTES } from './limits.js';
import { eventByKey, insertEvent } from './sql.js';

export interface NewEvent {
  type: string;
  payload: unknown;
  /** Publishing the same key again returns the first event instead of creating another. */
  idempotencyKey?: string;
}

export interface PublishLimits {
  /** `config.outbox.maxPayloadBytes` (OUTBOX_MAX_PAYLOAD_BYTES); 256 KiB when not given. */
  maxPayloadBytes: number;
}

const DEFAULT_LIMITS: PublishLimits = { maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES };

export interface Published {
  id: string;
  /** False when the idempotency key already named an event. */
  created: boolean;
}

/**
 * Publishes an event inside the caller's transaction: it exists only if the caller commits. A
 * payload whose JSON is over `limits.maxPayloadBytes` is refused with `PayloadTooLargeError` before
 * anything is written, so the caller's transaction can carry on.
 *
 * @example
 * await client.query('BEGIN');
 * await client.query('UPDATE orders SET paid = true WHERE id = $1', [orderId]);
 * await publish(client, schema, { type: 'order.paid', payload: { orderId }, idempotencyKey: `order.paid:${orderId}` });
 * await client.query('COMMIT');
 */
export async function publish(client: pg.ClientBase, schema: SchemaName, event: NewEvent, limits = DEFAULT_LIMITS): Promise<Published> {
  const payloadJson = JSON.stringify(event.payload ?? {});
  checkPayloadSize(Buffer.byteLength(payloadJson), limits.maxPayloadBytes);
  const inserted = await client.query<{ id: string }>(insertEvent(schema, { ...event, payloadJson }));
  if (inserted.rows[0]) return { id: inserted.rows[0].id, created: true };
  // The key was taken. If a concurrent transaction held it, ON CONFLICT waited for its commit but
  // this statement's snapshot predates it, so the lookup is a separate statement.
  const existing = await client.query<{ id: string }>(eventByKey(schema, event.idempotencyKey!));
  return { id: existing.rows[0]!.id, created: false };
}

/**
 * Runs `work` in a transaction with a `publish` bound to it, commits, and then dispatches the
 * newly created events for immediate delivery. Dispatch failures are reported, not thrown: the
 * events are committed, and the sweep delivers them within a minute anyway.
 *
 * @example
 * const { dispatch } = await publishInTransaction(db, schema, dispatcher, async (tx, publish) => {
 *   await tx.query('INSERT INTO invoices …');
 *   await publish({ type: 'invoice.created', payload: { id } });
 * });
 */
export async function publishInTransaction<T>(
  db: Db,
  schema: SchemaName,
  dispatcher: EventDispatcher | undefined,
  work: (tx: DbClient, publish: (event: NewEvent) => Promise<Published>) => Promise<T>,
  limits = DEFAULT_LIMITS,
): Promise<{ result: T; published: Published[]; dispatch: DispatchReport }> {
  const published: Published[] = [];
  const result = await inTransaction(db, (tx) =>
    work(tx, async (event) => {
      const outcome = await publish(tx, schema, event, limits);
      published.push(outcome);
      return outcome;
    }),
  );
  const fresh = published.filter((p) => p.created).map((p) => p.id);
  const dispatch = dispatcher && fresh.length > 0 ? await dispatcher.dispatch(fresh) : { sent: 0, failed: [] };
  return { result, published, dispatch };
}
