import type * as z from '../zod.js';
import { jobs, type JobName, type JobSettings } from '../jobs.js';
import { InvalidPayloadError } from './errors.js';

/**
 * Validates a manual or scheduled payload against the job's settings schema. Unknown keys are
 * refused (a typo such as `dryrun` must not silently run for real).
 */
export function parseSettings<Name extends JobName>(job: Name, payload: unknown): JobSettings<Name> {
  const input = payload ?? {};
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new InvalidPayloadError(job, [`expected a JSON object, got ${Array.isArray(input) ? 'an array' : typeof input}`]);
  }
  const parsed = (jobs[job].settings as z.ZodMiniType).safeParse(input);
  if (!parsed.success) {
    throw new InvalidPayloadError(
      job,
      parsed.error.issues.map((issue) =>
        issue.code === 'unrecognized_keys'
          ? // With its path: a typo inside `{"replay": {…}}` named only the key, as if it were top-level.
            `unknown setting ${issue.keys.map((k) => `"${[...issue.path, k].join('.')}"`).join(', ')}`
          : `${issue.path.join('.') || 'payload'}: ${issue.message}`,
      ),
    );
  }
  return parsed.data as JobSettings<Name>;
}
