import * as z from 'zod'; // a namespace import keeps Lambda bundles small: see shared/config-fragment.ts
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
  OUTBOX_RETENTION_HOURS: z.coerce.number().positive().default(168),
  OUTBOX_DISPATCH_QUEUE_URL: z
    .url({ error: 'must be the queue URL, e.g. https://sqs.eu-west-1.amazonaws.com/123456789012/chores-dispatch' })
    .optional(),
  OUTBOX_ALLOW_HTTP: z.enum(['true', 'false'], { error: 'must be true or false' }).default('false'),
  OUTBOX_ALLOWED_CIDRS: z
    .string()
    .default('')
    .transform(
      parsedBy((text: string) => {
        const cidrs = list(text);
        buildAllowList(cidrs); // refuses a malformed CIDR at start rather than at the first delivery
        return cidrs;
      }),
    ),
  OUTBOX_RETRY_SCHEDULE: z
    .string()
    .default(DEFAULT_RETRY_SCHEDULE)
    .transform(parsedBy((text: string) => list(text).map(parseDuration))),
  ENDPOINT_DISABLE_AFTER_HOURS: z.coerce.number().positive().default(120),
  OUTBOX_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(15_000),
  // 8 keeps one slow receiver from holding the run; a receiver built for more may take up to the
  // run's whole 64 (outbox-deliver's global limit).
  OUTBOX_ENDPOINT_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(8),
  OUTBOX_MAX_PAYLOAD_BYTES: z.coerce
    .number()
    .int()
    .min(1_024)
    .max(64 * 1024 * 1024)
    .default(DEFAULT_MAX_PAYLOAD_BYTES),
  OUTBOX_SECRET_KEYS: z.string().default('').transform(parsedBy(parseSecretKeys)),
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
