import { MAX_RETRY_AFTER_MS } from './backoff.js';
import { PayloadTooLargeError } from './errors.js';

// At most this many POSTs in flight per run: enough to saturate a Lambda's network without
// opening hundreds of sockets or flooding the database with outcomes.
export const GLOBAL_CONCURRENCY = 64;
// At most this many to any one endpoint (not origin), so a slow receiver holds its own slots and
// nobody else's, even another endpoint on the same host.
export const PER_ENDPOINT_CONCURRENCY = 8;
// The HTTP pool may open this many connections to one origin: as many as the run can have in
// flight, so the pool never queues a request. A queued request would spend its timeout waiting
// behind a hung endpoint on the same origin, and one sent late could arrive after we gave up on it.
export const CONNECTIONS_PER_ORIGIN = GLOBAL_CONCURRENCY;

// The default OUTBOX_MAX_PAYLOAD_BYTES: Svix and Stripe stay well under it, and 64 payloads of
// this size in flight cost a few tens of MB.
export const DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024;
// Payload bytes a run holds at once (claimed, waiting or in flight). A claim of 128 rows of 10 MB
// each took a process to 1.1 GB and killed it on every retry. A payload in flight is held about
// five times over (the row, its string, the body, the signed content, the request buffer), so this
// keeps a run's payloads under ~100 MB of a 300 MB heap whatever the rows hold. A single payload
// above it is still claimed, alone, so nothing is stuck behind it.
export const PAYLOAD_BYTES_IN_MEMORY = 16 * 1024 * 1024;

/**
 * Refuses a payload over the limit, naming the size, the limit and the variable that sets it.
 *
 * @example checkPayloadSize(Buffer.byteLength(json), config.outbox.maxPayloadBytes)
 */
export function checkPayloadSize(bytes: number, limit: number): void {
  if (bytes > limit) throw new PayloadTooLargeError(bytes, limit);
}

/** The `last_error` of an event whose stored payload is over the limit: it is failed, not sent. */
export function oversizedPayloadError(bytes: number, limit: number): string {
  return `payload is ${bytes} bytes, over OUTBOX_MAX_PAYLOAD_BYTES=${limit}; not sent (publish a smaller event, e.g. a reference to the data)`;
}

// The statuses whose Retry-After speaks for the whole endpoint ("too many requests", "unavailable"),
// as RFC 9110 and RFC 6585 define them; a 502/504 with one comes from a proxy and defers one delivery.
const PAUSING_STATUSES = new Set([429, 503]);

/**
 * How long an outcome pauses its endpoint (every pending delivery, not just this one), capped at a
 * day like any Retry-After; undefined when it does not pause it.
 *
 * @example pauseOf({ kind: 'throttled', status: 429, response: '', retryAfterMs: 3_600_000 }) // → 3600000
 */
export function pauseOf(outcome: { kind: string; status?: number; retryAfterMs?: number }): number | undefined {
  if (outcome.kind !== 'throttled' || !PAUSING_STATUSES.has(outcome.status ?? 0) || !outcome.retryAfterMs) return undefined;
  return Math.min(outcome.retryAfterMs, MAX_RETRY_AFTER_MS);
}
