import { LambdaClient } from '@aws-sdk/client-lambda';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import type { Command } from 'commander';
import { jobNames } from '../../shared/jobs.js';
import { invokeJob, listSchedules, setScheduleState } from '../../shared/runtime/operate.js';
import { jobArgument, parseJsonOption } from '../options.js';
import { formatStats, printJson } from '../output.js';

/** `CHORES_PREFIX` names the deployed stack's parts (see shared/deploy-names.ts). */
const prefix = () => process.env.CHORES_PREFIX ?? 'chores';

export function registerAws(program: Command): void {
  program
    .command('invoke')
    .description('invoke a deployed job function (AWS credentials and region from the environment)')
    .argument('<job>', 'job name')
    .option('--payload <json>', 'settings for this run, as JSON', '{}')
    .option('--dry-run', 'shorthand for {"dryRun": true}')
    .option('--async', 'queue the invocation and return at once')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, options: { payload: string; dryRun?: boolean; async?: boolean; json?: boolean }) => {
      const payload = parseJsonOption('--payload', options.payload) as Record<string, unknown>;
      const lambda = new LambdaClient({});
      try {
        const result = await invokeJob(
          lambda,
          prefix(),
          jobArgument(name),
          { ...payload, ...(options.dryRun && { dryRun: true }) },
          options.async,
        );
        if (options.json || options.async) printJson(result);
        else console.log(formatStats(result as Record<string, unknown>));
      } finally {
        lambda.destroy();
      }
    });

  const schedules = program.command('schedules').description('the deployed EventBridge Scheduler schedules');
  schedules
    .command('list')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      const scheduler = new SchedulerClient({});
      try {
        const rows = await listSchedules(scheduler, prefix());
        if (options.json) return printJson(rows);
        for (const row of rows)
          console.log(
            `${row.job.padEnd(16)} ${row.state.padEnd(9)} ${row.expression} ${row.timezone}${row.known ? '' : '  (not a job of this version: redeploy to remove it)'}`,
          );
      } finally {
        scheduler.destroy();
      }
    });
  for (const [verb, state] of [
    ['pause', 'DISABLED'],
    ['resume', 'ENABLED'],
  ] as const) {
    schedules
      .command(verb)
      .argument('[job]', 'one job (default: all)')
      .description(`${verb} a job's schedule, or all of them`)
      .option('--json', 'print the schedules changed, as JSON')
      .action(async (name: string | undefined, options: { json?: boolean }) => {
        const scheduler = new SchedulerClient({});
        try {
          const changed = await setScheduleState(scheduler, prefix(), name ? [jobArgument(name)] : jobNames, state);
          if (options.json) printJson({ changed, state });
          else console.log(changed.length ? `${verb}d: ${changed.join(', ')}` : `nothing to ${verb}: already ${state.toLowerCase()}`);
        } finally {
          scheduler.destroy();
        }
      });
  }
}
