import type { Command } from 'commander';
import { printJson } from '../output.js';
import { migrateAndSeal, withSession } from '../session.js';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply pending migrations to DATABASE_URL (or the embedded database)')
    .option('--json', 'print the result as JSON')
    .action(async (options: { json?: boolean }) => {
      // The schema check is what this command repairs, so it is skipped here.
      const { config, result } = await withSession(async ({ db, config }) => ({ config, result: await migrateAndSeal(db, config) }), {
        checkSchema: false,
      });
      if (options.json) printJson(result);
      else if (result.applied.length === 0) console.log(`schema "${config.schema}" is current (migration ${result.current})`);
      else console.log(`applied to schema "${config.schema}": ${result.applied.join(', ')}`);
      if (!options.json && result.secrets?.encrypted)
        console.log(`encrypted ${result.secrets.encrypted} plain-text endpoint secret(s) under key "${result.secrets.keyId}"`);
    });
}
