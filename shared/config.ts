// A namespace import, not { z }: esbuild then keeps only the parts used (the { z } object pulls in
// every locale, ~450 KB of each Lambda bundle).
import * as z from 'zod';
import { ConfigError } from './errors.js';
import type { DatabaseConnection } from './db/connection.js';
import { vetSchemaName, type SchemaName } from './db/identifiers.js';
import { connectionStringProblem, URL_CREDENTIALS_HINT } from './db/connection-string.js';
import { DEFAULT_RULES_JSON, parseRules, type RetentionRule } from './results/rules.js';
import { STORE_NAMES, type StoreName } from './results/stores.js';
import { parseStorageUrl, type StorageLocation } from './storage/url.js';
import { parseDuration } from './duration.js';
import { buildAllowList } from './outbox/ssrf.js';
import { parseTablePolicies, type TablePolicy } from './tables/policies.js';
import { DEFAULT_MAX_PAYLOAD_BYTES } from './outbox/limits.js';
import { parseSecretKeys, type SecretKey } from './outbox/secrets.js';

// Lives beside the pool, which needs it too: the pool importing config.ts closed an import cycle.
export type { DatabaseConnection } from './db/connection.js';

/** Everything chores reads from its environment, validated once at start. */
export interface Config {
  database: DatabaseConnection;
  schema: SchemaName;
  results: {
    rules: RetentionRule[];
    archive?: StorageLocation;
    /** Which result table results-cleanup cleans, and the schema it lives in. */
    store: StoreName;
    storeSchema: SchemaName;
    /** Set when RESULTS_STORE is Celery's Redis backend (`redis://…`) instead of a table. */
    redisUrl?: string;
  };
  outbox: OutboxConfig;
  uploads: {
    ttlHours: number;
    noticeHours: number;
    storage?: StorageLocation;
  };
  /** tables-cleanup's policies (TABLE_RETENTION); archived rows go to RESULTS_ARCHIVE_URL. */
  tables: { policies: TablePolicy[] };
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
  /** POSTs in flight to one endpoint per run (OUTBOX_ENDPOINT_CONCURRENCY). */
  endpointConcurrency: number;
  /** Largest event payload (its JSON, in bytes) accepted at publish and sent by delivery. */
  maxPayloadBytes: number;
  /** Keys webhook secrets are encrypted under, newest first (empty: none configured). */
  secretKeys: SecretKey[];
}

/** Close to the Standard Webhooks example schedule. */
export const DEFAULT_RETRY_SCHEDULE = '5s,5m,30m,2h,5h,10h,14h,20h,24h';

const Env = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
    .optional(),
  DATABASE_IAM_AUTH: z.enum(['true', 'false'], { error: 'must be true or false' }).default('false'),
  DATABASE_HOST: z.string().optional(),
  DATABASE_PORT: z.coerce.number().int().positive().default(5432),
  DATABASE_NAME: z.string().optional(),
  DATABASE_USER: z.string().optional(),
  AWS_REGION: z.string().optional(),
  CHORES_SCHEMA: z.string().default('chores'),
  RESULTS_RULES: z.string().default(DEFAULT_RULES_JSON),
  RESULTS_ARCHIVE_URL: z.string().optional(),
  RESULTS_STORE: z
    .union([z.enum(STORE_NAMES), z.string().regex(/^rediss?:\/\//)], {
      error: `must be one of ${STORE_NAMES.join(', ')}, or a redis:// URL`,
    })
    .default('chores'),
  RESULTS_STORE_SCHEMA: z.string().optional(),
  OUTBOX_RETENTION_HOURS: z.coerce.number().positive().default(168),
  OUTBOX_DISPATCH_QUEUE_URL: z
    .url({ error: 'must be the queue URL, e.g. https://sqs.eu-west-1.amazonaws.com/123456789012/chores-dispatch' })
    .optional(),
  OUTBOX_ALLOW_HTTP: z.enum(['true', 'false'], { error: 'must be true or false' }).default('false'),
  OUTBOX_ALLOWED_CIDRS: z.string().default(''),
  OUTBOX_RETRY_SCHEDULE: z.string().default(DEFAULT_RETRY_SCHEDULE),
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
  OUTBOX_SECRET_KEYS: z.string().default(''),
  FILE_UPLOAD_TTL_HOURS: z.coerce.number().positive().default(24),
  // Six hours ahead: with the 24 h default TTL a wider window would notify at upload time, and the
  // hourly notify run then warns every upload 5–6 h before it goes, time enough to act on it.
  UPLOAD_NOTICE_HOURS: z.coerce.number().positive().default(6),
  UPLOADS_STORAGE_URL: z.string().optional(),
  TABLE_RETENTION: z.string().default('[]'),
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
  const database = attempt(() => databaseConnection(vars));
  const redisProblem = isRedis(vars.RESULTS_STORE) ? redisUrlProblem(vars.RESULTS_STORE) : undefined;
  if (redisProblem) problems.push(`RESULTS_STORE: ${redisProblem}`);
  const schema = attempt(() => vetSchemaName(vars.CHORES_SCHEMA));
  const rules = attempt(() => parseRules(vars.RESULTS_RULES));
  // Celery's tables live where the app's ORM put them: `public` unless said otherwise.
  const storeSchema = attempt(() =>
    vetSchemaName(
      vars.RESULTS_STORE_SCHEMA ?? (vars.RESULTS_STORE === 'chores' || isRedis(vars.RESULTS_STORE) ? vars.CHORES_SCHEMA : 'public'),
      'RESULTS_STORE_SCHEMA',
    ),
  );
  const archive = vars.RESULTS_ARCHIVE_URL ? attempt(() => parseStorageUrl(vars.RESULTS_ARCHIVE_URL!, 'RESULTS_ARCHIVE_URL')) : undefined;
  const uploadsStorage = vars.UPLOADS_STORAGE_URL
    ? attempt(() => parseStorageUrl(vars.UPLOADS_STORAGE_URL!, 'UPLOADS_STORAGE_URL'))
    : undefined;
  const allowedCidrs = list(vars.OUTBOX_ALLOWED_CIDRS);
  attempt(() => named('OUTBOX_ALLOWED_CIDRS', () => buildAllowList(allowedCidrs)));
  const retrySchedule = attempt(() => named('OUTBOX_RETRY_SCHEDULE', () => list(vars.OUTBOX_RETRY_SCHEDULE).map(parseDuration)));
  const tablePolicies = attempt(() => parseTablePolicies(vars.TABLE_RETENTION));
  const archived = tablePolicies?.find((policy) => policy.archive);
  if (archived && !archive)
    problems.push(
      `TABLE_RETENTION: policy "${archived.label}" archives, but RESULTS_ARCHIVE_URL is not set — set it (s3://bucket/prefix or file:///dir) or drop "archive"`,
    );
  const secretKeys = attempt(() => named('OUTBOX_SECRET_KEYS', () => parseSecretKeys(vars.OUTBOX_SECRET_KEYS)));
  if (problems.length > 0 || !tablePolicies || !database || !schema || !rules || !retrySchedule || !storeSchema || !secretKeys)
    throw new ConfigError(problems);
  return {
    database,
    schema,
    results: {
      rules,
      ...(archive && { archive }),
      ...(isRedis(vars.RESULTS_STORE)
        ? { store: 'chores' as const, redisUrl: vars.RESULTS_STORE }
        : { store: vars.RESULTS_STORE as StoreName }),
      storeSchema,
    },
    outbox: {
      retentionHours: vars.OUTBOX_RETENTION_HOURS,
      ...(vars.OUTBOX_DISPATCH_QUEUE_URL && { dispatchQueueUrl: vars.OUTBOX_DISPATCH_QUEUE_URL }),
      allowHttp: vars.OUTBOX_ALLOW_HTTP === 'true',
      allowedCidrs,
      retrySchedule,
      disableAfterHours: vars.ENDPOINT_DISABLE_AFTER_HOURS,
      requestTimeoutMs: vars.OUTBOX_REQUEST_TIMEOUT_MS,
      endpointConcurrency: vars.OUTBOX_ENDPOINT_CONCURRENCY,
      maxPayloadBytes: vars.OUTBOX_MAX_PAYLOAD_BYTES,
      secretKeys,
    },
    uploads: {
      ttlHours: vars.FILE_UPLOAD_TTL_HOURS,
      noticeHours: vars.UPLOAD_NOTICE_HOURS,
      ...(uploadsStorage && { storage: uploadsStorage }),
    },
    tables: { policies: tablePolicies },
  };
}

function databaseConnection(vars: z.infer<typeof Env>): DatabaseConnection {
  if (vars.DATABASE_IAM_AUTH === 'true') {
    const missing = (['DATABASE_HOST', 'DATABASE_NAME', 'DATABASE_USER', 'AWS_REGION'] as const).filter((name) => !vars[name]);
    if (missing.length > 0) throw new ConfigError(missing.map((name) => `${name}: is not set — DATABASE_IAM_AUTH=true needs it`));
    return {
      kind: 'iam',
      host: vars.DATABASE_HOST!,
      port: vars.DATABASE_PORT,
      database: vars.DATABASE_NAME!,
      user: vars.DATABASE_USER!,
      region: vars.AWS_REGION!,
    };
  }
  if (!vars.DATABASE_URL) {
    throw new ConfigError([
      'DATABASE_URL: is not set — give the Postgres connection string, e.g. postgres://user:pass@host:5432/app (or DATABASE_IAM_AUTH=true with DATABASE_HOST)',
    ]);
  }
  const problem = connectionStringProblem(vars.DATABASE_URL);
  if (problem) throw new ConfigError([`DATABASE_URL: ${problem}`]);
  return { kind: 'url', url: vars.DATABASE_URL };
}

/** As `connectionStringProblem`, for the Redis result store; never repeats the URL (it may hold a password). */
function redisUrlProblem(url: string): string | undefined {
  if (url.includes('#')) return `has a "#", which ends a URL and cuts off the rest: ${URL_CREDENTIALS_HINT}`;
  try {
    new URL(url); // the parser @redis/client uses
    return undefined;
  } catch {
    return `is not a valid URL — expected redis://[:password@]host:6379/0; ${URL_CREDENTIALS_HINT}`;
  }
}

function isRedis(store: string): boolean {
  return /^rediss?:\/\//.test(store);
}

function list(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
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
