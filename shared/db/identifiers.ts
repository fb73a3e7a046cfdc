import { ConfigError } from '../errors.js';

// Only names that need no quoting rules of their own: the schema name is the one identifier we
// interpolate into SQL, so it is held to a pattern that cannot carry anything but a name.
const SAFE_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** A schema name that has been checked and can be interpolated into SQL as `"name"`. */
export type SchemaName = string & { readonly __vetted: 'schema' };

export function vetSchemaName(name: string, variable = 'CHORES_SCHEMA'): SchemaName {
  if (!SAFE_IDENTIFIER.test(name)) {
    throw new ConfigError([`${variable}: "${name}" is not a plain lower-case identifier (letters, digits, _; at most 63 characters)`]);
  }
  return name as SchemaName;
}

/** `"schema"."table"`, for SQL builders. */
export function qualified(schema: SchemaName, table: string): string {
  return `"${schema}"."${table}"`;
}
