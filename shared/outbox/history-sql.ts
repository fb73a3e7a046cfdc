import { qualified, type SchemaName } from '../db/identifiers.js';
import type { Sql } from '../db/params.js';

/**
 * SQL of webhook operations: replay, and the read-only inspection behind `chores outbox events|show`
 * and `chores endpoints stats`. Delivery itself is in `sql.ts`.
 */
const t = (schema: SchemaName) => ({
  events: qualified(schema, 'outbox_events'),
  endpoints: qualified(schema, 'webhook_endpoints'),
  deliveries: qualified(schema, 'webhook_deliveries'),
  attempts: qualified(schema, 'webhook_attempts'),
});

export interface ReplayFilter {
  endpointId: string;
  /** Events created at or after this time. */
  since?: Date;
  /** Events created before this time. */
  until?: Date;
  eventId?: string;
  /** `failed` (the default) replays failed deliveries only; `all` also delivered ones. */
  status: 'failed' | 'all';
}

function replayStatuses(filter: ReplayFilter): string[] {
  return filter.status === 'all' ? ['failed', 'delivered'] : ['failed'];
}

const REPLAY_WHERE = `d.endpoint_id = $1::bigint AND d.status = ANY($2::text[])
  AND ($3::timestamptz IS NULL OR e.created_at >= $3::timestamptz)
  AND ($4::timestamptz IS NULL OR e.created_at < $4::timestamptz)
  AND ($5::bigint IS NULL OR d.event_id = $5::bigint)`;

function replayValues(filter: ReplayFilter): unknown[] {
  return [filter.endpointId, replayStatuses(filter), filter.since ?? null, filter.until ?? null, filter.eventId ?? null];
}

/** The deliveries a replay would put back in line (for `--dry-run`). */
export function selectReplayable(schema: SchemaName, filter: ReplayFilter): Sql {
  const { events, deliveries } = t(schema);
  return {
    text: `SELECT d.id::text, d.event_id::text, d.status FROM ${deliveries} d JOIN ${events} e ON e.id = d.event_id
      WHERE ${REPLAY_WHERE} ORDER BY d.event_id`,
    values: replayValues(filter),
  };
}

/**
 * Puts matching terminal deliveries back in line: pending, due now, and a fresh retry cycle
 * (`retry_base` moves up to `attempts`, which itself never goes back: it fences leases). Their
 * events are open again until the new attempts settle. History (attempts, last outcome) is kept.
 * Returns the replayed deliveries.
 */
export function replayDeliveries(schema: SchemaName, filter: ReplayFilter): Sql {
  const { events, deliveries } = t(schema);
  return {
    text: `WITH picked AS (
        SELECT d.id, d.event_id FROM ${deliveries} d JOIN ${events} e ON e.id = d.event_id
        WHERE ${REPLAY_WHERE}
        FOR UPDATE OF d
      ), replayed AS (
        UPDATE ${deliveries} d
        SET status = 'pending', next_attempt_at = now(), leased_until = NULL, completed_at = NULL, retry_base = d.attempts
        FROM picked WHERE d.id = picked.id
        RETURNING d.id, d.event_id
      ), reopened AS (
        UPDATE ${events} e SET status = 'fanned_out', completed_at = NULL
        WHERE e.id IN (SELECT event_id FROM replayed) AND e.status IN ('delivered', 'failed')
      )
      SELECT id::text, event_id::text FROM replayed ORDER BY event_id`,
    values: replayValues(filter),
  };
}

export function selectEndpoint(schema: SchemaName, id: string): Sql {
  return {
    text: `SELECT id::text, url, is_active, disabled_reason, failing_since FROM ${t(schema).endpoints} WHERE id = $1::bigint`,
    values: [id],
  };
}

export interface EventFilter {
  status?: string;
  type?: string;
  since?: Date;
  limit: number;
}

/** Recent events, newest first, with their deliveries counted by status. */
export function selectEvents(schema: SchemaName, filter: EventFilter): Sql {
  const { events, deliveries } = t(schema);
  return {
    text: `SELECT e.id::text, e.event_type, e.status, e.created_at, e.completed_at,
             count(d.id)::int AS deliveries,
             count(d.id) FILTER (WHERE d.status = 'delivered')::int AS delivered,
             count(d.id) FILTER (WHERE d.status = 'pending')::int AS pending,
             count(d.id) FILTER (WHERE d.status = 'failed')::int AS failed
      FROM ${events} e LEFT JOIN ${deliveries} d ON d.event_id = e.id
      WHERE ($1::text IS NULL OR e.status = $1::text)
        AND ($2::text IS NULL OR e.event_type = $2::text)
        AND ($3::timestamptz IS NULL OR e.created_at >= $3::timestamptz)
      GROUP BY e.id
      ORDER BY e.id DESC
      LIMIT $4::int`,
    values: [filter.status ?? null, filter.type ?? null, filter.since ?? null, filter.limit],
  };
}

export function selectEvent(schema: SchemaName, id: string): Sql {
  return {
    text: `SELECT id::text, event_type, status, idempotency_key, created_at, completed_at, payload
      FROM ${t(schema).events} WHERE id = $1::bigint`,
    values: [id],
  };
}

/** An event's deliveries, with their endpoint's URL. */
export function selectEventDeliveries(schema: SchemaName, eventId: string): Sql {
  const { deliveries, endpoints } = t(schema);
  return {
    text: `SELECT d.id::text, d.endpoint_id::text, w.url, d.status, d.attempts, d.next_attempt_at, d.last_attempt_at,
             d.last_status_code, d.last_error, d.completed_at
      FROM ${deliveries} d JOIN ${endpoints} w ON w.id = d.endpoint_id
      WHERE d.event_id = $1::bigint ORDER BY d.endpoint_id`,
    values: [eventId],
  };
}

export function selectEventAttempts(schema: SchemaName, eventId: string): Sql {
  const { attempts, deliveries } = t(schema);
  return {
    text: `SELECT a.delivery_id::text, a.attempt, a.trigger, a.outcome, a.started_at, a.duration_ms, a.status_code, a.error, a.response
      FROM ${attempts} a JOIN ${deliveries} d ON d.id = a.delivery_id
      WHERE d.event_id = $1::bigint ORDER BY a.delivery_id, a.attempt`,
    values: [eventId],
  };
}

/**
 * One endpoint's attempts since a time: counts by outcome, duration percentiles, the last error,
 * and its deliveries still waiting.
 */
export function endpointStats(schema: SchemaName, endpointId: string, since: Date): Sql {
  const { attempts, deliveries } = t(schema);
  return {
    text: `SELECT count(*)::int AS attempts,
             count(*) FILTER (WHERE outcome = 'delivered')::int AS delivered,
             count(*) FILTER (WHERE outcome = 'retry')::int AS retried,
             count(*) FILTER (WHERE outcome = 'failed')::int AS failed,
             count(*) FILTER (WHERE outcome = 'superseded')::int AS superseded,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50_ms,
             percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms,
             (SELECT row_to_json(last) FROM (
                SELECT started_at AS at, status_code AS "statusCode", error FROM ${attempts}
                WHERE endpoint_id = $1::bigint AND started_at >= $2::timestamptz AND error IS NOT NULL
                ORDER BY started_at DESC LIMIT 1) last) AS last_error,
             (SELECT count(*) FROM ${deliveries} WHERE endpoint_id = $1::bigint AND status = 'pending')::int AS pending
      FROM ${attempts} WHERE endpoint_id = $1::bigint AND started_at >= $2::timestamptz`,
    values: [endpointId, since],
  };
}
