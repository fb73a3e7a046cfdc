import type { Command } from 'commander';
import { deployNames } from '../../shared/deploy-names.js';
import { jobStatuses } from '../../shared/runtime/status.js';
import { ago, countsLine, printJson } from '../output.js';
import { withSession } from '../session.js';

/** `CHORES_PREFIX` names the deployed stack's parts (see shared/deploy-names.ts). */
const prefix = () => process.env.CHORES_PREFIX ?? 'chores';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("each job's last run, whether a run was missed, and alarms firing")
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      const report = await withSession(({ db, config }) => jobStatuses(db, config.schema));
      if (options.json) return printJson(report);
      for (const { job, schedule, lastRun, dueAt, missed, alarms } of report) {
        if (!lastRun) {
          console.log(`${job.padEnd(16)} never run            ${schedule}`);
          continue;
        }
        const stats = lastRun.stats ?? {};
        // jsonb stores keys in its own order; sort them for a line that reads the same every time.
        const summary =
          lastRun.status === 'FAILURE' ? String(stats.exc_message ?? '') : countsLine(Object.fromEntries(Object.entries(stats).sort()));
        const heartbeat = missed ? `MISSED (due ${ago(dueAt!)})` : 'on schedule';
        console.log(`${job.padEnd(16)} ${lastRun.status.padEnd(8)} ${ago(lastRun.at).padEnd(11)} ${heartbeat.padEnd(24)} ${summary}`);
        if (lastRun.status === 'FAILURE')
          console.log(
            `${''.padEnd(16)} deployed, a failed scheduled run is kept with its error in ${deployNames(prefix()).failedRuns} (chores doctor --aws)`,
          );
        for (const alarm of alarms)
          console.log(`${''.padEnd(16)} ALARM ${alarm.stat} > ${alarm.above} for ${alarm.runs} run(s): ${alarm.why}`);
      }
    });
}
