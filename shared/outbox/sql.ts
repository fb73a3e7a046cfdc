import { qualified, type SchemaName } from '../db/identifiers.js';
import type { Sql } from '../db/params.js';

const t = (schema: SchemaName) => ({
  events: qualified(schema, 'outbox_events'),
  endpoints: qualified(schema, 'webhook_endpoints'),
  deliveries: qualified(schema, 'webhook_deliveries'),
});

/** Inserts an event (its payload as JSON text); with an idempotency key already taken, returns nothing (see `eventByKey`). */
export function insertEvent(schema: SchemaName, event: { type: string; payloadJson: string; idempotencyKey?: string }): Sql {
  return {
    text: `INSERT INTO ${t(schema).events} (event_type, payload, idempotency_key)
      VALUES ($1::text, $2::text::jsonb, $3::text)
      ON CONFLICT (idempotency_key) DO NOTHING
      RETURNING id::text`,
    values: [event.type, event.payloadJson, event.idempotencyKey ?? null],
  };
}

export function eventByKey(schema: SchemaName, idempotencyKey: string): Sql {
  return { text: `SELECT id::text FROM ${t(schema).events} WHERE idempotency_key = $1::text`, values: [idempotencyKey] };
}

/**
 * Fans pending events out into one delivery per subscribed active endpoint (empty event_types
 * subscribes to all). An event no endpoint wants is complete at once. `eventIds` limits the
 * fan-out to those events (the fast path); otherwise the oldest pending go first.
 */
export function fanOut(schema: SchemaName, limit: number, eventIds?: string[]): Sql {
  const { events, endpoints, deliveries } = t(schema);
  return {
    text: `WITH ev AS (
        SELECT id, event_type FROM ${events}
        WHERE status = 'pending' ${eventIds ? 'AND id = ANY($2::bigint[])' : ''}
        ORDER BY id LIMIT $1::int FOR UPDATE SKIP LOCKED
      ), created AS (
        INSERT INTO ${deliveries} (event_id, endpoint_id)
        SELECT ev.id, w.id FROM ev JOIN ${endpoints} w
          ON w.is_active AND (cardinality(w.event_types) = 0 OR ev.event_type = ANY(w.event_types))
        ON CONFLICT (event_id, endpoint_id) DO NOTHING
        RETURNING event_id
      ), counted AS (
        -- Counted once, by a hash: a count per returned row scanned every created row (500² a batch).
        SELECT ev.id, count(created.event_id)::int AS deliveries
        FROM ev LEFT JOIN created ON created.event_id = ev.id GROUP BY ev.id
      )
      UPDATE ${events} e
      SET status = CASE WHEN counted.deliveries > 0 THEN 'fanned_out' ELSE 'delivered' END,
          completed_at = CASE WHEN counted.deliveries > 0 THEN NULL ELSE now() END
      -- By key, as an array, as well as joined: joined to the CTE alone, the planner hashed a scan of
      -- the whole events table for each batch.
      FROM counted WHERE e.id = ANY(ARRAY(SELECT id FROM ev)) AND e.id = counted.id
      RETURNING e.id::text, counted.deliveries`,
    values: eventIds ? [limit, eventIds] : [limit],
  };
}

export interface ClaimedDelivery {
  id: string;
  event_id: string;
  endpoint_id: string;
  attempts: number;
  /** Attempts made before this retry cycle (a replay starts a new one); backoff counts from here. */
  retry_base: number;
  /** When the endpoint's current run of failures began, if it is failing. */
  failing_since: Date | null;
  event_type: string;
  /** The payload's JSON, or null when it is over the limit: such a payload is never loaded. */
  payload: string | null;
  payload_bytes: number;
  created_at: Date;
  url: string;
  secret: string;
  previous_secret: string | null;
}

/**
 * Claims due deliveries under a lease: the row lock lasts only this statement, so no lock is held
 * across a POST, and a crashed run's deliveries fall due again when `leased_until` lapses.
 * `attempts` is incremented and is the lease's fencing token: only the holder of the current
 * attempt may record its outcome. Only unindexed columns change, so the claim can be a HOT update
 * and backoff (next_attempt_at) stays separate from leasing. A disabled endpoint's deliveries are
 * never claimed, so no run POSTs to it once the disable has committed.
 *
 * Memory is bounded by bytes as well as rows: rows are taken, oldest due first, while the payload
 * bytes before each stay under `byteBudget` (so the first always comes). A payload over
 * `maxPayloadBytes` is claimed without its text (it is failed, never sent) and costs nothing.
 * Endpoints paused by a Retry-After are skipped.
 */
export function claimDue(
  schema: SchemaName,
  options: { limit: number; leaseMs: number; eventIds?: string[]; excludeEndpoints: string[]; byteBudget: number; maxPayloadBytes: number },
): Sql {
  const { events, endpoints, deliveries } = t(schema);
  return {
    text: `WITH RECURSIVE candidates AS (
        -- As arrays, in claim order: the walk below takes the next one by subscript.
        SELECT array_agg(d.id ORDER BY d.next_attempt_at, d.id) AS ids, array_agg(d.event_id ORDER BY d.next_attempt_at, d.id) AS event_ids
        FROM (
          SELECT d.id, d.event_id, d.next_attempt_at FROM ${deliveries} d
          WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND (d.leased_until IS NULL OR d.leased_until <= now())
            ${options.eventIds ? 'AND d.event_id = ANY($6::bigint[])' : ''}
            AND d.endpoint_id <> ALL($3::bigint[])
            AND NOT EXISTS (SELECT 1 FROM ${endpoints} p WHERE p.id = d.endpoint_id AND p.paused_until > now())
          ORDER BY d.next_attempt_at
          LIMIT $1::int FOR UPDATE OF d SKIP LOCKED
        ) d
      ), due AS (
        -- Walks the candidates in order, sizing each payload only until the budget is spent:
        -- sizing means reading the payload, so rows past the budget are never read. The text read
        -- is the one sent (null when over the limit), so no payload is converted twice.
        SELECT 1 AS n, c.ids[1] AS id, s.bytes, s.body, s.counted AS running
        FROM candidates c,
             LATERAL (SELECT e.payload::text AS text FROM ${events} e WHERE e.id = c.event_ids[1]) b,
             LATERAL (SELECT octet_length(b.text) AS bytes) l,
             LATERAL (SELECT l.bytes, CASE WHEN l.bytes > $5::int THEN NULL ELSE b.text END AS body,
                             CASE WHEN l.bytes > $5::int THEN 0 ELSE l.bytes END AS counted) s
        UNION ALL
        SELECT due.n + 1, c.ids[due.n + 1], s.bytes, s.body, due.running + s.counted
        FROM due, candidates c,
             LATERAL (SELECT e.payload::text AS text FROM ${events} e WHERE e.id = c.event_ids[due.n + 1]) b,
             LATERAL (SELECT octet_length(b.text) AS bytes) l,
             LATERAL (SELECT l.bytes, CASE WHEN l.bytes > $5::int THEN NULL ELSE b.text END AS body,
                             CASE WHEN l.bytes > $5::int THEN 0 ELSE l.bytes END AS counted) s
        WHERE due.n < cardinality(c.ids) AND due.running < $4::bigint
      )
      UPDATE ${deliveries} d
      SET attempts = d.attempts + 1, leased_until = now() + $2::int * interval '1 millisecond'
      FROM due, ${events} e, ${endpoints} w
      -- By key, as an array, as well as joined: joined to the CTE alone, the planner hashed a scan
      -- of the whole table.
      WHERE d.id = ANY(ARRAY(SELECT id FROM due)) AND due.id = d.id AND e.id = d.event_id AND w.id = d.endpoint_id AND w.is_active
      RETURNING d.id::text, d.event_id::text, d.endpoint_id::text, d.attempts, d.retry_base, w.failing_since, e.event_type,
                due.body AS payload, due.bytes AS payload_bytes, e.created_at, w.url, w.secret,
                CASE WHEN w.previous_secret_expires_at > now() THEN w.previous_secret END AS previous_secret`,
    values: [
      options.limit,
      options.leaseMs,
      options.excludeEndpoints,
      options.byteBudget,
      options.maxPayloadBytes,
      ...(options.eventIds ? [options.eventIds] : []),
    ],
  };
}

/**
 * Pauses endpoints (a 429 or 503 with Retry-After) for the given milliseconds, never shortening a
 * pause already running, and moves their pending deliveries' next attempt to the pause's end, so
 * the due index skips them instead of every claim filtering them out.
 */
export function pauseEndpoints(schema: SchemaName, pauses: { id: string; ms: number }[]): Sql {
  const { endpoints, deliveries } = t(schema);
  return {
    text: `WITH paused AS (
        UPDATE ${endpoints} w
        SET paused_until = greatest(w.paused_until, now() + p.ms * interval '1 millisecond')
        FROM unnest($1::bigint[], $2::bigint[]) AS p(id, ms)
        WHERE w.id = p.id
        RETURNING w.id, w.paused_until
      )
      UPDATE ${deliveries} d SET next_attempt_at = paused.paused_until
      FROM paused
      WHERE d.endpoint_id = paused.id AND d.status = 'pending' AND d.next_attempt_at < paused.paused_until`,
    values: [pauses.map((p) => p.id), pauses.map((p) => p.ms)],
  };
}

export interface DeliveryResult {
  id: string;
  attempt: number;
  status: 'delivered' | 'pending' | 'failed';
  /** For `pending`: how long until the next attempt. */
  delayMs: number;
  statusCode: number | null;
  error: string | null;
  response: string | null;
}

/** One POST as `webhook_attempts` keeps it. */
export interface AttemptRecord {
  result: DeliveryResult;
  eventId: string;
  endpointId: string;
  startedAt: Date;
  durationMs: number;
}

export type AttemptTrigger = 'sweep' | 'fast-path' | 'replay';

// Each attempt row keeps this much of the response body: an error page's message, not a page.
// The delivery itself keeps the last response's first 4 KiB.
export const ATTEMPT_RESPONSE_CHARS = 512;

/**
 * Records many attempts in one statement, with everything that follows from them, so a flush of
 * outcomes is one round trip and one commit rather than three:
 * - each attempt's outcome is applied to its delivery if the lease is still ours (the attempt
 *   counter fences it), and every attempt gets its row in `webhook_attempts` either way
 *   (`superseded` when the lease had been lost), since each one was a POST the receiver may have seen;
 * - endpoint health (`health`: endpoints with a success, endpoints with a failure): a success
 *   clears `failing_since`, a failure starts it if it is not running; rows already in the right
 *   state are not touched, so a healthy endpoint's row is not rewritten (and locked) by every flush
 *   of every concurrent run;
 * - the events of the applied outcomes are completed when all their deliveries are settled.
 *
 * Returns the deliveries whose outcome was applied. `recheck` marks an event this statement could
 * not settle because another of its deliveries was pending when the statement began: a concurrent
 * run may be recording that one right now, unable to see ours either, so the caller completes such
 * events again after the commit (`completeEvents`), when both outcomes are visible.
 */
export function recordResults(
  schema: SchemaName,
  attempts: AttemptRecord[],
  trigger: AttemptTrigger,
  health: { succeeded: string[]; failed: string[] } = { succeeded: [], failed: [] },
): Sql {
  const { deliveries, events, endpoints } = t(schema);
  const results = attempts.map((a) => a.result);
  return {
    text: `WITH o AS (
        SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::bigint[], $5::int[], $6::text[], $7::text[],
                             $8::timestamptz[], $9::int[], $10::bigint[], $11::bigint[])
          AS o(id, attempt, status, delay_ms, code, error, response, started_at, duration_ms, event_id, endpoint_id)
      ), done AS (
        UPDATE ${deliveries} d
        SET status = o.status,
            next_attempt_at = CASE WHEN o.status = 'pending' THEN now() + o.delay_ms * interval '1 millisecond' ELSE d.next_attempt_at END,
            leased_until = NULL,
            last_attempt_at = o.started_at,
            last_status_code = o.code,
            last_error = o.error,
            last_response = o.response,
            completed_at = CASE WHEN o.status = 'pending' THEN NULL ELSE now() END
        FROM o
        -- By key, as an array, as well as joined: with the join alone the planner hashed a scan of
        -- every pending delivery for each flush.
        WHERE d.id = ANY($1::bigint[]) AND d.id = o.id AND d.attempts = o.attempt AND d.status = 'pending'
        RETURNING d.id, d.event_id, d.endpoint_id, d.status
      ), logged AS (
        INSERT INTO ${qualified(schema, 'webhook_attempts')}
          (delivery_id, attempt, event_id, endpoint_id, trigger, outcome, started_at, duration_ms, status_code, error, response)
        SELECT o.id, o.attempt, o.event_id, o.endpoint_id, $12::text,
               CASE WHEN done.id IS NULL THEN 'superseded' WHEN o.status = 'pending' THEN 'retry' ELSE o.status END,
               o.started_at, o.duration_ms, o.code, o.error, left(o.response, $13::int)
        FROM o LEFT JOIN done ON done.id = o.id
        -- A delivery deleted meanwhile (its endpoint removed by hand) has nowhere to keep history.
        WHERE done.id IS NOT NULL OR EXISTS (SELECT 1 FROM ${deliveries} x WHERE x.id = o.id)
        ON CONFLICT (delivery_id, attempt) DO NOTHING
      ), health AS (
        UPDATE ${endpoints}
        SET failing_since = CASE WHEN id = ANY($14::bigint[]) THEN NULL ELSE now() END
        WHERE (id = ANY($14::bigint[]) AND failing_since IS NOT NULL)
           OR (id = ANY($15::bigint[]) AND NOT id = ANY($14::bigint[]) AND failing_since IS NULL)
      ), settled AS (
        -- Every delivery of the touched events as this statement leaves it: the outcomes just
        -- applied, and the others as the snapshot shows them (it still shows done's rows as they
        -- were). Arrays rather than joins: done's row count is unknown to the planner, which then
        -- compared every delivery with every outcome.
        SELECT s.event_id, bool_or(s.status = 'failed') AS failed, bool_or(s.status = 'pending') AS open, bool_or(s.other) AS recheck
        FROM (
          SELECT done.event_id, done.status, false AS other FROM done
          UNION ALL
          SELECT d.event_id, d.status, d.status = 'pending' FROM ${deliveries} d
          WHERE d.event_id = ANY(ARRAY(SELECT event_id FROM done)) AND NOT d.id = ANY(ARRAY(SELECT id FROM done))
        ) s
        GROUP BY s.event_id
      ), closable AS (
        SELECT event_id, failed FROM settled WHERE NOT open
      ), completed AS (
        ${completeClosable(events, 'closable')}
      )
      SELECT id::text, event_id::text, endpoint_id::text, status,
             event_id = ANY(ARRAY(SELECT event_id FROM settled WHERE recheck)) AS recheck
      FROM done`,
    values: [
      results.map((r) => r.id),
      results.map((r) => r.attempt),
      results.map((r) => r.status),
      results.map((r) => r.delayMs),
      results.map((r) => r.statusCode),
      results.map((r) => r.error),
      results.map((r) => r.response),
      attempts.map((a) => a.startedAt),
      attempts.map((a) => a.durationMs),
      attempts.map((a) => a.eventId),
      attempts.map((a) => a.endpointId),
      trigger,
      ATTEMPT_RESPONSE_CHARS,
      health.succeeded,
      health.failed,
    ],
  };
}

/**
 * Events whose deliveries are all settled become delivered, or failed if any delivery failed.
 * The deliveries are read through the (event_id, endpoint_id) key, a few rows per event: asking
 * "is any pending?" per event instead let the planner walk the whole pending index for each one.
 */
export function completeEvents(schema: SchemaName, eventIds: string[]): Sql {
  const { events, deliveries } = t(schema);
  return {
    text: `WITH closable AS (
        SELECT d.event_id, bool_or(d.status = 'failed') AS failed
        FROM ${deliveries} d
        WHERE d.event_id = ANY($1::bigint[])
        GROUP BY d.event_id
        HAVING NOT bool_or(d.status = 'pending')
      )
      ${completeClosable(events, 'closable')}`,
    values: [eventIds],
  };
}

/**
 * The UPDATE that completes the events a CTE lists (`closable`: `event_id, failed` for events whose
 * deliveries are all settled): failed if one of them failed, else delivered. Keys as arrays rather
 * than a join: the planner, expecting a few rows, compared every event with every listed one (half
 * of a 128-outcome flush's time).
 */
function completeClosable(events: string, closable: string): string {
  return `UPDATE ${events} e
      SET status = CASE WHEN e.id = ANY(ARRAY(SELECT event_id FROM ${closable} WHERE failed)) THEN 'failed' ELSE 'delivered' END,
          completed_at = now()
      WHERE e.id = ANY(ARRAY(SELECT event_id FROM ${closable})) AND e.status = 'fanned_out'`;
}

/** Active endpoints among `ids` that have done nothing but fail for longer than `hours`. */
export function endpointsFailingTooLong(schema: SchemaName, ids: string[], hours: number): Sql {
  return {
    text: `SELECT id::text, url, failing_since FROM ${t(schema).endpoints}
      WHERE id = ANY($1::bigint[]) AND is_active AND failing_since < now() - $2::float8 * interval '1 hour'`,
    values: [ids, hours],
  };
}

/** Endpoints among `ids` no longer active: disabled (by hand, or by another run) since a run claimed their deliveries. */
export function inactiveEndpoints(schema: SchemaName, ids: string[]): Sql {
  return { text: `SELECT id::text FROM ${t(schema).endpoints} WHERE id = ANY($1::bigint[]) AND NOT is_active`, values: [ids] };
}

/**
 * Disables an endpoint and fails its pending deliveries (nothing will be sent to it), returning
 * the events those deliveries belonged to so they can be completed.
 */
export function disableEndpoint(schema: SchemaName, endpointId: string, reason: string): Sql {
  const { endpoints, deliveries } = t(schema);
  return {
    text: `WITH off AS (
        UPDATE ${endpoints} SET is_active = false, disabled_reason = $2::text, disabled_at = now()
        WHERE id = $1::bigint AND is_active RETURNING id
      )
      UPDATE ${deliveries} d
      SET status = 'failed', leased_until = NULL, completed_at = now(), last_error = 'endpoint disabled: ' || $2::text
      FROM off WHERE d.endpoint_id = off.id AND d.status = 'pending'
      RETURNING d.id::text, d.event_id::text`,
    values: [endpointId, reason],
  };
}

/**
 * Refreshes the planner's statistics of the events and deliveries tables: their row counts, and the
 * columns the outbox's statements filter, join and sort on. SKIP_LOCKED: a table a vacuum or another
 * analyze holds is skipped rather than waited for.
 *
 * Not the payloads: sampling and sorting 10,000 jsonb payloads was 47–70 ms of a 50–75 ms analyze
 * (10,000 events of ~40 bytes each; larger payloads cost more), and no plan looks at them. With
 * the list the analyze takes 12–19 ms. The other columns keep what autovacuum last computed.
 */
export function analyzeOutbox(schema: SchemaName): Sql {
  const { events, deliveries } = t(schema);
  return {
    text: `ANALYZE (SKIP_LOCKED) ${events} (id, status, completed_at),
      ${deliveries} (id, event_id, endpoint_id, status, next_attempt_at, leased_until)`,
    values: [],
  };
}

/** Work the next run would find: deliveries due now plus events not yet fanned out. */
export function countBacklog(schema: SchemaName): Sql {
  const { events, endpoints, deliveries } = t(schema);
  return {
    text: `SELECT (SELECT count(*) FROM ${deliveries} d
                   WHERE status = 'pending' AND next_attempt_at <= now() AND (leased_until IS NULL OR leased_until <= now())
                     AND NOT EXISTS (SELECT 1 FROM ${endpoints} p WHERE p.id = d.endpoint_id AND p.paused_until > now()))
                + (SELECT count(*) FROM ${events} WHERE status = 'pending') AS n`,
    values: [],
  };
}

/** Deletes up to `limit` terminal events completed before the cutoff; deliveries go by cascade. */
export function deleteTerminalEvents(schema: SchemaName, olderThanHours: number, limit: number): Sql {
  const { events } = t(schema);
  return {
    text: `DELETE FROM ${events} WHERE id IN (
        SELECT id FROM ${events}
        WHERE status IN ('delivered', 'failed') AND completed_at < now() - $1::float8 * interval '1 hour'
        ORDER BY completed_at LIMIT $2::int FOR UPDATE SKIP LOCKED)`,
    values: [olderThanHours, limit],
  };
}

export function countTerminalEvents(schema: SchemaName, olderThanHours: number): Sql {
  return {
    text: `SELECT count(*) AS n FROM ${t(schema).events}
      WHERE status IN ('delivered', 'failed') AND completed_at < now() - $1::float8 * interval '1 hour'`,
    values: [olderThanHours],
  };
}

/** Gives back claimed deliveries that were never attempted (the budget ran out first). */
export function releaseClaims(schema: SchemaName, claims: { id: string; attempt: number }[]): Sql {
  return {
    text: `UPDATE ${t(schema).deliveries} d
      SET attempts = d.attempts - 1, leased_until = NULL
      FROM unnest($1::bigint[], $2::int[]) AS c(id, attempt)
      WHERE d.id = c.id AND d.attempts = c.attempt AND d.status = 'pending'`,
    values: [claims.map((c) => c.id), claims.map((c) => c.attempt)],
  };
}

export function insertEndpoint(schema: SchemaName, endpoint: { url: string; secret: string; eventTypes: string[] }): Sql {
  return {
    text: `INSERT INTO ${t(schema).endpoints} (url, secret, event_types) VALUES ($1::text, $2::text, $3::text[]) RETURNING id::text`,
    values: [endpoint.url, endpoint.secret, endpoint.eventTypes],
  };
}

export function selectEndpoints(schema: SchemaName): Sql {
  return {
    text: `SELECT id::text, url, event_types, is_active, disabled_reason, failing_since, created_at FROM ${t(schema).endpoints} ORDER BY id`,
    values: [],
  };
}

/** Locks one endpoint row for a state change; an empty result means no such endpoint. */
export function lockEndpoint(schema: SchemaName, id: string): Sql {
  return { text: `SELECT url, is_active FROM ${t(schema).endpoints} WHERE id = $1::bigint FOR UPDATE`, values: [id] };
}

export function enableEndpointSql(schema: SchemaName, id: string): Sql {
  return {
    text: `UPDATE ${t(schema).endpoints} SET is_active = true, disabled_reason = NULL, disabled_at = NULL, failing_since = NULL WHERE id = $1::bigint`,
    values: [id],
  };
}

/** The current secret becomes the previous one, still signing until `overlapHours` from now. */
export function rotateEndpointSecret(schema: SchemaName, id: string, secret: string, overlapHours: number): Sql {
  return {
    text: `UPDATE ${t(schema).endpoints}
      SET previous_secret = secret, previous_secret_expires_at = now() + $3::int * interval '1 hour', secret = $2::text
      WHERE id = $1::bigint`,
    values: [id, secret, overlapHours],
  };
}

/** Committed events not yet fanned out, oldest first (the local stand-in for the dispatch queue). */
export function pendingEventIds(schema: SchemaName, limit: number): Sql {
  return { text: `SELECT id::text FROM ${t(schema).events} WHERE status = 'pending' ORDER BY id LIMIT $1::int`, values: [limit] };
}

/** Every endpoint's stored secrets, for `encryptSecrets` (a few thousand rows at most). */
export function selectEndpointSecrets(schema: SchemaName): Sql {
  return { text: `SELECT id::text, secret, previous_secret FROM ${t(schema).endpoints} ORDER BY id`, values: [] };
}

/** Replaces an endpoint's stored secrets only if they are still the ones read (no lost rotation). */
export function resealEndpointSecrets(
  schema: SchemaName,
  row: { id: string; secret: string; previousSecret: string | null; newSecret: string; newPreviousSecret: string | null },
): Sql {
  return {
    text: `UPDATE ${t(schema).endpoints} SET secret = $3::text, previous_secret = $5::text
      WHERE id = $1::bigint AND secret = $2::text AND previous_secret IS NOT DISTINCT FROM $4::text`,
    values: [row.id, row.secret, row.newSecret, row.previousSecret, row.newPreviousSecret],
  };
}
