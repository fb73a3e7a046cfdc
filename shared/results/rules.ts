import * as z from '../zod.js'; // zod/mini, with English messages: see shared/zod.ts
import { parseDuration } from '../duration.js';
import { ConfigError } from '../errors.js';

export const TASK_STATUSES = ['PENDING', 'STARTED', 'RETRY', 'SUCCESS', 'FAILURE', 'REVOKED'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** One retention rule, parsed. `keepMs` is null for `never`. */
export interface RetentionRule {
  label: string;
  task?: string;
  /** The task glob as a SQL LIKE pattern (`*` → `%`, `?` → `_`, LIKE metacharacters escaped). */
  taskLike?: string;
  status?: TaskStatus;
  keep: string;
  keepMs: number | null;
}

/** What teams replacing Celery's cleanup choose: REVOKED results go at once, the rest live 7 days. */
export const DEFAULT_RULES_JSON = '[{"status":"REVOKED","keep":"0s"},{"keep":"7d"}]';

// Task names are dotted Python paths in practice; anything outside this set is more likely a
// mistaken regex or shell glob ([abc], {a,b}) than a name, so it is refused rather than guessed at.
const GLOB = /^[A-Za-z0-9_.:\-/*?]+$/;

const RuleInput = z.strictObject({
  task: z.optional(z.string()),
  status: z.optional(z.enum(TASK_STATUSES)),
  keep: z.string(),
  label: z.optional(z.string().check(z.minLength(1))),
});

/** Parses a duration such as `0s`, `90m`, `36h`, `7d`, `2w`, or `never` (null). */
export function parseKeep(text: string): number | null {
  if (text === 'never') return null;
  try {
    return parseDuration(text);
  } catch (error) {
    throw new Error(`${(error as Error).message}, or "never"`);
  }
}

/**
 * A task glob's characters, validated once for both forms below: the table stores match rules in
 * SQL (LIKE), Celery's Redis backend in process (RegExp), and the two must agree on every name.
 */
function globChars(glob: string): string[] {
  if (!GLOB.test(glob)) {
    throw new Error(`bad task glob "${glob}" — use task-name characters with * and ? as the only wildcards`);
  }
  return [...glob];
}

/** The glob as a SQL LIKE pattern: `*` → `%`, `?` → `_`, LIKE metacharacters escaped. */
export function globToLike(glob: string): string {
  return globChars(glob)
    .map((c) => (c === '*' ? '%' : c === '?' ? '_' : c.replace(/[\\%_]/, '\\$&')))
    .join('');
}

/** The glob as an anchored RegExp matching exactly the names its LIKE pattern matches. */
export function globToRegExp(glob: string): RegExp {
  const source = globChars(glob)
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, 's');
}

/**
 * Parses `RESULTS_RULES`: an ordered JSON list, first match wins. Every problem names the rule
 * (by position and text) and the variable, so a bad deploy fails at start with something to fix.
 *
 * @example parseRules('[{"task":"audit.*","keep":"never"},{"keep":"7d"}]', 'RESULTS_RULES')
 */
export function parseRules(json: string, variable = 'RESULTS_RULES'): RetentionRule[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (error) {
    throw new ConfigError([`${variable}: not valid JSON (${(error as Error).message})`]);
  }
  if (!Array.isArray(raw)) throw new ConfigError([`${variable}: expected a JSON array of rules`]);

  const problems: string[] = [];
  const rules: RetentionRule[] = [];
  raw.forEach((item, index) => {
    const where = `${variable}[${index}] ${JSON.stringify(item)}`;
    const parsed = RuleInput.safeParse(item);
    if (!parsed.success) {
      problems.push(`${where}: ${parsed.error.issues.map(describeIssue).join(', ')}`);
      return;
    }
    try {
      const { task, status, keep } = parsed.data;
      rules.push({
        label: parsed.data.label ?? defaultLabel(parsed.data),
        ...(task !== undefined && { task, taskLike: globToLike(task) }),
        ...(status !== undefined && { status }),
        keep,
        keepMs: parseKeep(keep),
      });
    } catch (error) {
      problems.push(`${where}: ${(error as Error).message}`);
    }
  });
  const labels = rules.map((rule) => rule.label);
  for (const label of new Set(labels.filter((l, i) => labels.indexOf(l) !== i))) {
    problems.push(`${variable}: two rules share the label "${label}" — give one a distinct "label"`);
  }
  if (labels.includes('expires_at')) problems.push(`${variable}: the label "expires_at" is reserved`);
  if (problems.length > 0) throw new ConfigError(problems);
  return rules;
}

function defaultLabel(rule: { task?: string; status?: string; keep: string }): string {
  const parts = [rule.task && `task=${rule.task}`, rule.status && `status=${rule.status}`, `keep=${rule.keep}`];
  return parts.filter(Boolean).join(' ');
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys')
    return `unknown key ${issue.keys.map((k) => `"${k}"`).join(', ')} (allowed: task, status, keep, label)`;
  const path = issue.path.join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}
