import type { Command } from 'commander';
import { DEMO_RESULTS, seedDemoOnce } from '../demo.js';
import { formatStats, printJson } from '../output.js';
import { runJobLocally } from '../run-job.js';
import { withSession } from '../session.js';

export function registerDev(program: Command): void {
  program
    .command('dev')
    .description('the local stack: embedded Postgres under .chores/, migrations, demo data on first run, then results-cleanup')
    .option('--json', 'print only the stats object, as JSON')
    .action(async (options: { json?: boolean }) => {
      const outcome = await withSession(async ({ db, config, target }) => {
        const say = (line: string) => !options.json && console.log(line);
        say(target.local ? `embedded Postgres ready (${target.url.replace(/:[^:@/]+@/, ':***@')})` : 'using DATABASE_URL');
        // Demo rows only ever go into the embedded database, never into one the user pointed us at.
        if (target.local && (await seedDemoOnce(db, config.schema))) say(`seeded ${DEMO_RESULTS} demo task results`);
        return runJobLocally('results-cleanup', {});
      });
      if (options.json) printJson(outcome);
      else console.log(formatStats(outcome));
    });
}
