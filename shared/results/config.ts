import * as z from '../zod.js'; // zod/mini, with English messages: see shared/zod.ts
import { fragment, parsedBy } from '../config-fragment.js';
import { DEFAULT_SCHEMA } from '../db/config.js';
import { URL_CREDENTIALS_HINT } from '../db/connection-string.js';
import { type SchemaName, vetSchemaName } from '../db/identifiers.js';
import { parseStorageUrl, type StorageLocation } from '../storage/url.js';
import { DEFAULT_RULES_JSON, parseRules, type RetentionRule } from './rules.js';
import { STORE_NAMES, type StoreName } from './stores.js';

/** `config.results`: what results-cleanup keeps, where it archives, and which store it cleans. */
export interface ResultsConfig {
  rules: RetentionRule[];
  archive?: StorageLocation;
  /** Which result table results-cleanup cleans, and the schema it lives in. */
  store: StoreName;
  storeSchema: SchemaName;
  /** Set when RESULTS_STORE is Celery's Redis backend (`redis://…`) instead of a table. */
  redisUrl?: string;
}

const ResultsVariables = z.object({
  // Read, not owned (shared/db/config.ts vets it): the native store's schema defaults to it.
  CHORES_SCHEMA: z._default(z.string(), DEFAULT_SCHEMA),
  RESULTS_RULES: parsedBy(z._default(z.string(), DEFAULT_RULES_JSON), (json) => parseRules(json)),
  RESULTS_ARCHIVE_URL: z.optional(parsedBy(z.string(), (url) => parseStorageUrl(url, 'RESULTS_ARCHIVE_URL'))),
  RESULTS_STORE: parsedBy(
    z._default(
      // One check, not a union: zod reported a union's failure as its last member's regex pattern.
      z.string().check(
        z.refine((store) => (STORE_NAMES as readonly string[]).includes(store) || isRedis(store), {
          error: `must be one of ${STORE_NAMES.join(', ')}, or a redis:// URL`,
        }),
      ),
      'chores',
    ),
    checkRedisUrl,
  ),
  RESULTS_STORE_SCHEMA: z.optional(parsedBy(z.string(), (name) => vetSchemaName(name, 'RESULTS_STORE_SCHEMA'))),
});

export const resultsFragment = fragment(
  ResultsVariables,
  (vars): ResultsConfig => ({
    rules: vars.RESULTS_RULES,
    ...(vars.RESULTS_ARCHIVE_URL && { archive: vars.RESULTS_ARCHIVE_URL }),
    ...(isRedis(vars.RESULTS_STORE)
      ? { store: 'chores' as const, redisUrl: vars.RESULTS_STORE }
      : { store: vars.RESULTS_STORE as StoreName }),
    // Celery's tables live where the app's ORM put them: `public` unless said otherwise.
    storeSchema:
      vars.RESULTS_STORE_SCHEMA ??
      vetSchemaName(vars.RESULTS_STORE === 'chores' || isRedis(vars.RESULTS_STORE) ? vars.CHORES_SCHEMA : 'public', 'RESULTS_STORE_SCHEMA'),
  }),
);

/** As `connectionStringProblem`, for the Redis result store; never repeats the URL (it may hold a password). */
function checkRedisUrl(store: string): string {
  if (!isRedis(store)) return store;
  if (store.includes('#')) throw new Error(`has a "#", which ends a URL and cuts off the rest: ${URL_CREDENTIALS_HINT}`);
  try {
    new URL(store); // the parser @redis/client uses
  } catch {
    throw new Error(`is not a valid URL — expected redis://[:password@]host:6379/0; ${URL_CREDENTIALS_HINT}`);
  }
  return store;
}

function isRedis(store: string): boolean {
  return /^rediss?:\/\//.test(store);
}
