import * as z from '../zod.js'; // zod/mini, with English messages: see shared/zod.ts
import { parseDuration } from '../duration.js';
import { ConfigError } from '../errors.js';
import { wherePasteProblem } from './where.js';

export const PRESET_NAMES = ['kombu', 'django-sessions'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];
export const ACCESS_PATHS = ['heap', 'index'] as const;
/** How a policy's batches find rows: TID ranges in heap order, or a walk of an index on the timestamp. */
export type AccessPath = (typeof ACCESS_PATHS)[number];

/** One retention policy for one table, parsed and with its identifiers vetted. */
export interface TablePolicy {
  label: string;
  preset?: PresetName;
  schema: string;
  table: string;
  timestampColumn: string;
  keep: string;
  keepMs: number;
  /** The operator's own condition, checked by Postgres at the start of each run. */
  where?: string;
  /** The preset's condition, always applied (kombu: consumed messages only). */
  presetWhere?: string;
  /** How to read a `timestamp without time zone` column (IANA name). */
  naiveTimezone: string;
  archive: boolean;
  /** Forces an access path; chosen per run from the table's indexes and statistics otherwise. */
  path?: AccessPath;
  /** kombu only: the queue table whose names label the backlog. */
  queueTable?: string;
}

/**
 * What each preset fills in. kombu's SQLAlchemy transport never deletes a message: consuming one
 * sets `visible = false` and stamps `timestamp` (the consumer's local time); pending rows keep a
 * NULL timestamp, which never compares older than anything, and `visible = false` excludes them too.
 */
const PRESETS: Record<PresetName, { table: string; timestampColumn: string; keep: string; presetWhere?: string; queueTable?: string }> = {
  kombu: { table: 'kombu_message', timestampColumn: 'timestamp', keep: '1d', presetWhere: 'visible = false', queueTable: 'kombu_queue' },
  // Django's own clearsessions deletes rows past expire_date; so does this, in batches.
  'django-sessions': { table: 'django_session', timestampColumn: 'expire_date', keep: '0s' },
};

// Plain identifiers only (what Django, SQLAlchemy and hand-written DDL produce): anything needing
// quoting rules of its own is refused rather than escaped into SQL.
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

const PolicyInput = z.strictObject({
  preset: z.optional(z.enum(PRESET_NAMES)),
  table: z.optional(z.string()),
  timestampColumn: z.optional(z.string()),
  keep: z.optional(z.string()),
  where: z.optional(z.string().check(z.trim(), z.minLength(1))),
  label: z.optional(z.string().check(z.minLength(1), z.maxLength(100))),
  archive: z._default(z.boolean(), false),
  naiveTimezone: z._default(z.string().check(z.minLength(1)), 'UTC'),
  path: z.optional(z.enum(ACCESS_PATHS)),
  queueTable: z.optional(z.string()),
});

/**
 * Parses `TABLE_RETENTION`: an ordered JSON list of policies. Every problem names the policy (by
 * position and label) and the variable. What only the database can check (the table, the column's
 * type, the `where`) is checked at the start of each run (inspect.ts).
 *
 * @example parseTablePolicies('[{"preset":"kombu","keep":"1d"},{"table":"public.audit_log","timestampColumn":"created_at","keep":"30d"}]')
 */
export function parseTablePolicies(json: string, variable = 'TABLE_RETENTION'): TablePolicy[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (error) {
    throw new ConfigError([`${variable}: not valid JSON (${(error as Error).message})`]);
  }
  if (!Array.isArray(raw)) throw new ConfigError([`${variable}: expected a JSON list of policies, e.g. [{"preset":"kombu","keep":"1d"}]`]);
  const problems: string[] = [];
  const policies: TablePolicy[] = [];
  raw.forEach((item, index) => {
    const name = `${variable}[${index}]${typeof item?.label === 'string' ? ` ("${item.label}")` : ''}`;
    const parsed = PolicyInput.safeParse(item);
    if (!parsed.success) {
      problems.push(
        ...parsed.error.issues.map(
          (issue) =>
            `${name}: ${issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.join(', ')}` : `${issue.path.join('.')}: ${issue.message}`}`,
        ),
      );
      return;
    }
    try {
      policies.push(policyFrom(parsed.data));
    } catch (error) {
      problems.push(`${name}: ${(error as Error).message}`);
    }
  });
  const seen = new Set<string>();
  for (const policy of policies) {
    if (seen.has(policy.label)) problems.push(`${variable}: two policies are labelled "${policy.label}" — give each a distinct "label"`);
    seen.add(policy.label);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return policies;
}

function policyFrom(input: z.output<typeof PolicyInput>): TablePolicy {
  const preset = input.preset ? PRESETS[input.preset] : undefined;
  const tableText = input.table ?? preset?.table;
  const column = input.timestampColumn ?? preset?.timestampColumn;
  const keep = input.keep ?? preset?.keep;
  if (!tableText) throw new Error('"table" is required (or a "preset")');
  if (!column) throw new Error('"timestampColumn" is required (or a "preset")');
  if (!keep) throw new Error('"keep" is required, e.g. "30d"');
  if (input.queueTable !== undefined && input.preset !== 'kombu') throw new Error('"queueTable" belongs to the kombu preset only');
  const [schema, table] = tableText.includes('.') ? tableText.split('.', 2) : ['public', tableText];
  if (tableText.split('.').length > 2 || ![schema!, table!].every((part) => IDENTIFIER.test(part))) {
    throw new Error(`"table": "${tableText}" is not a plain identifier or schema.table (letters, digits, _)`);
  }
  for (const [what, name] of [
    ['timestampColumn', column],
    ['queueTable', input.queueTable],
  ] as const) {
    if (name !== undefined && !IDENTIFIER.test(name))
      throw new Error(`"${what}": "${name}" is not a plain identifier (letters, digits, _)`);
  }
  if (input.where) {
    const problem = wherePasteProblem(input.where);
    if (problem) throw new Error(`"where": ${problem}`);
  }
  if (!validTimeZone(input.naiveTimezone))
    throw new Error(`"naiveTimezone": "${input.naiveTimezone}" is not an IANA time zone (e.g. UTC, Europe/Berlin)`);
  return {
    label: input.label ?? input.preset ?? `${schema}.${table}`,
    ...(input.preset && { preset: input.preset }),
    schema: schema!,
    table: table!,
    timestampColumn: column,
    keep,
    keepMs: parseDuration(keep),
    ...(input.where && { where: input.where }),
    ...(preset?.presetWhere && { presetWhere: preset.presetWhere }),
    naiveTimezone: input.naiveTimezone,
    archive: input.archive,
    ...(input.path && { path: input.path }),
    ...(preset?.queueTable && { queueTable: input.queueTable ?? preset.queueTable }),
  };
}

function validTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
