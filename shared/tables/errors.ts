import { ChoresError } from '../errors.js';

export class TablesError extends ChoresError {}

/** A policy that does not fit the database it runs against (table, column, `where`, time zone). */
export class PolicyError extends TablesError {
  constructor(
    readonly label: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(`TABLE_RETENTION policy "${label}": ${problem}`, options);
  }
}
