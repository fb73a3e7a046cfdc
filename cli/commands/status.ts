import type { Command } from 'commander';
import { jobNames, runTaskName } from '../../shared/jobs.js';
import { latestRuns } from '../../shared/runtime/sql.js';
import { ago, printJson } from '../output.js';
import { withSession } from '../session.js';

interface RunRow {
  task_name: string;
  status: string;
  result: Record<string, unknown> | null;
  date_created: Date;
  date_done: Date | null;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("each job's last recorded run")
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      const rows = await withSession(async ({ db, config }) => {
        const { rows } = await db.query<RunRow>(latestRuns(config.schema, jobNames.map(runTaskName)));
        return rows;
      });
      const byTask = new Map(rows.map((row) => [row.task_name, row]));
      const report = jobNames.map((job) => {
        const run = byTask.get(runTaskName(job));
        return { job, lastRun: run ? { status: run.status, at: run.date_done ?? run.date_created, result: run.result } : null };
      });
      if (options.json) return printJson(report);
      for (const { job, lastRun } of report) {
        if (!lastRun) {
          console.log(`${job.padEnd(18)} never run`);
          continue;
        }
        // Counts only; timings are noise at a glance (jsonb also sorts keys, so sort them for a stable line).
        const counts = Object.entries(lastRun.result ?? {}).filter(([k, v]) => typeof v === 'number' && !k.endsWith('Ms')).sort();
        const summary = lastRun.status === 'FAILURE' ? String(lastRun.result?.exc_message ?? '') : counts.map(([k, v]) => `${k}=${v}`).join(' ');
        console.log(`${job.padEnd(18)} ${lastRun.status.padEnd(8)} ${ago(lastRun.at).padEnd(12)} ${summary}`);
      }
    });
}
