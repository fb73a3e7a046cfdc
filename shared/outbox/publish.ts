import type pg from 'pg';
import { inTransaction, type Db, type DbClient } from '../db/pool.js';
import type { SchemaName } from '../db/identifiers.js';
import type { DispatchReport, EventDispatcher } from './dispatch.js';
import { hasPgCode, PgErrorCode } from '../db/pg-errors.js';
import { InvalidEventError } from './errors.js';
import { checkPayloadSize, DEFAULT_MAX_PAYLOAD_BYTES } from './limits.js';
import { eventByKey, insertEvent } from './sql.js';

export interface NewEvent {
  /** 1 to 200 characters, no control characters (see `EVENT_TYPE_RULE`). */
  type: string;
  /** The payload, serialised once with `JSON.stringify` (default `{}`). */
  payload?: unknown;
  /**
   * Or the payload as JSON text, stored as written: a number keeps every digit (12345678901234567891
   * stays that, where a JS number would round it). jsonb normalises whitespace, key order and
   * exponents (`1e3` is stored as `1000`), never a number's value.
   */
  payloadJson?: string;
  /** Publishing the same key again returns the first event instead of creating another. */
  idempotencyKey?: string;
}

// Long enough for any namespaced type (`billing.invoice.payment_failed`); short enough to sit in
// logs, metrics and receivers' routing tables. Migration 0007 holds SQL producers to the same rule.
export const MAX_EVENT_TYPE_LENGTH = 200;
export const EVENT_TYPE_RULE = `an event type is 1 to ${MAX_EVENT_TYPE_LENGTH} characters, with no control characters`;
// C0 controls, DEL and C1 controls: invisible in logs, and a newline in a type forges log lines.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

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
  checkEventType(event.type);
  const payloadJson = eventPayloadJson(event);
  checkPayloadSize(Buffer.byteLength(payloadJson), limits.maxPayloadBytes);
  const inserted = await client.query<{ id: string }>(insertEvent(schema, { ...event, payloadJson })).catch((error: unknown) => {
    const refused = [PgErrorCode.invalidTextRepresentation, PgErrorCode.numericValueOutOfRange, PgErrorCode.untranslatableCharacter];
    if (refused.some((code) => hasPgCode(error, code))) {
      throw new InvalidEventError(`payload refused by Postgres: ${(error as Error).message} — nothing was published`, { cause: error });
    }
    throw error;
  });
  if (inserted.rows[0]) return { id: inserted.rows[0].id, created: true };
  // The key was taken. If a concurrent transaction held it, ON CONFLICT waited for its commit but
  // this statement's snapshot predates it, so the lookup is a separate statement.
  const existing = await client.query<{ id: string }>(eventByKey(schema, event.idempotencyKey!));
  return { id: existing.rows[0]!.id, created: false };
}

/** Refuses an empty, over-long or control-character event type, saying the rule. */
export function checkEventType(type: string): void {
  if (typeof type === 'string' && type.length > 0 && type.length <= MAX_EVENT_TYPE_LENGTH && !CONTROL_CHARACTER.test(type)) return;
  const shown = typeof type === 'string' ? JSON.stringify(type.length > 40 ? `${type.slice(0, 40)}…` : type) : String(type);
  const length = typeof type === 'string' && type.length > MAX_EVENT_TYPE_LENGTH ? ` (${type.length} characters)` : '';
  throw new InvalidEventError(`invalid event type ${shown}${length}: ${EVENT_TYPE_RULE}`);
}

/** The payload as the JSON text to store: `payloadJson` as written (checked to be JSON), else `payload` serialised once. */
export function eventPayloadJson(event: Pick<NewEvent, 'payload' | 'payloadJson'>): string {
  if (event.payloadJson !== undefined && event.payload !== undefined) throw new InvalidEventError('give payload or payloadJson, not both');
  if (event.payloadJson !== undefined) {
    try {
      JSON.parse(event.payloadJson); // only to check it is JSON: the text, not this value, is stored
    } catch (error) {
      throw new InvalidEventError(`payload is not valid JSON: ${(error as Error).message}`);
    }
    return event.payloadJson;
  }
  try {
    return JSON.stringify(event.payload ?? {});
  } catch (error) {
    const why = (error as Error).message;
    throw new InvalidEventError(`payload cannot be serialised as JSON (${why}); pass exact numbers as payloadJson text`);
  }
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
