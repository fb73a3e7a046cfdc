// A namespace import, not { z }: esbuild then keeps only the parts used (the { z } object pulls in
// every locale, ~450 KB of each Lambda bundle).
import * as z from 'zod';
import { ConfigError } from './errors.js';
import { vetSchemaName, type SchemaName } from './db/identifiers.js';
import { DEFAULT_RULES_JSON, parseRules, type RetentionRule } from './results/rules.js';
import { parseStorageUrl, type StorageLocation } from './storage/url.js';
import { parseDuration } from './duration.js';
import { buildAllowList } from './outbox/ssrf.js';

/** Everything chores reads from its environment, validated once at start. */
export interface Config {
  databaseUrl: string;
  schema: SchemaName;
  results: {
    rules: RetentionRule[];
    archive?: StorageLocation;
  };
  outbox: OutboxConfig;
  uploads: {
    ttlHours: number;
    noticeHours: number;
    storage?: StorageLocation;
  };
}

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
}

/** Close to the Standard Webhooks example schedule. */
export const DEFAULT_RETRY_SCHEDULE = '5s,5m,30m,2h,5h,10h,14h,20h,24h';

const Env = z.object({
  DATABASE_URL: z
    .string({ error: 'is not set — give the Postgres connection string, e.g. postgres://user:pass@host:5432/app' })
    .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://'),
  CHORES_SCHEMA: z.string().default('chores'),
  RESULTS_RULES: z.string().default(DEFAULT_RULES_JSON),
  RESULTS_ARCHIVE_URL: z.string().optional(),
  OUTBOX_RETENTION_HOURS: z.coerce.number().positive().default(168),
  OUTBOX_DISPATCH_QUEUE_URL: z.url().optional(),
  OUTBOX_ALLOW_HTTP: z.enum(['true', 'false'], { error: 'must be true or false' }).default('false'),
  OUTBOX_ALLOWED_CIDRS: z.string().default(''),
  OUTBOX_RETRY_SCHEDULE: z.string().default(DEFAULT_RETRY_SCHEDULE),
  ENDPOINT_DISABLE_AFTER_HOURS: z.coerce.number().positive().default(120),
  OUTBOX_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(15_000),
  FILE_UPLOAD_TTL_HOURS: z.coerce.number().positive().default(24),
  // Six hours ahead: with the 24 h default TTL a wider window would notify at upload time, and the
  // hourly notify run then warns every upload 5–6 h before it goes, time enough to act on it.
  UPLOAD_NOTICE_HOURS: z.coerce.number().positive().default(6),
  UPLOADS_STORAGE_URL: z.string().optional(),
});

/**
 * Validates the environment into a typed `Config`. Every problem found is reported together,
 * each naming the variable to set.
 *
 * @example const config = loadConfig(process.env)
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = Env.safeParse(withoutBlanks(env));
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  const problems: string[] = [];
  const attempt = <T>(build: () => T): T | undefined => {
    try {
      return build();
    } catch (error) {
      if (error instanceof ConfigError) problems.push(...error.problems);
      else throw error;
      return undefined;
    }
  };
  const vars = parsed.data;
  const schema = attempt(() => vetSchemaName(vars.CHORES_SCHEMA));
  const rules = attempt(() => parseRules(vars.RESULTS_RULES));
  const archive = vars.RESULTS_ARCHIVE_URL
    ? attempt(() => parseStorageUrl(vars.RESULTS_ARCHIVE_URL!, 'RESULTS_ARCHIVE_URL'))
    : undefined;
  const uploadsStorage = vars.UPLOADS_STORAGE_URL
    ? attempt(() => parseStorageUrl(vars.UPLOADS_STORAGE_URL!, 'UPLOADS_STORAGE_URL'))
    : undefined;
  const allowedCidrs = list(vars.OUTBOX_ALLOWED_CIDRS);
  attempt(() => named('OUTBOX_ALLOWED_CIDRS', () => buildAllowList(allowedCidrs)));
  const retrySchedule = attempt(() => named('OUTBOX_RETRY_SCHEDULE', () => list(vars.OUTBOX_RETRY_SCHEDULE).map(parseDuration)));
  if (problems.length > 0 || !schema || !rules || !retrySchedule) throw new ConfigError(problems);
  return {
    databaseUrl: vars.DATABASE_URL,
    schema,
    results: { rules, ...(archive && { archive }) },
    outbox: {
      retentionHours: vars.OUTBOX_RETENTION_HOURS,
      ...(vars.OUTBOX_DISPATCH_QUEUE_URL && { dispatchQueueUrl: vars.OUTBOX_DISPATCH_QUEUE_URL }),
      allowHttp: vars.OUTBOX_ALLOW_HTTP === 'true',
      allowedCidrs,
      retrySchedule,
      disableAfterHours: vars.ENDPOINT_DISABLE_AFTER_HOURS,
      requestTimeoutMs: vars.OUTBOX_REQUEST_TIMEOUT_MS,
    },
    uploads: {
      ttlHours: vars.FILE_UPLOAD_TTL_HOURS,
      noticeHours: vars.UPLOAD_NOTICE_HOURS,
      ...(uploadsStorage && { storage: uploadsStorage }),
    },
  };
}

function list(text: string): string[] {
  return text.split(',').map((item) => item.trim()).filter(Boolean);
}

/** Turns a plain parse error into a ConfigError naming the variable. */
function named<T>(variable: string, build: () => T): T {
  try {
    return build();
  } catch (error) {
    throw new ConfigError([`${variable}: ${(error as Error).message}`]);
  }
}

// An empty variable (`RESULTS_RULES=`) means "unset" to most shells and deploy tools.
function withoutBlanks(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
}
