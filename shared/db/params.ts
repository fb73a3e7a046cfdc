// Postgres' bigint, the type of every chores row id.
const BIGINT_MAX = 9_223_372_036_854_775_807n;

/**
 * Whether `text` is a row id `$n::bigint` accepts: digits within bigint. Checked where an id comes
 * in (an SQS body, a manual payload, a CLI argument), so one out of range is refused naming it
 * instead of failing the statement with Postgres' `value "…" is out of range for type bigint`.
 */
export function isRowId(text: string): boolean {
  return /^\d{1,19}$/.test(text) && BigInt(text) <= BIGINT_MAX;
}

/** A parameterised query, ready for `client.query(query)`. */
export interface Sql {
  text: string;
  values: unknown[];
}

/** Collects values for a SQL builder and hands back `$n::cast` placeholders in order. */
export class Params {
  readonly values: unknown[] = [];
  add(value: unknown, cast: string): string {
    this.values.push(value);
    return `$${this.values.length}::${cast}`;
  }
}
