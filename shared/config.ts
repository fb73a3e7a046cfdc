import { type ConfigFragment, type Env, problemOf } from './config-fragment.js';
import { databaseFragment, schemaFragment } from './db/config.js';
import type { DatabaseConnection } from './db/connection.js';
import type { SchemaName } from './db/identifiers.js';
import { ConfigError } from './errors.js';
import { type OutboxConfig, outboxFragment } from './outbox/config.js';
import { type ResultsConfig, resultsFragment } from './results/config.js';
import { type TablesConfig, tablesFragment } from './tables/config.js';
import { type UploadsConfig, uploadsFragment } from './uploads/config.js';

// Each slice's type lives with its domain (so no domain imports this file); re-exported for callers.
export type { DatabaseConnection } from './db/connection.js';
export { DEFAULT_RETRY_SCHEDULE, type OutboxConfig } from './outbox/config.js';
export type { ResultsConfig } from './results/config.js';
export type { TablesConfig } from './tables/config.js';
export type { UploadsConfig } from './uploads/config.js';

/** Everything chores reads from its environment, validated once at start. */
export interface Config {
  database: DatabaseConnection;
  schema: SchemaName;
  results: ResultsConfig;
  outbox: OutboxConfig;
  uploads: UploadsConfig;
  /** tables-cleanup's policies (TABLE_RETENTION); archived rows go to RESULTS_ARCHIVE_URL. */
  tables: TablesConfig;
}

/** Which fragment builds each slice: the variables and their validation live with the domain. */
const FRAGMENTS: { [Slice in keyof Config]: ConfigFragment<Config[Slice]> } = {
  database: databaseFragment,
  schema: schemaFragment,
  results: resultsFragment,
  outbox: outboxFragment,
  uploads: uploadsFragment,
  tables: tablesFragment,
};

/**
 * Validates the environment into a typed `Config`. Every problem found, in every fragment, is
 * reported together, each naming the variable to set.
 *
 * @example const config = loadConfig(process.env)
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const vars = withoutBlanks(env);
  const problems: string[] = [];
  const slices: Partial<Record<keyof Config, unknown>> = {};
  for (const [slice, fragment] of Object.entries(FRAGMENTS) as [keyof Config, ConfigFragment<unknown>][]) {
    const parsed = fragment.safeParse(vars);
    if (parsed.success) slices[slice] = parsed.data;
    else problems.push(...parsed.error.issues.map(problemOf));
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return slices as Config;
}

// An empty variable (`RESULTS_RULES=`) means "unset" to most shells and deploy tools.
function withoutBlanks(env: Record<string, string | undefined>): Env {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
}
