import { ChoresError } from '../shared/errors.js';
import { isJobName, jobNames, type JobName } from '../shared/jobs.js';

/** A `<job>` argument, checked against the registry. */
export function jobArgument(name: string): JobName {
  if (!isJobName(name)) throw new ChoresError(`unknown job "${name}" — jobs are: ${jobNames.join(', ')}`);
  return name;
}

/** A JSON-valued option (`--payload '{"a":1}'`); a parse error names the option. */
export function parseJsonOption(option: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ChoresError(`${option} is not valid JSON: ${(error as Error).message}`);
  }
}

/** `--set batchSize=100 --set dryRun=true` → `{ batchSize: 100, dryRun: true }`; values are JSON when they parse as JSON. */
export function parseSetOptions(pairs: string[]): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ChoresError(`--set expects key=value, got "${pair}"`);
    // An assignment to __proto__ would set the object's prototype instead of a key: dropped silently.
    if (pair.slice(0, eq) === '__proto__') throw new ChoresError('--set __proto__ is not a setting of any job; refusing it');
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // Not JSON: keep it as the string it was typed as.
    }
    settings[pair.slice(0, eq)] = value;
  }
  return settings;
}
