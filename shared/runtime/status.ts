import { firingAlarms, type FiringAlarm } from '../alarms.js';
import type { Db } from '../db/pool.js';
import type { SchemaName } from '../db/identifiers.js';
import { jobNames, jobs, runTaskName, type AlarmRule, type JobName } from '../jobs.js';
import { nextRun, parseSchedule } from '../schedule/expression.js';
import { failAbandoned } from './record-run.js';
import { recentRuns } from './sql.js';

// A run may start this late (Scheduler's own jitter, a cold start, a retry) before its absence
// counts as a missed heartbeat.
export const HEARTBEAT_SLACK_MS = 10 * 60_000;

export interface JobStatus {
  job: JobName;
  schedule: string;
  lastRun: { status: string; at: Date; stats: Record<string, unknown> | null } | null;
  /** When the next run was due after the last one. */
  dueAt: Date | null;
  /** The schedule should have fired since the last run and did not. */
  missed: boolean;
  alarms: FiringAlarm[];
}

/**
 * Each job's health from its run history in `task_results`: last run, whether a run is overdue,
 * and which alarm rules fire on its recent stats. Runs left STARTED past their job's timeout are
 * marked FAILURE first (see `failAbandoned`).
 *
 * @example const report = await jobStatuses(db, schema) // → [{ job: 'results-cleanup', missed: false, alarms: [], … }, …]
 */
export async function jobStatuses(db: Db, schema: SchemaName, now = new Date()): Promise<JobStatus[]> {
  // A run its dead process left STARTED would otherwise show as "running" forever.
  await failAbandoned(db, schema, jobNames, 'chores status');
  const depth = Math.max(
    1,
    ...Object.values(jobs).flatMap((job) => job.alarms.map((rule: AlarmRule) => rule.runs + (rule.rising ? 1 : 0))),
  );
  const { rows } = await db.query<{
    task_name: string;
    status: string;
    result: Record<string, unknown> | null;
    date_created: Date;
    date_done: Date | null;
  }>(recentRuns(schema, jobNames.map(runTaskName), depth));
  return jobNames.map((job) => {
    const runs = rows.filter((row) => row.task_name === runTaskName(job));
    const last = runs[0];
    const definition = jobs[job];
    const at = last ? (last.date_done ?? last.date_created) : null;
    const dueAt = at ? nextRun(parseSchedule(definition.schedule, definition.timezone), at) : null;
    const successes = runs.filter((run) => run.status === 'SUCCESS').map((run) => run.result ?? {});
    return {
      job,
      schedule: definition.schedule,
      lastRun: last && at ? { status: last.status, at, stats: last.result } : null,
      dueAt,
      missed: dueAt !== null && now.getTime() > dueAt.getTime() + HEARTBEAT_SLACK_MS,
      alarms: firingAlarms(definition.alarms, successes),
    };
  });
}
