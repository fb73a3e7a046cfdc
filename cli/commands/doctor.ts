import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Command } from 'commander';
import { diagnose } from '../../shared/runtime/doctor.js';
import { printJson } from '../output.js';
import { withSession } from '../session.js';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check the database, migrations, indexes, backlog and leases; with --aws (or AWS_REGION set) the schedules and DLQs too')
    .option('--aws', 'also check the deployed schedules and dead-letter queues')
    .option('--json', 'print the findings as JSON')
    .action(async (options: { aws?: boolean; json?: boolean }) => {
      const useAws = options.aws || Boolean(process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION);
      const aws = useAws
        ? { scheduler: new SchedulerClient({}), sqs: new SQSClient({}), prefix: process.env.CHORES_PREFIX ?? 'chores' }
        : undefined;
      // Not withSession's schema check: a schema that is behind is one of the findings.
      const findings = await withSession(({ db, config }) => diagnose(db, config.schema, aws, config.results, config.tables), {
        checkSchema: false,
      }).finally(() => {
        aws?.scheduler.destroy();
        aws?.sqs.destroy();
      });
      if (options.json) printJson(findings);
      else {
        for (const f of findings)
          console.log(
            `${{ ok: 'ok  ', warn: 'WARN', fail: 'FAIL' }[f.level]}  ${f.check.padEnd(12)} ${f.message}${f.fix ? `\n      → ${f.fix}` : ''}`,
          );
        if (!aws) console.log('      (AWS checks skipped: pass --aws or set AWS_REGION)');
      }
      if (findings.some((f) => f.level === 'fail')) process.exitCode = 1;
    });
}
