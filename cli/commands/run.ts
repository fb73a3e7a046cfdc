import type { Command } from 'commander';
import { jobNames } from '../../shared/jobs.js';
import { formatStats, printJson, withProgress } from '../output.js';
import { jobArgument, parseSetOptions } from '../options.js';
import { withSession } from '../session.js';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description(`run a job here, against DATABASE_URL or the embedded database (jobs: ${jobNames.join(', ')})`)
    .argument('<job>', 'job name')
    .option('--dry-run', 'count what would change; change nothing')
    .option('--set <key=value...>', 'override a setting for this run (repeatable)', [])
    .option('--json', 'print only the stats object, as JSON')
    .action(async (job: string, options: { dryRun?: boolean; set: string[]; json?: boolean }) => {
      const name = jobArgument(job);
      const payload = { ...parseSetOptions(options.set), ...(options.dryRun && { dryRun: true }) };
      const outcome = await withSession(({ jobs }) => withProgress(`running ${name}`, jobs.run(name, payload)));
      if (options.json) printJson(outcome);
      else console.log(formatStats(outcome));
    });
}
