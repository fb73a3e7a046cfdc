import * as z from '../zod.js'; // zod/mini, with English messages: see shared/zod.ts
import { fragment, parsedBy } from '../config-fragment.js';
import { parseDuration } from '../duration.js';
import { DEFAULT_MAX_PAYLOAD_BYTES } from './limits.js';
import { parseSecretKeys, type SecretKey } from './secrets.js';
import { buildAllowList } from './ssrf.js';

/** `config.outbox`: how webhooks are dispatched, delivered, retried and kept. */
export interface OutboxConfig {
  retentionHours: number;
  /** Where producers (and `chores outbox publish`) send `{"eventIds": [...]}` after commit. */
  dispatchQueueUrl?: string;
  allowHttp: boolean;
  allowedCidrs: string[];
  /** Delay before each retry, in ms; its length is the number of retries. */
  retrySchedule: number[];
  disableAfterHours: number;
  requestTimeoutMs: number;
  /** POSTs in flight to one endpoint per run (OUTBOX_ENDPOINT_CONCURRENCY). */
  endpointConcurrency: number;
  /** Largest event payload (its JSON, in bytes) accepted at publish and sent by delivery. */
  maxPayloadBytes: number;
  /** Keys webhook secrets are encrypted under, newest first (empty: none configured). */
  secretKeys: SecretKey[];
}

/** Close to the Standard Webhooks example schedule. */
export const DEFAULT_RETRY_SCHEDULE = '5s,5m,30m,2h,5h,10h,14h,20h,24h';

const OutboxVariables = z.object({
  OUTBOX_RETENTION_HOURS: z._default(z.coerce.number().check(z.positive()), 168),
  OUTBOX_DISPATCH_QUEUE_URL: z.optional(
    z.url({ error: 'must be the queue URL, e.g. https://sqs.eu-west-1.amazonaws.com/123456789012/chores-dispatch' }),
  ),
  OUTBOX_ALLOW_HTTP: z._default(z.enum(['true', 'false'], { error: 'must be true or false' }), 'false'),
  OUTBOX_ALLOWED_CIDRS: parsedBy(z._default(z.string(), ''), (text) => {
    const cidrs = list(text);
    buildAllowList(cidrs); // refuses a malformed CIDR at start rather than at the first delivery
    return cidrs;
  }),
  OUTBOX_RETRY_SCHEDULE: parsedBy(z._default(z.string(), DEFAULT_RETRY_SCHEDULE), (text) => list(text).map(parseDuration)),
  ENDPOINT_DISABLE_AFTER_HOURS: z._default(z.coerce.number().check(z.positive()), 120),
  OUTBOX_REQUEST_TIMEOUT_MS: z._default(z.coerce.number().check(z.int(), z.minimum(100), z.maximum(60_000)), 15_000),
  // 8 keeps one slow receiver from holding the run; a receiver built for more may take up to the
  // run's whole 64 (outbox-deliver's global limit).
  OUTBOX_ENDPOINT_CONCURRENCY: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(64)), 8),
  OUTBOX_MAX_PAYLOAD_BYTES: z._default(
    z.coerce.number().check(z.int(), z.minimum(1_024), z.maximum(64 * 1024 * 1024)),
    DEFAULT_MAX_PAYLOAD_BYTES,
  ),
  OUTBOX_SECRET_KEYS: parsedBy(z._default(z.string(), ''), parseSecretKeys),
});

export const outboxFragment = fragment(
  OutboxVariables,
  (vars): OutboxConfig => ({
    retentionHours: vars.OUTBOX_RETENTION_HOURS,
    ...(vars.OUTBOX_DISPATCH_QUEUE_URL && { dispatchQueueUrl: vars.OUTBOX_DISPATCH_QUEUE_URL }),
    allowHttp: vars.OUTBOX_ALLOW_HTTP === 'true',
    allowedCidrs: vars.OUTBOX_ALLOWED_CIDRS,
    retrySchedule: vars.OUTBOX_RETRY_SCHEDULE,
    disableAfterHours: vars.ENDPOINT_DISABLE_AFTER_HOURS,
    requestTimeoutMs: vars.OUTBOX_REQUEST_TIMEOUT_MS,
    endpointConcurrency: vars.OUTBOX_ENDPOINT_CONCURRENCY,
    maxPayloadBytes: vars.OUTBOX_MAX_PAYLOAD_BYTES,
    secretKeys: vars.OUTBOX_SECRET_KEYS,
  }),
);

function list(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}
