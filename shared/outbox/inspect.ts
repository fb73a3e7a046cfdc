import type { Db } from '../db/pool.js';
import type { SchemaName } from '../db/identifiers.js';
import { isRowId } from '../db/params.js';
import { EndpointNotFoundError, OutboxError } from './errors.js';
import {
  endpointStats,
  selectEndpoint,
  selectEvent,
  selectEventAttempts,
  selectEventDeliveries,
  selectEvents,
  type EventFilter,
} from './history-sql.js';

export interface EventSummary {
  id: string;
  event_type: string;
  status: string;
  created_at: Date;
  completed_at: Date | null;
  deliveries: number;
  delivered: number;
  pending: number;
  failed: number;
}

/** Recent events, newest first, filtered by status, type and creation time. */
const EVENT_STATUSES = ['pending', 'fanned_out', 'delivered', 'failed'];

export async function listEvents(db: Db, schema: SchemaName, filter: EventFilter): Promise<EventSummary[]> {
  // A typo (`faild`) must not read as "no events match".
  if (filter.status !== undefined && !EVENT_STATUSES.includes(filter.status))
    throw new OutboxError(`--status must be one of ${EVENT_STATUSES.join(', ')}, got "${filter.status}"`);
  return (await db.query<EventSummary>(selectEvents(schema, filter))).rows;
}

export interface AttemptRow {
  delivery_id: string;
  attempt: number;
  trigger: string;
  outcome: string;
  started_at: Date;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  response: string | null;
}

export interface DeliveryDetail {
  id: string;
  endpoint_id: string;
  url: string;
  status: string;
  attempts: number;
  next_attempt_at: Date;
  last_attempt_at: Date | null;
  last_status_code: number | null;
  last_error: string | null;
  completed_at: Date | null;
  history: AttemptRow[];
}

export interface EventDetail {
  id: string;
  event_type: string;
  status: string;
  idempotency_key: string | null;
  created_at: Date;
  completed_at: Date | null;
  payload: unknown;
  deliveries: DeliveryDetail[];
}

/** One event, its deliveries, and every attempt of each. */
export async function showEvent(db: Db, schema: SchemaName, eventId: string): Promise<EventDetail> {
  if (!isRowId(eventId)) throw new OutboxError(`"${eventId}" is not an event id (a number) — see \`chores outbox events\``);
  const {
    rows: [event],
  } = await db.query<Omit<EventDetail, 'deliveries'>>(selectEvent(schema, eventId));
  if (!event) throw new OutboxError(`no outbox event with id ${eventId} (it may have been cleaned up) — see \`chores outbox events\``);
  const { rows: deliveries } = await db.query<Omit<DeliveryDetail, 'history'>>(selectEventDeliveries(schema, eventId));
  const { rows: attempts } = await db.query<AttemptRow>(selectEventAttempts(schema, eventId));
  return {
    ...event,
    deliveries: deliveries.map((d) => ({ ...d, history: attempts.filter((a) => a.delivery_id === d.id) })),
  };
}

export interface EndpointStats {
  endpointId: string;
  url: string;
  isActive: boolean;
  disabledReason: string | null;
  since: Date;
  /** POSTs made in the window; each is one of the four outcomes below. */
  attempts: number;
  delivered: number;
  retried: number;
  failed: number;
  superseded: number;
  /** delivered / attempts, or null with no attempts. */
  successRate: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  lastError: { at: string; statusCode: number | null; error: string } | null;
  failingSince: Date | null;
  /** Deliveries still waiting for this endpoint. */
  pending: number;
}

/**
 * An endpoint's health over a window, from its attempt history.
 *
 * @example await endpointStatistics(db, schema, '3', new Date(Date.now() - 86_400_000)) // → { attempts: 120, delivered: 118, … }
 */
export async function endpointStatistics(db: Db, schema: SchemaName, endpointId: string, since: Date): Promise<EndpointStats> {
  if (!isRowId(endpointId)) throw new EndpointNotFoundError(endpointId);
  const {
    rows: [endpoint],
  } = await db.query<{ url: string; is_active: boolean; disabled_reason: string | null; failing_since: Date | null }>(
    selectEndpoint(schema, endpointId),
  );
  if (!endpoint) throw new EndpointNotFoundError(endpointId);
  const {
    rows: [s],
  } = await db.query<{
    attempts: number;
    delivered: number;
    retried: number;
    failed: number;
    superseded: number;
    p50_ms: number | null;
    p95_ms: number | null;
    last_error: EndpointStats['lastError'];
    pending: number;
  }>(endpointStats(schema, endpointId, since));
  return {
    endpointId,
    url: endpoint.url,
    isActive: endpoint.is_active,
    disabledReason: endpoint.disabled_reason,
    since,
    attempts: s!.attempts,
    delivered: s!.delivered,
    retried: s!.retried,
    failed: s!.failed,
    superseded: s!.superseded,
    successRate: s!.attempts > 0 ? s!.delivered / s!.attempts : null,
    p50Ms: s!.p50_ms,
    p95Ms: s!.p95_ms,
    lastError: s!.last_error,
    failingSince: endpoint.failing_since,
    pending: s!.pending,
  };
}
