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
