import { ChoresError } from '../errors.js';

/** The database was migrated by a newer chores: this version must not run against its schema. */
export class DatabaseAheadError extends ChoresError {
  constructor(
    readonly schema: string,
    /** `<id>_<name>` of each applied migration this version does not ship. */
    readonly unknown: string[],
  ) {
    super(
      `schema "${schema}" has migrations this version of chores does not know (${unknown.join(', ')}): ` +
        'a newer chores migrated it — upgrade chores to that version (or newer) before running it here',
    );
  }
}
