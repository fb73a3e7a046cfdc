import { ChoresError } from '../errors.js';

/** A manual-invoke payload that does not fit the job's settings schema. Nothing was run. */
export class InvalidPayloadError extends ChoresError {
  constructor(
    readonly job: string,
    readonly problems: string[],
  ) {
    super(`invalid payload for ${job}: ${problems.join('; ')}`);
  }
}
