import type { AlarmRule } from './jobs.js';

export interface FiringAlarm extends AlarmRule {
  /** The stat's values over the runs that tripped it, newest first. */
  values: number[];
}

/**
 * The job's alarm rules that fire on its run history (newest first): a rule fires when its stat was
 * above the threshold in each of the last `runs` runs. The same rule CloudWatch applies to the EMF
 * metrics in the cloud, evaluated here for the local runner and `chores status`.
 *
 * @example firingAlarms(jobs['results-cleanup'].alarms, [{ remaining: 5 }, { remaining: 2 }]) // → [{ stat: 'remaining', … }]
 */
export function firingAlarms(rules: AlarmRule[], history: Record<string, unknown>[]): FiringAlarm[] {
  return rules.flatMap((rule) => {
    // A rising rule compares each run with the one before it, so it needs one run more.
    const depth = rule.runs + (rule.rising ? 1 : 0);
    const recent = history.slice(0, depth).map((stats) => stats[rule.stat]);
    const values = recent.filter((value): value is number => typeof value === 'number');
    if (values.length !== depth) return [];
    const watched = rule.rising ? values.slice(0, rule.runs).map((value, i) => value - values[i + 1]!) : values;
    return watched.every((value) => value > rule.above) ? [{ ...rule, values }] : [];
  });
}
