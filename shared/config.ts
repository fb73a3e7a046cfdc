import { z } from 'zod';
import { ConfigError } from './errors.js';
import { vetSchemaName, type SchemaName } from './db/identifiers.js';
import { DEFAULT_RULES_JSON, parseRules, type RetentionRule } from './results/rules.js';
import { parseStorageUrl, type StorageLocation } from './storage/url.js';

/** Everything chores reads from its environment, validated once at start. */
export interface Config {
  databaseUrl: string;
  schema: SchemaName;
  results: {
    rules: RetentionRule[];
    archive?: StorageLocation;
  };
}

const Env = z.object({
  DATABASE_URL: z
    .string({ error: 'is not set — give the Postgres connection string, e.g. postgres://user:pass@host:5432/app' })
    .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://'),
  CHORES_SCHEMA: z.string().default('chores'),
  RESULTS_RULES: z.string().default(DEFAULT_RULES_JSON),
  RESULTS_ARCHIVE_URL: z.string().optional(),
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
  if (problems.length > 0 || !schema || !rules) throw new ConfigError(problems);
  return {
    databaseUrl: vars.DATABASE_URL,
    schema,
    results: { rules, ...(archive && { archive }) },
  };
}

// An empty variable (`RESULTS_RULES=`) means "unset" to most shells and deploy tools.
function withoutBlanks(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
}
