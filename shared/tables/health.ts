import type { Db } from '../db/pool.js';
import { inspectPolicies } from './inspect.js';
import type { TablePolicy } from './policies.js';
import { tableHealth } from './sql.js';

/** The shape of a `chores doctor` finding (shared/runtime/doctor.ts), without depending upward on it. */
export interface HealthFinding {
  level: 'ok' | 'warn' | 'fail';
  check: string;
  message: string;
  fix?: string;
}

// A fifth of the live rows dead is where autovacuum's own default (scale factor 0.2) would have
// started: past it, autovacuum is not keeping up. Below a thousand dead rows a table is too small
// for the bloat to matter, and a VACUUM suggestion there would only be noise.
const DEAD_SHARE = 0.2;
const MIN_DEAD = 1_000;

/**
 * Suggests `VACUUM (ANALYZE)` for tables whose dead tuples pass a fifth of their live ones: the
 * rows cleanup deleted still take space and slow scans until vacuum reclaims them.
 *
 * @example await bloatFindings(db, ['"chores"."task_results"', '"public"."kombu_message"'])
 */
export async function bloatFindings(db: Db, relations: string[]): Promise<HealthFinding[]> {
  const findings: HealthFinding[] = [];
  for (const relation of new Set(relations)) {
    const {
      rows: [health],
    } = await db.query<{ bytes: string; dead: string; live: string }>(tableHealth(relation));
    if (!health) continue; // not there (yet): other checks say so
    const dead = Number(health.dead);
    const live = Number(health.live);
    if (dead >= MIN_DEAD && dead > live * DEAD_SHARE) {
      findings.push({
        level: 'warn',
        check: 'storage',
        message: `${relation} has ${dead} dead tuples against ${live} live (${(Number(health.bytes) / 1_048_576).toFixed(1)} MiB): autovacuum is not keeping up`,
        fix: `VACUUM (ANALYZE) ${relation};`,
      });
    }
  }
  return findings.length > 0
    ? findings
    : [{ level: 'ok', check: 'storage', message: 'no table has dead tuples past a fifth of its live ones' }];
}

/** Each TABLE_RETENTION policy checked against the database, with the access path a run would take now. */
export async function policyFindings(db: Db, policies: TablePolicy[]): Promise<HealthFinding[]> {
  const findings: HealthFinding[] = [];
  const {
    rows: [clock],
  } = await db.query<{ now: Date }>('SELECT now() AS now');
  for (const policy of policies) {
    try {
      const [target] = await inspectPolicies(db, [policy], new Map([[policy.label, new Date(clock!.now.getTime() - policy.keepMs)]]));
      const path = target!.path === 'heap' ? 'heap-order batches' : 'index walk';
      findings.push({
        level: 'ok',
        check: 'tables',
        message: `${policy.label} (${policy.schema}.${policy.table}): ${path}; ${target!.pathReason}`,
      });
    } catch (error) {
      findings.push({ level: 'fail', check: 'tables', message: (error as Error).message, fix: 'fix the policy in TABLE_RETENTION' });
    }
  }
  return findings;
}
