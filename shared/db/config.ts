import * as z from '../zod.js'; // zod/mini, with English messages: see shared/zod.ts
import { fragment, parsedBy } from '../config-fragment.js';
import { ConfigError } from '../errors.js';
import { connectionStringProblem } from './connection-string.js';
import type { DatabaseConnection } from './connection.js';
import { type SchemaName, vetSchemaName } from './identifiers.js';

/** Where chores' own tables live unless CHORES_SCHEMA says otherwise. */
export const DEFAULT_SCHEMA = 'chores';

const IAM_NEEDS = ['DATABASE_HOST', 'DATABASE_NAME', 'DATABASE_USER', 'AWS_REGION'] as const;

const DatabaseVariables = z.object({
  DATABASE_URL: z.optional(z.string().check(z.regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://'))),
  DATABASE_IAM_AUTH: z._default(z.enum(['true', 'false'], { error: 'must be true or false' }), 'false'),
  DATABASE_HOST: z.optional(z.string()),
  DATABASE_PORT: z._default(z.coerce.number().check(z.int(), z.positive()), 5432),
  DATABASE_NAME: z.optional(z.string()),
  DATABASE_USER: z.optional(z.string()),
  AWS_REGION: z.optional(z.string()),
});

/** `config.database`: a connection string, or RDS IAM authentication (DATABASE_IAM_AUTH=true). */
export const databaseFragment = fragment(DatabaseVariables, (vars): DatabaseConnection => {
  if (vars.DATABASE_IAM_AUTH === 'true') {
    const missing = IAM_NEEDS.filter((name) => !vars[name]);
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
});

/** `config.schema`: the schema of every chores table, vetted once because it is interpolated into SQL. */
export const schemaFragment = fragment(
  z.object({
    CHORES_SCHEMA: parsedBy(z._default(z.string(), DEFAULT_SCHEMA), (name) => vetSchemaName(name)),
  }),
  (vars): SchemaName => vars.CHORES_SCHEMA,
);
